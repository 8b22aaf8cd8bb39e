"""Sales analytics: completed orders and revenue per UTC day and currency, each order counted once.

AnalyticsTable holds two kinds of item under one key, `id`:
  daily#<YYYY-MM-DD>#<CURRENCY>  the counters: `orders` and `revenue` (minor units)
  event#<eventId>                a marker: this event is counted; expires (TTL `expiresAt`) once the bus
                                 archive no longer holds the event, so that no replay can count it twice
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from orders.dynamodb import from_item, to_item
from orders.event_data import OrderCompleted, data_as
from orders.events import DomainEvent, EventType

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class Sale:
    """A completed order, as analytics counts it."""

    event_id: str
    day: date  # the UTC date the order completed
    currency: str
    amount: int  # minor units (cents)


def sale_from(body: str) -> Sale | None:
    """The sale an outcome event's JSON records; None for any event other than OrderCompleted.

    Raises ValueError (orders.wire.ContractViolation for a broken contract) when `body` is not an
    event envelope of its type's contract.
    """
    timed = timed_sale_from(DomainEvent.from_json(body))
    return None if timed is None else timed[0]


def timed_sale_from(envelope: Mapping[str, Any] | DomainEvent) -> tuple[Sale, datetime] | None:
    """The sale an event envelope records and when (UTC) it happened; None for any event but OrderCompleted.

    Raises ValueError as `sale_from` does.
    """
    event = envelope if isinstance(envelope, DomainEvent) else DomainEvent.from_envelope(envelope)
    if event.type is not EventType.ORDER_COMPLETED:
        return None  # not a sale, and its data is not read: this consumer holds no other type to its contract
    completed = data_as(event, OrderCompleted)
    return Sale(event.event_id, event.moment.date(), completed.currency, completed.amount), event.moment


@dataclass(frozen=True)
class DailyTotals:
    day: date
    currency: str
    orders: int
    revenue: int  # minor units


def _counter_id(day: date, currency: str) -> str:
    return f"daily#{day.isoformat()}#{currency}"


class DailyCounters:
    def __init__(
        self, client: DynamoDBClient, table_name: str, marker_ttl: timedelta, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._marker_ttl = marker_ttl
        self._clock = clock

    def record(self, sale: Sale) -> bool:
        """Add `sale` to its day's counters; False when this event was already counted (nothing changes).

        The marker and the increment are one transaction, so a crash between them cannot count
        an order twice or lose it.
        """
        counter_id = _counter_id(sale.day, sale.currency)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": to_item(
                                {
                                    "id": f"event#{sale.event_id}",
                                    "counter": counter_id,
                                    "expiresAt": int(self._clock() + self._marker_ttl.total_seconds()),
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(id)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table_name,
                            "Key": {"id": {"S": counter_id}},
                            "UpdateExpression": (
                                "SET #day = :day, currency = :currency ADD orders :one, revenue :amount"
                            ),
                            "ExpressionAttributeNames": {"#day": "day"},  # a reserved word
                            "ExpressionAttributeValues": to_item(
                                {
                                    ":day": sale.day.isoformat(),
                                    ":currency": sale.currency,
                                    ":one": 1,
                                    ":amount": sale.amount,
                                }
                            ),
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            # Reasons line up with TransactItems: the first is the marker's put.
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def read(self, day: date, currency: str) -> DailyTotals:
        """The counters of one day and currency; zero when nothing was sold."""
        item = self._client.get_item(
            TableName=self._table_name, Key={"id": {"S": _counter_id(day, currency)}}, ConsistentRead=True
        ).get("Item")
        counters = from_item(item) if item else {}
        return DailyTotals(day, currency, int(counters.get("orders", 0)), int(counters.get("revenue", 0)))
