"""The outbox publisher: every stored event onto the bus, in the one envelope, and none lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from drivers.bus_tap import BusTap
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from orders.event_schemas import json_schema
from orders.events import EventType
from tests.support import ALICES_ORDER, sample_event


@pytest.fixture
def bus_tap(cloud: Cloud) -> Callable[[], list[dict[str, Any]]]:
    """What reaches the orders bus, read back through a catch-all rule."""
    return BusTap(cloud.physical_id("OrdersEventBus")).drain


@pytest.fixture
def publisher(function: Callable[[str], LocalFunction]) -> LocalFunction:
    return function("PublishEventsFunction")


def test_each_stored_event_is_published_in_the_envelope_and_matches_its_schema(
    function: Callable[[str], LocalFunction],
    publish: Callable[[], list[Any]],
    bus_tap: Callable[[], list[dict[str, Any]]],
) -> None:
    function("PlaceOrderFunction").invoke(sample_event("place_order/valid.json"))
    function("CancelOrderFunction").invoke(sample_event("cancel_order/valid.json"))

    assert publish() == [{"batchItemFailures": []}]

    published = sorted(bus_tap(), key=lambda event: event["detail"]["version"])
    assert [event["detail-type"] for event in published] == ["OrderPlaced", "OrderCancelled"]
    for event in published:
        envelope = event["detail"]
        assert envelope["type"] == event["detail-type"]
        assert envelope["orderId"] == ALICES_ORDER
        jsonschema.validate(envelope, json_schema(EventType(envelope["type"])))


def test_entries_the_bus_rejects_are_returned_for_retry_and_the_rest_published(
    publisher: LocalFunction, bus_tap: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = publisher.module.publisher._client
    put_events = client.put_events

    def first_entry_throttled(**request: Any) -> dict[str, Any]:
        response: dict[str, Any] = put_events(Entries=request["Entries"][1:])
        throttled = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
        return {"FailedEntryCount": 1, "Entries": [throttled, *response["Entries"]]}

    monkeypatch.setattr(client, "put_events", first_entry_throttled)
    placed, cancelled = sample_event("publish_events/stream_batch.json")["Records"]

    response = publisher.invoke({"Records": [placed, cancelled]})

    assert response == {"batchItemFailures": [{"itemIdentifier": placed["dynamodb"]["SequenceNumber"]}]}
    assert [event["detail-type"] for event in bus_tap()] == ["OrderCancelled"]


def test_a_redelivered_record_publishes_the_same_event_id_for_consumers_to_dedupe(
    publisher: LocalFunction, bus_tap: Callable[[], list[dict[str, Any]]]
) -> None:
    batch = sample_event("publish_events/stream_batch.json")
    publisher.invoke(batch)
    publisher.invoke(batch)

    ids = [event["detail"]["eventId"] for event in bus_tap()]
    assert len(ids) == 4
    assert len(set(ids)) == 2


def test_an_unreadable_record_is_retried_not_dropped(
    publisher: LocalFunction, bus_tap: Callable[[], list[dict[str, Any]]]
) -> None:
    response = publisher.invoke(sample_event("publish_events/unreadable_record.json"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "999000000000000000001"}]}
    assert len(bus_tap()) == 2
