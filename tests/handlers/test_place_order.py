"""POST /orders: one order per customer and Idempotency-Key, whatever is retried."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from orders.events import EventType
from orders.order import order_id_for
from tests.support import ALICE, ALICES_ORDER, BOB, body, item_count, sample_event, stored_events, table_sizes

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def place(function: Callable[[str], LocalFunction]) -> Invoke:
    return function("PlaceOrderFunction").invoke


def with_body(event: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {**event, "body": json.dumps(json.loads(event["body"]) | changes)}


def test_a_valid_order_is_placed_as_version_1_of_its_own_events(place: Invoke, cloud: Cloud) -> None:
    response = place(sample_event("place_order/valid.json"))

    assert response["statusCode"] == 201
    order = body(response)
    assert order["orderId"] == ALICES_ORDER == order_id_for(ALICE, "order-2026-11-22-0001")
    assert order["customerId"] == ALICE
    assert (order["status"], order["version"]) == ("PLACED", 1)
    [event] = stored_events(cloud, ALICES_ORDER)
    assert (event.type, event.version) == (EventType.ORDER_PLACED, 1)
    assert event.data["items"] == [{"sku": "SKU-RED-MUG", "quantity": 2}, {"sku": "SKU-BLUE-PLATE", "quantity": 1}]
    assert event.correlation_id == sample_event("place_order/valid.json")["requestContext"]["requestId"]


def test_a_replay_returns_the_first_response_and_places_nothing_more(place: Invoke, cloud: Cloud) -> None:
    first = place(sample_event("place_order/valid.json"))
    sizes = table_sizes(cloud)

    replay = place(sample_event("place_order/duplicate.json"))

    assert replay["statusCode"] == first["statusCode"] == 201
    assert body(replay) == body(first)
    assert table_sizes(cloud) == sizes
    assert len(stored_events(cloud, ALICES_ORDER)) == 1


def test_the_same_key_with_another_body_is_refused(place: Invoke, cloud: Cloud) -> None:
    place(sample_event("place_order/valid.json"))

    response = place(sample_event("place_order/same_key_other_body.json"))

    assert response["statusCode"] == 422
    assert "different request body" in body(response)["message"]
    [event] = stored_events(cloud, ALICES_ORDER)
    assert event.data["items"][0]["quantity"] == 2


def expire_idempotency_records(cloud: Cloud) -> None:
    """What DynamoDB's TTL does to the idempotency table after 24 hours."""
    dynamodb = boto3.client("dynamodb")
    table = cloud.physical_id("IdempotencyTable")
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


def test_after_the_idempotency_record_expires_the_key_still_names_one_order(place: Invoke, cloud: Cloud) -> None:
    first = place(sample_event("place_order/valid.json"))
    expire_idempotency_records(cloud)
    replay = place(sample_event("place_order/duplicate.json"))
    expire_idempotency_records(cloud)
    conflicting = place(sample_event("place_order/same_key_other_body.json"))

    assert replay["statusCode"] == 201
    assert body(replay) == body(first)
    assert conflicting["statusCode"] == 422
    assert len(stored_events(cloud, ALICES_ORDER)) == 1


def test_the_same_key_from_two_customers_places_two_orders(place: Invoke, cloud: Cloud) -> None:
    alice = sample_event("place_order/valid.json")
    bob = json.loads(json.dumps(alice))
    bob["requestContext"]["authorizer"]["claims"]["sub"] = BOB

    ids = {body(place(alice))["orderId"], body(place(bob))["orderId"]}

    assert len(ids) == 2
    assert item_count(cloud, "EventStoreTable") == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"items": []}, "body.items"),
        ({"items": [{"sku": "SKU-RED-MUG", "quantity": 101}]}, "body.items.0.quantity"),
        ({"items": [{"sku": "not a sku", "quantity": 1}]}, "body.items.0.sku"),
        ({"items": [{"sku": "SKU-RED-MUG", "quantity": 1}] * 51}, "body.items"),
        ({"currency": "dollars"}, "body.currency"),
        ({"customerId": "someone-else"}, "body.customerId"),
        (
            {"shippingAddress": {"name": "A", "line1": "B", "city": "C", "postalCode": "1"}},
            "body.shippingAddress.country",
        ),
    ],
)
def test_an_invalid_body_names_the_field_and_writes_nothing(
    place: Invoke, cloud: Cloud, changes: dict[str, Any], field: str
) -> None:
    response = place(with_body(sample_event("place_order/valid.json"), changes))

    assert response["statusCode"] == 422
    assert field in {error["field"] for error in body(response)["errors"]}
    assert table_sizes(cloud) == {"EventStoreTable": 0, "OrdersTable": 0, "IdempotencyTable": 0}


def test_the_customer_comes_from_the_token_never_from_the_body(place: Invoke, cloud: Cloud) -> None:
    event = with_body(sample_event("place_order/valid.json"), {"customerId": BOB})

    assert place(event)["statusCode"] == 422
    assert item_count(cloud, "EventStoreTable") == 0


def test_the_local_identity_header_is_ignored_outside_sam_local(place: Invoke, cloud: Cloud) -> None:
    response = place(sample_event("place_order/sam_local_identity.json"))

    assert response["statusCode"] == 401
    assert item_count(cloud, "EventStoreTable") == 0


def test_under_sam_local_the_header_stands_in_for_the_token(function: Callable[[str], LocalFunction]) -> None:
    place_order = function("PlaceOrderFunction")
    place_order.environment["AWS_SAM_LOCAL"] = "true"  # what `sam local` sets, and nothing else does

    response = place_order.invoke(sample_event("place_order/sam_local_identity.json"))

    assert response["statusCode"] == 201
    assert body(response)["customerId"] == ALICE


def test_a_retry_while_the_first_request_is_still_running_is_told_to_retry(place: Invoke, cloud: Cloud) -> None:
    place(sample_event("place_order/valid.json"))
    dynamodb = boto3.client("dynamodb")
    table = cloud.physical_id("IdempotencyTable")
    [record] = dynamodb.scan(TableName=table)["Items"]
    in_flight_until = str(int((time.time() + 60) * 1000))  # what Powertools writes when a request starts
    dynamodb.update_item(
        TableName=table,
        Key={"id": record["id"]},
        UpdateExpression="SET #status = :in_progress, in_progress_expiration = :until",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":in_progress": {"S": "INPROGRESS"}, ":until": {"N": in_flight_until}},
    )

    response = place(sample_event("place_order/duplicate.json"))

    assert response["statusCode"] == 409
    assert "still in progress" in body(response)["message"]
    assert len(stored_events(cloud, ALICES_ORDER)) == 1
