"""Analytics: completed orders and revenue per UTC day and currency, each event counted exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.queues import QueueMapping
from orders.analytics import DailyCounters, DailyTotals, Sale, sale_from
from orders.dynamodb import from_item
from orders.events import DomainEvent, EventType
from orders.wire import ContractViolation
from tests.support import ALICE, enqueue, item_count, sample_event


def completed(occurred_at: str, amount: int, currency: str = "EUR") -> DomainEvent:
    return DomainEvent(
        type=EventType.ORDER_COMPLETED,
        order_id=f"order-{occurred_at}-{amount}",
        version=6,
        correlation_id="correlation-1",
        data={"customerId": ALICE, "amount": amount, "currency": currency},
        occurred_at=occurred_at,
    )


def ended(event_type: EventType) -> DomainEvent:
    failure = {"error": "OutOfStock"} if event_type is EventType.ORDER_FAILED else {}
    return DomainEvent(
        type=event_type,
        order_id="order-1",
        version=3,
        correlation_id="c-1",
        data={"customerId": ALICE, "reason": "r", **failure},
    )


@pytest.fixture
def counters(function: Callable[[str], LocalFunction]) -> DailyCounters:
    """The consumer's own counters, configured by the template."""
    counting: DailyCounters = function("RecordAnalyticsFunction").module.counters
    return counting


def body(event: DomainEvent) -> str:
    return json.dumps(event.envelope())


# ------------------------------------------------------------------ reading a sale from an event


def test_a_sale_is_dated_by_the_utc_day_it_completed() -> None:
    just_before_midnight = completed("2026-11-22T23:59:59.999Z", 100)

    sale = sale_from(body(just_before_midnight))

    assert sale == Sale(just_before_midnight.event_id, date(2026, 11, 22), "EUR", 100)


@pytest.mark.parametrize("event_type", [EventType.ORDER_FAILED, EventType.ORDER_CANCELLED, EventType.ORDER_EXPIRED])
def test_other_outcomes_are_no_sale(event_type: EventType) -> None:
    assert sale_from(body(ended(event_type))) is None


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({**completed("2026-11-22T10:00:00.000Z", 100).envelope(), "data": {"currency": "EUR"}}),
        json.dumps({**completed("2026-11-22T10:00:00.000Z", 100).envelope(), "occurredAt": "2026-11-22T10:00:00"}),
        json.dumps(
            {**completed("2026-11-22T10:00:00.000Z", 100).envelope(), "occurredAt": "2026-11-22T22:30:00-02:00"}
        ),
        json.dumps(completed("2026-11-22T10:00:00.000Z", 100, currency="euro").envelope()),
        json.dumps(completed("2026-11-22T10:00:00.000Z", True).envelope()),  # a bool is no amount
    ],
    ids=["not-json", "no-amount", "no-time-zone", "not-utc", "bad-currency", "bool-amount"],
)
def test_a_body_that_is_no_readable_event_is_refused(text: str) -> None:
    """The contract (orders.events) says occurredAt is UTC with a Z: an offset breaks it like a missing field."""
    with pytest.raises((ContractViolation, json.JSONDecodeError)):
        sale_from(text)


# ------------------------------------------------------------------ counting


def test_revenue_is_counted_per_day_and_currency(
    cloud: Cloud, analytics: QueueMapping, counters: DailyCounters
) -> None:
    enqueue(
        cloud,
        "AnalyticsQueue",
        body(completed("2026-11-21T08:00:00.000Z", 1000)),
        body(completed("2026-11-21T18:00:00.000Z", 2500)),
        body(completed("2026-11-21T09:00:00.000Z", 700, currency="USD")),
        body(completed("2026-11-22T00:00:00.000Z", 400)),
        body(completed("2026-11-22T23:59:59.999Z", 100)),
        body(completed("2026-11-23T00:00:00.000Z", 1)),
    )

    invocations = analytics.deliver()

    assert [invocation.response for invocation in invocations] == [{"batchItemFailures": []}]
    assert counters.read(date(2026, 11, 21), "EUR") == DailyTotals(date(2026, 11, 21), "EUR", orders=2, revenue=3500)
    assert counters.read(date(2026, 11, 21), "USD") == DailyTotals(date(2026, 11, 21), "USD", orders=1, revenue=700)
    assert counters.read(date(2026, 11, 22), "EUR") == DailyTotals(date(2026, 11, 22), "EUR", orders=2, revenue=500)
    assert counters.read(date(2026, 11, 23), "EUR") == DailyTotals(date(2026, 11, 23), "EUR", orders=1, revenue=1)
    assert counters.read(date(2026, 11, 22), "USD") == DailyTotals(date(2026, 11, 22), "USD", orders=0, revenue=0)


def test_a_duplicate_does_not_inflate_the_counters(
    cloud: Cloud, analytics: QueueMapping, counters: DailyCounters
) -> None:
    event = completed("2026-11-22T10:00:00.000Z", 2599)
    enqueue(cloud, "AnalyticsQueue", body(event), body(event))  # delivered twice in one batch
    first = analytics.deliver()
    enqueue(cloud, "AnalyticsQueue", body(event))  # and once more, later
    again = analytics.deliver()

    assert [invocation.failed for invocation in first + again] == [(), ()]
    assert counters.read(date(2026, 11, 22), "EUR").orders == 1
    assert counters.read(date(2026, 11, 22), "EUR").revenue == 2599
    assert item_count(cloud, "AnalyticsTable") == 2  # the day's counters and the event's marker


def test_the_marker_outlives_the_bus_archive_so_a_replay_cannot_count_twice(
    cloud: Cloud, counters: DailyCounters, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = cloud.physical_id("AnalyticsTable")
    client = boto3.client("dynamodb")
    sale = Sale("event-1", date(2026, 11, 22), "EUR", 100)

    monkeypatch.setattr(counters, "_clock", lambda: 1_800_000_000.0)
    assert counters.record(sale) is True
    monkeypatch.setattr(counters, "_clock", lambda: 1_800_000_060.0)
    assert counters.record(sale) is False

    marker = from_item(client.get_item(TableName=table, Key={"id": {"S": "event#event-1"}})["Item"])
    [archive] = cloud.template.of_type("AWS::Events::Archive").values()
    archive_days = cloud.template.resolve(archive["Properties"]["RetentionDays"])
    assert marker["expiresAt"] == 1_800_000_000 + archive_days * 24 * 3600
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"


def test_outcomes_other_than_completed_are_acknowledged_and_ignored(cloud: Cloud, analytics: QueueMapping) -> None:
    placed = DomainEvent(type=EventType.ORDER_PLACED, order_id="order-1", version=1, correlation_id="c", data={})
    enqueue(
        cloud,
        "AnalyticsQueue",
        body(ended(EventType.ORDER_FAILED)),
        body(ended(EventType.ORDER_CANCELLED)),
        body(placed),
    )

    invocations = analytics.deliver()

    assert [invocation.response for invocation in invocations] == [{"batchItemFailures": []}]
    assert item_count(cloud, "AnalyticsTable") == 0


def test_an_unreadable_sale_ends_in_the_dead_letter_queue_and_the_rest_is_counted(
    cloud: Cloud, analytics: QueueMapping, counters: DailyCounters
) -> None:
    poison = json.dumps({**completed("2026-11-22T10:00:00.000Z", 100).envelope(), "data": {"currency": "EUR"}})
    _, poison_id = enqueue(cloud, "AnalyticsQueue", body(completed("2026-11-22T11:00:00.000Z", 300)), poison)

    invocations = analytics.deliver()

    assert invocations[0].failed == (poison_id,)
    assert len(invocations) == analytics.max_receive_count
    assert counters.read(date(2026, 11, 22), "EUR").revenue == 300
    dead = boto3.client("sqs").receive_message(QueueUrl=cloud.physical_id("AnalyticsDeadLetterQueue"))
    assert [message["Body"] for message in dead["Messages"]] == [poison]


def test_a_transaction_cancelled_for_another_reason_is_retried_not_taken_for_a_duplicate() -> None:
    client = boto3.client("dynamodb")
    stubber = Stubber(client)
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]},
    )
    stubber.add_client_error("transact_write_items", service_error_code="ProvisionedThroughputExceededException")

    with stubber, pytest.raises(ClientError, match="TransactionCanceledException"):
        DailyCounters(client, "AnalyticsTable", timedelta(days=1)).record(
            Sale("event-1", date(2026, 11, 22), "EUR", 100)
        )
    with stubber, pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        DailyCounters(client, "AnalyticsTable", timedelta(days=1)).record(
            Sale("event-1", date(2026, 11, 22), "EUR", 100)
        )


# ------------------------------------------------------------------ sample events


def test_the_duplicate_sample_counts_its_order_once(
    function: Callable[[str], LocalFunction], counters: DailyCounters
) -> None:
    event = sample_event("record_analytics/duplicate.json")
    records = event["Records"]
    assert len(records) == 2
    assert records[0]["body"] == records[1]["body"]
    sale = sale_from(records[0]["body"])
    assert sale is not None

    response = function("RecordAnalyticsFunction").invoke(event)

    assert response == {"batchItemFailures": []}
    assert counters.read(sale.day, sale.currency) == DailyTotals(sale.day, sale.currency, 1, sale.amount)
