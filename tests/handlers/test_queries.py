"""GET /orders and GET /orders/{orderId}: the read model, each customer seeing only their own orders."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local_cloud.functions import LocalFunction
from tests.support import ALICES_ORDER, body, sample_event, with_header, with_query


def place_orders(place: LocalFunction, count: int) -> list[str]:
    ids = []
    for number in range(count):
        event = with_header(sample_event("place_order/valid.json"), "Idempotency-Key", f"list-test-{number}")
        ids.append(body(place.invoke(event))["orderId"])
    return ids


def list_page(list_orders: LocalFunction, **query: str) -> dict[str, Any]:
    response = list_orders.invoke(with_query(sample_event("list_orders/valid.json"), **query))
    assert response["statusCode"] == 200, response["body"]
    page: dict[str, Any] = body(response)
    return page


def test_an_order_is_readable_once_projected(
    function: Callable[[str], LocalFunction], project: Callable[[], list[Any]]
) -> None:
    placed = body(function("PlaceOrderFunction").invoke(sample_event("place_order/valid.json")))
    project()

    response = function("GetOrderFunction").invoke(sample_event("get_order/valid.json"))

    assert response["statusCode"] == 200
    assert body(response) == placed


def test_another_customer_reads_not_found_not_forbidden(
    function: Callable[[str], LocalFunction], project: Callable[[], list[Any]]
) -> None:
    function("PlaceOrderFunction").invoke(sample_event("place_order/valid.json"))
    project()

    response = function("GetOrderFunction").invoke(sample_event("get_order/other_customer.json"))

    assert response["statusCode"] == 404
    assert body(response) == {"message": f"order {ALICES_ORDER} not found"}


def test_orders_are_listed_newest_first_one_page_at_a_time(
    function: Callable[[str], LocalFunction], project: Callable[[], list[Any]]
) -> None:
    placed = place_orders(function("PlaceOrderFunction"), 5)
    project()
    list_orders = function("ListOrdersFunction")

    first = list_page(list_orders, limit="2")
    second = list_page(list_orders, limit="2", nextToken=first["nextToken"])
    third = list_page(list_orders, limit="2", nextToken=second["nextToken"])

    pages = [first, second, third]
    listed = [order["orderId"] for page in pages for order in page["orders"]]
    assert sorted(listed) == sorted(placed)
    created = [order["createdAt"] for page in pages for order in page["orders"]]
    assert created == sorted(created, reverse=True)
    assert [len(page["orders"]) for page in pages] == [2, 2, 1]
    assert third["nextToken"] is None


def test_a_page_token_is_bound_to_its_customer(
    function: Callable[[str], LocalFunction], project: Callable[[], list[Any]]
) -> None:
    place_orders(function("PlaceOrderFunction"), 2)
    project()
    list_orders = function("ListOrdersFunction")
    token = list_page(list_orders, limit="1")["nextToken"]
    bobs_request = with_query(sample_event("list_orders/other_customer.json"), limit="1", nextToken=token)

    response = list_orders.invoke(bobs_request)

    assert response["statusCode"] == 400
    assert "nextToken" in body(response)["message"]


def test_a_token_that_is_not_one_of_ours_is_a_bad_request(function: Callable[[str], LocalFunction]) -> None:
    list_orders = function("ListOrdersFunction")
    for token in ["%%%not-base64", "bm90IGpzb24", "W10"]:  # garbage, "not json", "[]"
        response = list_orders.invoke(with_query(sample_event("list_orders/valid.json"), nextToken=token))
        assert response["statusCode"] == 400, (token, json.loads(response["body"]))
