"""The daily sales summary: yesterday's per-minute sales, totalled per currency, recorded once and published once.

A schedule runs the job once a day, after the aggregator's last windows of the day before have closed
(orders.sales_windows). It reads that UTC day's minutes, totals them per currency and publishes one
DailySalesSummarised event on the orders bus, in the one envelope (orders.events): the aggregate is the
day, `daily-sales-<YYYY-MM-DD>`, at version 1.

Once per day, however often it runs:
- the summary is recorded first, with a write that must not find `summary#<day>` in SalesPerMinuteTable;
  a run that finds it recorded uses the recorded summary (its totals and event id), never new figures;
- the recorded summary is published, then marked published; a run that finds it marked publishes nothing.
  A run that dies between the two publishes it again with the same event id, which consumers dedupe on
  (as with the outbox publisher).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from orders.dynamodb import from_item, to_item
from orders.events import DomainEvent, EventType, utc_now
from orders.outbox import EventPublisher
from orders.sales_windows import MinuteTotals, SalesPerMinute

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Event ids derive from the day, so a summary has one id whichever run made it.
_SUMMARY_ID_NAMESPACE = uuid.UUID("5b0e6f3c-2a9d-4c71-8e4b-6d2f1a7c9e30")


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    orders: int
    revenue: int  # minor units

    def as_data(self) -> dict[str, Any]:
        return {"currency": self.currency, "orders": self.orders, "revenue": self.revenue}


def day_before(scheduled_time: datetime) -> date:
    """The UTC day a run scheduled at `scheduled_time` summarises: the one before."""
    return (scheduled_time.astimezone(UTC) - timedelta(days=1)).date()


def totals_per_currency(minutes: Iterable[MinuteTotals]) -> list[CurrencyTotals]:
    """The minutes' orders and revenue added up per currency, in currency order."""
    orders: dict[str, int] = {}
    revenue: dict[str, int] = {}
    for minute in minutes:
        orders[minute.currency] = orders.get(minute.currency, 0) + minute.orders
        revenue[minute.currency] = revenue.get(minute.currency, 0) + minute.revenue
    return [CurrencyTotals(currency, orders[currency], revenue[currency]) for currency in sorted(orders)]


def summary_event(day: date, sales: list[CurrencyTotals], occurred_at: str) -> DomainEvent:
    aggregate = f"daily-sales-{day.isoformat()}"
    return DomainEvent(
        type=EventType.DAILY_SALES_SUMMARISED,
        order_id=aggregate,
        version=1,
        correlation_id=aggregate,
        data={"day": day.isoformat(), "sales": [totals.as_data() for totals in sales]},
        event_id=str(uuid.uuid5(_SUMMARY_ID_NAMESPACE, aggregate)),
        occurred_at=occurred_at,
    )


@dataclass(frozen=True)
class RecordedSummary:
    event: DomainEvent
    published: bool


class DailySalesSummaries:
    """The `summary#<day>` items of SalesPerMinuteTable: what each day's summary said, and whether it is published."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    @staticmethod
    def _key(day: date) -> dict[str, Any]:
        return {"id": {"S": f"summary#{day.isoformat()}"}}

    def get(self, day: date) -> RecordedSummary | None:
        item = self._client.get_item(TableName=self._table_name, Key=self._key(day), ConsistentRead=True).get("Item")
        if item is None:
            return None
        recorded = from_item(item)
        sales = [CurrencyTotals(str(s["currency"]), int(s["orders"]), int(s["revenue"])) for s in recorded["sales"]]
        return RecordedSummary(summary_event(day, sales, recorded["occurredAt"]), "publishedAt" in recorded)

    def record(self, event: DomainEvent) -> RecordedSummary:
        """Record `event` as its day's summary, unless one is recorded already: then that one is returned."""
        day = date.fromisoformat(event.data["day"])
        item = {"day": day.isoformat(), "eventId": event.event_id, "occurredAt": event.occurred_at}
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item={**self._key(day), **to_item(item | {"sales": event.data["sales"]})},
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            recorded = self.get(day)
            if recorded is None:  # cannot happen: the condition failed because the item exists
                raise
            return recorded
        return RecordedSummary(event, published=False)

    def mark_published(self, day: date) -> None:
        self._client.update_item(
            TableName=self._table_name,
            Key=self._key(day),
            UpdateExpression="SET publishedAt = :now",
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeValues={":now": {"S": utc_now()}},
        )


class SummaryNotPublished(RuntimeError):
    """The bus refused the summary; the run fails so that Lambda retries it (the summary stays recorded)."""


@dataclass(frozen=True)
class SummaryRun:
    day: date
    event: DomainEvent
    published: bool  # by this run; False when an earlier run had published it

    def as_response(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "eventId": self.event.event_id,
            "published": self.published,
            "sales": self.event.data["sales"],
        }


def summarise_day(
    day: date, sales: SalesPerMinute, summaries: DailySalesSummaries, publisher: EventPublisher
) -> SummaryRun:
    """Record and publish `day`'s summary, once."""
    recorded = summaries.get(day)
    if recorded is None:
        event = summary_event(day, totals_per_currency(sales.minutes_of(day)), utc_now())
        recorded = summaries.record(event)
    if recorded.published:
        return SummaryRun(day, recorded.event, published=False)
    if publisher.publish([recorded.event]):
        raise SummaryNotPublished(f"the bus refused the summary of {day.isoformat()}")
    summaries.mark_published(day)
    return SummaryRun(day, recorded.event, published=True)
