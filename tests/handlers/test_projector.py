"""The projector: event store stream -> read model, newest version wins, nothing moves backward."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from orders.dynamodb import from_item
from orders.partial_batch import BatchFailed
from tests.support import ALICES_ORDER, lambda_raises, sample_event


@pytest.fixture
def projector(function: Callable[[str], LocalFunction]) -> LocalFunction:
    return function("ProjectOrdersFunction")


def view(cloud: Cloud) -> dict[str, Any] | None:
    item = boto3.client("dynamodb").get_item(
        TableName=cloud.physical_id("OrdersTable"), Key={"orderId": {"S": ALICES_ORDER}}, ConsistentRead=True
    )
    return from_item(item["Item"]) if "Item" in item else None


def records(path: str) -> list[dict[str, Any]]:
    return list(sample_event(path)["Records"])


def test_a_batch_builds_the_view_from_its_events(projector: LocalFunction, cloud: Cloud) -> None:
    response = projector.invoke(sample_event("project_orders/stream_batch.json"))

    assert response == {"batchItemFailures": []}
    current = view(cloud)
    assert current is not None
    assert (current["status"], current["version"], current["customerId"]) == (
        "CANCELLED",
        2,
        "3f1c6a2e-5b7d-4c1e-9f3a-2b8d7e6c5a41",
    )
    assert current["reason"] == "cancelled by customer"


def test_a_redelivered_batch_changes_nothing(projector: LocalFunction, cloud: Cloud) -> None:
    projector.invoke(sample_event("project_orders/stream_batch.json"))
    before = view(cloud)

    assert projector.invoke(sample_event("project_orders/stream_batch.json")) == {"batchItemFailures": []}
    assert view(cloud) == before


def test_a_stale_record_never_moves_the_order_backward(projector: LocalFunction, cloud: Cloud) -> None:
    projector.invoke(sample_event("project_orders/stream_batch.json"))

    assert projector.invoke(sample_event("project_orders/stale_record.json")) == {"batchItemFailures": []}
    current = view(cloud)
    assert current is not None
    assert (current["status"], current["version"]) == ("CANCELLED", 2)


def test_an_event_ahead_of_its_order_is_retried_until_the_order_exists(projector: LocalFunction, cloud: Cloud) -> None:
    placed, cancelled = records("project_orders/stream_batch.json")

    early = projector.invoke({"Records": [cancelled, placed]})
    retried = projector.invoke({"Records": [cancelled]})

    assert early == {"batchItemFailures": [{"itemIdentifier": cancelled["dynamodb"]["SequenceNumber"]}]}
    assert retried == {"batchItemFailures": []}
    current = view(cloud)
    assert current is not None
    assert current["status"] == "CANCELLED"


def test_a_batch_that_fails_entirely_is_a_function_error_so_lambda_retries_and_bisects(
    projector: LocalFunction, cloud: Cloud
) -> None:
    _, cancelled = records("project_orders/stream_batch.json")

    with lambda_raises(BatchFailed):
        projector.invoke({"Records": [cancelled]})
    assert view(cloud) is None


def test_a_poison_record_is_reported_and_the_rest_of_the_batch_applied(projector: LocalFunction, cloud: Cloud) -> None:
    placed, cancelled = records("project_orders/stream_batch.json")
    poison = copy.deepcopy(placed)
    poison["dynamodb"]["NewImage"]["type"] = {"S": "NotAnEvent"}
    poison["dynamodb"]["SequenceNumber"] = "555"

    response = projector.invoke({"Records": [placed, poison, cancelled]})

    assert response == {"batchItemFailures": [{"itemIdentifier": "555"}]}
    current = view(cloud)
    assert current is not None
    assert current["status"] == "CANCELLED"


def test_the_stream_mapping_delivers_what_the_api_wrote(
    function: Callable[[str], LocalFunction], project: Callable[[], list[Any]], cloud: Cloud
) -> None:
    function("PlaceOrderFunction").invoke(sample_event("place_order/valid.json"))
    function("CancelOrderFunction").invoke(sample_event("cancel_order/valid.json"))

    assert project() == [{"batchItemFailures": []}]
    current = view(cloud)
    assert current is not None
    assert (current["status"], current["version"]) == ("CANCELLED", 2)
