"""Completed-order sales per UTC minute and currency, summed over the order activity stream's tumbling windows.

Lambda hands the aggregator a window's records in batches, with the state the previous batch
returned, and calls it once more when the window closes (`isFinalInvokeForWindow`). Nothing is
written until then; the window's totals are then written once.

Counting nothing twice:
- within a window, the state lists the events already counted: a record delivered again (a retry
  from the checkpoint, the second half of a bisected batch, EventBridge putting an event twice)
  is skipped. A failed invocation's state is dropped by Lambda, so a retry starts from the last
  good one.
- a window is written in one transaction with a marker `window#<start>#<shard>#<first sequence
  number>` that must not exist yet: a retried final invocation, or the same records read again
  into the same window, finds the marker and writes nothing. The first sequence number keeps
  apart the windows of one shard that ParallelizationFactor processes side by side.

Not covered: the same event arriving in two different windows (e.g. a bus archive replay puts it
on the stream again much later) is counted in both; the daily counters (orders.analytics) are the
exact figures, these are the live ones.

SalesPerMinuteTable holds, under one key `id`:
  minute#<YYYY-MM-DDTHH:MM>#<CURRENCY>       `orders` and `revenue` (minor units), and its `day` and `minute`,
                                             which the byDay index (a day's minutes, in order) is keyed on
  window#<start>#<shard>#<sequence number>   this window is written; expires after MARKER_TTL
  summary#<YYYY-MM-DD>                       the day's sales summary (orders.daily_sales)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from botocore.exceptions import ClientError

from orders.dynamodb import from_item, to_item
from orders.wire import Rule, read

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from orders.analytics import Sale  # a hint only: the daily summary reads no event's data

# Longer than a record can stay on the stream (24 h) plus its maximum age: no window comes back after that.
MARKER_TTL = timedelta(days=7)


@dataclass
class MinuteSales:
    orders: Annotated[int, Rule(minimum=0)] = 0
    revenue: Annotated[int, Rule(minimum=0)] = 0  # minor units


@dataclass
class WindowState:
    """What one window has counted so far: the `state` Lambda passes from one invocation to the next."""

    first_sequence_number: Annotated[str, Rule(min_length=1)] | None = None
    counted: list[Annotated[str, Rule(min_length=1)]] = field(default_factory=list)  # event ids
    sales: dict[str, MinuteSales] = field(default_factory=dict)  # "<minute>#<currency>" -> totals

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> WindowState:
        """The state as `as_response` wrote it (Lambda hands back the last good one); {} is a new window."""
        return read(cls, dict(state), "state") if state else cls()

    def start(self, sequence_number: str) -> None:
        """Remember the window's first record (the first batch's first), which names the window once written."""
        if self.first_sequence_number is None:
            self.first_sequence_number = sequence_number

    def add(self, sale: Sale, occurred_at: datetime) -> bool:
        """Count `sale` in its minute; False when this event is already counted in this window."""
        if sale.event_id in self.counted:
            return False
        self.counted.append(sale.event_id)
        totals = self.sales.setdefault(f"{minute_of(occurred_at)}#{sale.currency}", MinuteSales())
        totals.orders += 1
        totals.revenue += sale.amount
        return True

    def as_response(self) -> dict[str, Any]:
        response: dict[str, Any] = {
            "counted": list(self.counted),
            "sales": {key: {"orders": totals.orders, "revenue": totals.revenue} for key, totals in self.sales.items()},
        }
        if self.first_sequence_number is not None:
            response["firstSequenceNumber"] = self.first_sequence_number
        return response


def minute_of(moment: datetime) -> str:
    """The UTC minute a moment falls in, as the table keys it: YYYY-MM-DDTHH:MM."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class MinuteTotals:
    minute: str  # YYYY-MM-DDTHH:MM, UTC
    currency: str
    orders: int
    revenue: int  # minor units


class SalesPerMinute:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Callable[[], float] = time.time,
        by_day_index: str | None = None,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._clock = clock
        self._by_day_index = by_day_index  # only a reader of whole days (minutes_of) needs it

    def write_window(self, window_start: str, shard_id: str, state: WindowState) -> bool:
        """Add a closed window's totals to their minutes; False when this window was written before (no change).

        The marker and every increment are one transaction: a crash cannot write half a window.
        """
        if not state.sales:
            return True  # nothing sold: nothing to write, and nothing a retry could count twice
        marker = f"window#{window_start}#{shard_id}#{state.first_sequence_number}"
        increments: list[Any] = [
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": {"id": {"S": f"minute#{key}"}},
                    "UpdateExpression": (
                        "SET #day = :day, #minute = :minute, currency = :currency ADD orders :orders, revenue :revenue"
                    ),
                    "ExpressionAttributeNames": {"#day": "day", "#minute": "minute"},  # reserved words
                    "ExpressionAttributeValues": to_item(
                        {
                            ":day": key.split("T")[0],  # "<YYYY-MM-DD>T<HH:MM>#<CURRENCY>"
                            ":minute": key.split("#")[0],
                            ":currency": key.split("#")[1],
                            ":orders": totals.orders,
                            ":revenue": totals.revenue,
                        }
                    ),
                }
            }
            for key, totals in sorted(state.sales.items())
        ]
        put_marker: Any = {
            "Put": {
                "TableName": self._table_name,
                "Item": to_item({"id": marker, "expiresAt": int(self._clock() + MARKER_TTL.total_seconds())}),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[put_marker, *increments])
        except ClientError as error:
            # Reasons line up with TransactItems: the first is the marker's put, which fails if written before.
            reasons = error.response.get("CancellationReasons", [])
            canceled = error.response["Error"]["Code"] == "TransactionCanceledException"
            if canceled and reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def read(self, minute: str, currency: str) -> MinuteTotals:
        """One minute's totals in one currency; zero when nothing was sold (or its window is still open)."""
        item = self._client.get_item(
            TableName=self._table_name, Key={"id": {"S": f"minute#{minute}#{currency}"}}, ConsistentRead=True
        ).get("Item")
        totals = from_item(item) if item else {}
        return MinuteTotals(minute, currency, int(totals.get("orders", 0)), int(totals.get("revenue", 0)))

    def minutes_of(self, day: date) -> Iterator[MinuteTotals]:
        """Every minute of one UTC day with sales, in every currency, in minute order (the byDay index).

        The index is eventually consistent: read a day once its last windows have closed.
        """
        if self._by_day_index is None:
            raise ValueError("reading a whole day needs the table's byDay index")
        query: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": self._by_day_index,
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day.isoformat()}},
        }
        while True:
            page = self._client.query(**query)
            for item in map(from_item, page["Items"]):
                yield MinuteTotals(item["minute"], item["currency"], int(item["orders"]), int(item["revenue"]))
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
