"""The reconciler: what no execution will finish any more, it settles, so the invariant of orders/order.py holds.

Each run does three things:
  - orders stuck past their deadline are expired, their fulfilment stopped and compensated;
  - orders whose execution ended FAILED, TIMED_OUT or ABORTED without settling them are failed (a
    technical failure) and compensated, or completed when they had already shipped;
  - orders that ended unfulfilled (failed, cancelled, expired) but still hold a payment or stock
    give them back.
Safe to run twice or concurrently: every decision appends only while the order's events allow it
(optimistic concurrency decides between racing runs), and stopping and compensating are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from orders import saga
from orders.commands import decide_and_append, load_order
from orders.events import DomainEvent, EventType
from orders.fulfilments import EndedExecution, Fulfilments
from orders.order import CANCELLABLE, ENDED_UNFULFILLED, FINAL, Order, OrderStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Orders that have not shipped can still be expired; a shipped order is the carrier's to finish.
EXPIRABLE = CANCELLABLE
# How long after it was placed an order is looked at again for what it may still hold. Longer than an
# execution may run (FulfilmentTimeoutSeconds) and than an order stays cancellable (OrderDeadlineMinutes),
# so whatever could leave something held is over, with runs to spare to outlast a provider's outage.
RECHECK_WINDOW = timedelta(days=1)


@dataclass
class Reconciliation:
    expired: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # unsettled by an ended execution, or ended still holding
    skipped: int = 0  # overdue in the read model, but already ended in the event store


def orders_placed(
    client: DynamoDBClient,
    table: str,
    index: str,
    statuses: Iterable[OrderStatus],
    *,
    before: datetime,
    after: datetime | None = None,
) -> Iterator[str]:
    """Ids of orders in one of `statuses` placed before `before` (and after `after`, when given)."""

    def timestamp(moment: datetime) -> str:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    placed = "createdAt BETWEEN :after AND :before" if after else "createdAt < :before"
    values = {":before": {"S": timestamp(before)}} | ({":after": {"S": timestamp(after)}} if after else {})
    for status in sorted(statuses):
        query = {
            "TableName": table,
            "IndexName": index,
            "KeyConditionExpression": f"#status = :status AND {placed}",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status.value}, **values},
        }
        while True:
            page = client.query(**query)  # type: ignore[arg-type]  # the request is built as a plain dict
            yield from (item["orderId"]["S"] for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _correlation_id(order_id: str) -> str:
    return f"reconciler-{order_id}"


def _expire(order: Order) -> DomainEvent | None:
    if order.status not in EXPIRABLE:
        return None
    data = {"customerId": order.customer_id, "reason": "not fulfilled before its deadline"}
    return order.next_event(EventType.ORDER_EXPIRED, _correlation_id(order.order_id), data)


def _fail_as_technical(order: Order) -> DomainEvent | None:
    if order.status in FINAL or order.status is OrderStatus.SHIPPED:
        return None
    data = {"customerId": order.customer_id, "reason": saga.TECHNICAL_FAILURE_REASON, "error": saga.TECHNICAL_FAILURE}
    return order.next_event(EventType.ORDER_FAILED, _correlation_id(order.order_id), data)


@dataclass
class Reconciler:
    compensator: saga.Compensator
    fulfilments: Fulfilments

    def expire(self, order_id: str) -> bool:
        """Expire one overdue order and undo what its fulfilment did; False when it had already ended."""
        order = decide_and_append(self.compensator.store, order_id, _expire)
        if order.status is not OrderStatus.EXPIRED:
            return False  # it shipped or ended otherwise since the read model said so
        # Expired now or by an earlier run: stopping and compensating again changes nothing.
        if order.fulfilment_id:
            self.fulfilments.stop(order.fulfilment_id, error="OrderExpired", cause="past its deadline")
        self.compensator.compensate(order_id, _correlation_id(order_id))
        return True

    def settle_ended(self, ended: EndedExecution) -> bool:
        """Settle the order of an execution that ended unsettled; False when there was nothing left to do."""
        store, order_id = self.compensator.store, ended.order_id
        order = load_order(store, order_id)
        if order.status is OrderStatus.COMPLETED:
            return False
        fulfilment = order.fulfilment_id or ended.execution_arn
        if order.status not in FINAL and fulfilment != ended.execution_arn and self.fulfilments.is_running(fulfilment):
            return False  # a duplicate execution ended; the one that fulfils the order still runs
        if order.status is OrderStatus.SHIPPED:
            # The parcel is with the carrier: only recording the completion failed.
            saga.complete_order(store, saga.Step(order_id, fulfilment, _correlation_id(order_id)))
            return True
        if order.status in FINAL and not self.compensator.holds_anything(order_id):
            return False  # settled already (by the saga's compensations, a cancel or an earlier run)
        decide_and_append(store, order_id, _fail_as_technical)
        self.compensator.compensate(order_id, _correlation_id(order_id))
        return True

    def settle_held(self, order_id: str) -> bool:
        """Give back what an order that ended unfulfilled still holds; False when it holds nothing."""
        if not self.compensator.holds_anything(order_id):
            return False
        order = load_order(self.compensator.store, order_id)
        if order.status not in ENDED_UNFULFILLED:
            return False  # the read model lags: it is still being fulfilled, or completed
        if order.fulfilment_id and self.fulfilments.is_running(order.fulfilment_id):
            return False  # its execution is compensating right now
        self.compensator.compensate(order_id, _correlation_id(order_id))
        return True


def reconcile(
    reconciler: Reconciler, overdue: Iterator[str], ended: Iterator[EndedExecution], ended_unfulfilled: Iterator[str]
) -> Reconciliation:
    result = Reconciliation()
    for order_id in overdue:
        if reconciler.expire(order_id):
            result.expired.append(order_id)
        else:
            result.skipped += 1
    for execution in ended:
        if reconciler.settle_ended(execution) and execution.order_id not in result.settled:
            result.settled.append(execution.order_id)
    for order_id in ended_unfulfilled:
        if reconciler.settle_held(order_id) and order_id not in result.settled:
            result.settled.append(order_id)
    return result
