"""Notifications: one message per outcome event, however often the event arrives; bad records go to the DLQ."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger, Metrics

from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.queues import QueueMapping
from orders.analytics import sale_from
from orders.event_store import EventStore
from orders.events import DomainEvent, EventType
from orders.notifications import Notification, SandboxNotifier, format_amount, notification_for, parse_outcome
from orders.partial_batch import BatchFailed
from orders.wire import ContractViolation
from tests.support import ALICE, BOB, enqueue, failed_with

OUTCOME_DATA: dict[EventType, dict[str, Any]] = {
    EventType.ORDER_COMPLETED: {"customerId": ALICE, "amount": 2599, "currency": "EUR"},
    EventType.ORDER_FAILED: {"customerId": ALICE, "reason": "the card was declined", "error": "PaymentDeclined"},
    EventType.ORDER_CANCELLED: {"customerId": ALICE, "reason": "cancelled by customer"},
    EventType.ORDER_EXPIRED: {"customerId": ALICE, "reason": "payment did not arrive in time"},
}


def outcome(event_type: EventType, order_id: str = "order-1", **data: Any) -> DomainEvent:
    return DomainEvent(
        type=event_type,
        order_id=order_id,
        version=5,
        correlation_id="correlation-1",
        data=OUTCOME_DATA[event_type] | data,
    )


@dataclass
class RecordingNotifier:
    """Stands in for the sandbox notifier; `fail_times` sends fail first, as a channel that is briefly down."""

    sent: list[Notification] = field(default_factory=list)
    fail_times: int = 0

    def send(self, notification: Notification) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("the notification channel is unavailable")
        self.sent.append(notification)


@pytest.fixture
def notifier(function: Callable[[str], LocalFunction], monkeypatch: pytest.MonkeyPatch) -> RecordingNotifier:
    recording = RecordingNotifier()
    monkeypatch.setattr(function("SendNotificationsFunction").module, "notifier", recording)
    return recording


def bodies_in(cloud: Cloud, queue_logical_id: str) -> list[str]:
    messages = boto3.client("sqs").receive_message(QueueUrl=cloud.physical_id(queue_logical_id), MaxNumberOfMessages=10)
    return sorted(message["Body"] for message in messages.get("Messages", []))


def queue_is_empty(cloud: Cloud) -> bool:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=cloud.physical_id("NotificationsQueue"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


# ------------------------------------------------------------------ what the customer is told


@pytest.mark.parametrize(
    ("event_type", "subject", "says"),
    [
        (EventType.ORDER_COMPLETED, "Your order order-1 is complete", "25.99 EUR"),
        (EventType.ORDER_FAILED, "We could not complete your order order-1", "the card was declined"),
        (EventType.ORDER_CANCELLED, "Your order order-1 is cancelled", "cancelled by customer"),
        (EventType.ORDER_EXPIRED, "Your order order-1 has expired", "payment did not arrive in time"),
    ],
)
def test_each_outcome_has_its_message(event_type: EventType, subject: str, says: str) -> None:
    event = outcome(event_type)

    notification = notification_for(parse_outcome(json.dumps(event.envelope())))

    assert notification.subject == subject
    assert says in notification.text
    assert (notification.event_id, notification.order_id, notification.customer_id) == (
        event.event_id,
        "order-1",
        ALICE,
    )


def test_the_internal_error_name_is_not_shown_to_the_customer() -> None:
    notification = notification_for(parse_outcome(json.dumps(outcome(EventType.ORDER_FAILED).envelope())))

    assert "PaymentDeclined" not in notification.text


@pytest.mark.parametrize(
    ("amount", "currency", "shown"), [(2599, "EUR", "25.99 EUR"), (5, "USD", "0.05 USD"), (1200, "JPY", "1200 JPY")]
)
def test_amounts_are_shown_in_major_units(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({**outcome(EventType.ORDER_COMPLETED).envelope(), "type": "OrderPlaced"}),
        json.dumps({**outcome(EventType.ORDER_CANCELLED).envelope(), "data": {"reason": "no customer"}}),
        json.dumps(outcome(EventType.ORDER_COMPLETED, amount="25.99").envelope()),
        json.dumps(
            {key: value for key, value in outcome(EventType.ORDER_EXPIRED).envelope().items() if key != "eventId"}
        ),
    ],
    ids=["not-json", "not-an-outcome", "no-customer", "amount-as-text", "no-event-id"],
)
def test_a_body_that_is_not_an_outcome_event_is_refused(body: str) -> None:
    with pytest.raises((ContractViolation, json.JSONDecodeError)):
        parse_outcome(body)


def test_the_sandbox_notifier_logs_the_message_and_counts_it() -> None:
    written = io.StringIO()
    logger = Logger(service="sandbox-notifier-test", logger_handler=logging.StreamHandler(written))
    metrics = Metrics(namespace="OrderService")
    notifier = SandboxNotifier(logger, metrics)
    notification = notification_for(parse_outcome(json.dumps(outcome(EventType.ORDER_EXPIRED).envelope())))

    notifier.send(notification)
    emitted: dict[str, Any] = dict(metrics.serialize_metric_set())
    metrics.clear_metrics()  # Powertools keeps metrics process-wide; leave none for other tests

    (line,) = [json.loads(text) for text in written.getvalue().splitlines()]
    assert line["message"] == "notification sent (sandbox)"
    assert (line["customer_id"], line["subject"]) == (ALICE, "Your order order-1 has expired")
    assert emitted["NotificationsSent"] == [1.0]


# ------------------------------------------------------------------ through the queue


def test_every_outcome_notifies_its_customer_and_leaves_the_queue(
    cloud: Cloud, notifications: QueueMapping, notifier: RecordingNotifier
) -> None:
    events = [outcome(event_type, order_id=f"order-{i}") for i, event_type in enumerate(OUTCOME_DATA)]
    events.append(outcome(EventType.ORDER_COMPLETED, order_id="order-bob", customerId=BOB))
    enqueue(cloud, "NotificationsQueue", *(json.dumps(event.envelope()) for event in events))

    invocations = notifications.deliver()

    assert [invocation.response for invocation in invocations] == [{"batchItemFailures": []}]
    assert sorted(n.event_id for n in notifier.sent) == sorted(event.event_id for event in events)
    assert {n.order_id: n.customer_id for n in notifier.sent}["order-bob"] == BOB
    assert queue_is_empty(cloud)


def test_a_redelivered_event_notifies_once(
    cloud: Cloud, notifications: QueueMapping, notifier: RecordingNotifier
) -> None:
    body = json.dumps(outcome(EventType.ORDER_COMPLETED).envelope())
    enqueue(cloud, "NotificationsQueue", body, body)  # SNS delivers at least once: the same event, twice in one batch
    first = notifications.deliver()
    enqueue(cloud, "NotificationsQueue", body)  # and once more, later
    again = notifications.deliver()

    assert [invocation.failed for invocation in first + again] == [(), ()]
    assert len(notifier.sent) == 1
    assert queue_is_empty(cloud)


def test_a_poison_record_fails_alone_and_ends_in_the_dead_letter_queue(
    cloud: Cloud, notifications: QueueMapping, notifier: RecordingNotifier
) -> None:
    valid = [json.dumps(outcome(event_type).envelope()) for event_type in OUTCOME_DATA]
    poison = json.dumps({**outcome(EventType.ORDER_COMPLETED).envelope(), "type": "OrderShipped"})
    *valid_ids, poison_id = enqueue(cloud, "NotificationsQueue", *valid, poison)

    invocations = notifications.deliver()

    assert set(invocations[0].message_ids) == {*valid_ids, poison_id}
    assert invocations[0].response == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert len(notifier.sent) == len(valid)
    # Redelivered until the queue's maxReceiveCount, then moved to the DLQ by the queue's redrive policy.
    assert notifications.max_receive_count == 3
    assert [invocation.message_ids for invocation in invocations[1:]] == [(poison_id,)] * 2
    assert bodies_in(cloud, "NotificationsDeadLetterQueue") == [poison]
    assert queue_is_empty(cloud)


def test_when_every_record_fails_nothing_is_lost(
    cloud: Cloud, notifications: QueueMapping, notifier: RecordingNotifier
) -> None:
    poison = [
        "not json",
        json.dumps({"type": "OrderCompleted"}),
        json.dumps({**outcome(EventType.ORDER_COMPLETED).envelope(), "data": {}}),
    ]
    enqueue(cloud, "NotificationsQueue", *poison)

    invocations = notifications.deliver()

    assert len(invocations) == 3
    assert all(failed_with(invocation.error, BatchFailed) for invocation in invocations)
    assert notifier.sent == []
    assert bodies_in(cloud, "NotificationsDeadLetterQueue") == sorted(poison)
    assert queue_is_empty(cloud)


def test_a_send_that_failed_is_retried_and_then_sent_once(
    cloud: Cloud, notifications: QueueMapping, notifier: RecordingNotifier
) -> None:
    notifier.fail_times = 1
    event = outcome(EventType.ORDER_CANCELLED)
    (message_id,) = enqueue(cloud, "NotificationsQueue", json.dumps(event.envelope()))

    invocations = notifications.deliver()

    # The failed attempt left no idempotency record behind, so the retry sends.
    assert [invocation.failed for invocation in invocations] == [(message_id,), ()]
    assert [n.event_id for n in notifier.sent] == [event.event_id]
    assert bodies_in(cloud, "NotificationsDeadLetterQueue") == []


def test_outcomes_stored_in_the_event_store_reach_both_consumers(
    cloud: Cloud,
    publish: Callable[[], list[Any]],
    notifications: QueueMapping,
    analytics: QueueMapping,
    notifier: RecordingNotifier,
) -> None:
    """Event store -> outbox -> bus -> rule -> outcomes topic -> queues (filtered) -> consumers."""
    completed, cancelled = outcome(EventType.ORDER_COMPLETED, "order-1"), outcome(EventType.ORDER_CANCELLED, "order-2")
    store = EventStore(boto3.client("dynamodb"), cloud.physical_id("EventStoreTable"))
    store.append(completed)
    store.append(cancelled)

    publish()
    notified = notifications.deliver()
    counted = analytics.deliver()

    assert sorted(n.event_id for n in notifier.sent) == sorted([completed.event_id, cancelled.event_id])
    assert [invocation.failed for invocation in notified + counted] == [(), ()]
    # The analytics subscription's filter policy lets only the completed order through.
    (sold,) = [sale_from(record["body"]) for invocation in counted for record in invocation.event["Records"]]
    assert sold is not None
    assert sold.event_id == completed.event_id
    totals = analytics.function.module.counters.read(sold.day, "EUR")
    assert (totals.orders, totals.revenue) == (1, 2599)
