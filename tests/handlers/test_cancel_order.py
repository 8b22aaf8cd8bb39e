"""POST /orders/{orderId}/cancel: decided from the order's own events, appended with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from orders.event_store import EventStore
from orders.events import DomainEvent, EventType
from tests.support import ALICES_ORDER, body, sample_event, stored_events


@pytest.fixture
def cancel(function: Callable[[str], LocalFunction]) -> LocalFunction:
    function("PlaceOrderFunction").invoke(sample_event("place_order/valid.json"))
    return function("CancelOrderFunction")


def event_store(cloud: Cloud) -> EventStore:
    return EventStore(boto3.client("dynamodb"), cloud.physical_id("EventStoreTable"))


def saga_step(event_type: EventType, version: int) -> DomainEvent:
    """An event the fulfilment saga would append; here a stand-in for a concurrent writer."""
    return DomainEvent(type=event_type, order_id=ALICES_ORDER, version=version, correlation_id="saga", data={})


def history(cloud: Cloud) -> list[tuple[EventType, int]]:
    return [(event.type, event.version) for event in stored_events(cloud, ALICES_ORDER)]


def test_a_placed_order_is_cancelled_as_its_next_version(cancel: LocalFunction, cloud: Cloud) -> None:
    response = cancel.invoke(sample_event("cancel_order/valid.json"))

    assert response["statusCode"] == 200
    assert (body(response)["status"], body(response)["version"]) == ("CANCELLED", 2)
    assert history(cloud) == [(EventType.ORDER_PLACED, 1), (EventType.ORDER_CANCELLED, 2)]


def test_cancelling_twice_changes_nothing_the_second_time(cancel: LocalFunction, cloud: Cloud) -> None:
    first = cancel.invoke(sample_event("cancel_order/valid.json"))
    second = cancel.invoke(sample_event("cancel_order/valid.json"))

    assert second["statusCode"] == 200
    assert body(second) == body(first)
    assert len(history(cloud)) == 2


@pytest.mark.parametrize(
    "state_event", [EventType.SHIPMENT_ARRANGED, EventType.ORDER_COMPLETED, EventType.ORDER_FAILED]
)
def test_an_order_past_shipping_or_settled_cannot_be_cancelled(
    cancel: LocalFunction, cloud: Cloud, state_event: EventType
) -> None:
    event_store(cloud).append(saga_step(state_event, 2))

    response = cancel.invoke(sample_event("cancel_order/valid.json"))

    assert response["statusCode"] == 409
    assert "can no longer be cancelled" in body(response)["message"]
    assert len(history(cloud)) == 2


def test_another_customers_order_is_not_found_and_untouched(cancel: LocalFunction, cloud: Cloud) -> None:
    response = cancel.invoke(sample_event("cancel_order/other_customer.json"))

    assert response["statusCode"] == 404
    assert history(cloud) == [(EventType.ORDER_PLACED, 1)]


def test_a_concurrent_writer_makes_the_cancel_decide_again(
    cancel: LocalFunction, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The saga appends version 2 between the cancel's read and its write: the cancel reloads and becomes version 3."""
    store = cancel.module.store
    append = store.append
    raced: list[bool] = []

    def saga_wins_the_race(event: DomainEvent) -> None:
        if not raced:
            raced.append(True)
            append(saga_step(EventType.INVENTORY_RESERVED, 2))
        append(event)

    monkeypatch.setattr(store, "append", saga_wins_the_race)

    response = cancel.invoke(sample_event("cancel_order/valid.json"))

    assert response["statusCode"] == 200
    assert history(cloud) == [
        (EventType.ORDER_PLACED, 1),
        (EventType.INVENTORY_RESERVED, 2),
        (EventType.ORDER_CANCELLED, 3),
    ]


def test_a_concurrent_shipment_turns_the_cancel_into_a_conflict(
    cancel: LocalFunction, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = cancel.module.store
    append = store.append

    def shipment_wins_the_race(event: DomainEvent) -> None:
        if event.type is EventType.ORDER_CANCELLED and len(history(cloud)) == 1:
            append(saga_step(EventType.SHIPMENT_ARRANGED, 2))
        append(event)

    monkeypatch.setattr(store, "append", shipment_wins_the_race)

    response = cancel.invoke(sample_event("cancel_order/valid.json"))

    assert response["statusCode"] == 409
    assert history(cloud) == [(EventType.ORDER_PLACED, 1), (EventType.SHIPMENT_ARRANGED, 2)]


def test_a_writer_that_keeps_losing_gives_up_with_a_conflict(
    cancel: LocalFunction, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = cancel.module.store
    append = store.append
    versions = iter(range(2, 10))

    def always_beaten(event: DomainEvent) -> None:
        append(saga_step(EventType.PAYMENT_REQUESTED, next(versions)))
        append(event)

    monkeypatch.setattr(store, "append", always_beaten)

    response = cancel.invoke(sample_event("cancel_order/valid.json"))

    assert response["statusCode"] == 409
    assert "try again" in body(response)["message"]
    assert EventType.ORDER_CANCELLED not in {event_type for event_type, _ in history(cloud)}


def test_a_cancel_no_fulfilment_holds_makes_no_step_functions_client(
    cancel: LocalFunction, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a cancel whose order a fulfilment may still hold asks Step Functions: neither init nor the others make
    its client (a second client adds about 4% to a cold start)."""
    made: list[str] = []
    make = boto3.client

    def recording(service: str, *args: object, **kwargs: object) -> object:
        made.append(service)
        return make(service, *args, **kwargs)  # type: ignore[call-overload]  # any service, as asked

    monkeypatch.setattr(boto3, "client", recording)
    cancel.reload(cloud, None)  # a new execution environment: its init runs under the recording

    response = cancel.invoke(sample_event("cancel_order/valid.json"))

    assert response["statusCode"] == 200
    assert made == ["dynamodb"]
