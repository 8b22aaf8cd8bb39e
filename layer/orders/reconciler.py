"""The reconciler: orders stuck past their deadline are expired, their fulfilment stopped and compensated.

Safe to run twice or concurrently: expiring appends OrderExpired only while the order is still
open (optimistic concurrency decides between racing runs), and stopping an execution and the
compensations are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from orders import saga
from orders.commands import decide_and_append
from orders.event_store import EventStore
from orders.events import DomainEvent, EventType
from orders.inventory import Inventory
from orders.order import CANCELLABLE, Order, OrderStatus
from orders.payments import PaymentLedger, PaymentProvider

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

# Orders that have not shipped can still be expired; a shipped order is the carrier's to finish.
EXPIRABLE = CANCELLABLE


@dataclass
class Reconciliation:
    expired: list[str] = field(default_factory=list)
    skipped: int = 0  # overdue in the read model, but already ended in the event store


def overdue_orders(client: DynamoDBClient, table: str, index: str, placed_before: datetime) -> Iterator[str]:
    """Ids of orders still in an expirable status that were placed before `placed_before`."""
    cutoff = placed_before.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for status in sorted(EXPIRABLE):
        query = {
            "TableName": table,
            "IndexName": index,
            "KeyConditionExpression": "#status = :status AND createdAt < :cutoff",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status.value}, ":cutoff": {"S": cutoff}},
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


@dataclass
class Reconciler:
    store: EventStore
    inventory: Inventory
    ledger: PaymentLedger
    provider: PaymentProvider
    states: SFNClient

    def settle(self, order_id: str) -> bool:
        """Expire one overdue order and undo what its fulfilment did; False when it had already ended."""
        order = decide_and_append(self.store, order_id, _expire)
        if order.status is not OrderStatus.EXPIRED:
            return False  # it shipped or ended otherwise since the read model said so
        # Expired now or by an earlier run: stopping and compensating again changes nothing.
        if order.fulfilment_id:
            self._stop(order.fulfilment_id)
        correlation_id = _correlation_id(order_id)
        saga.refund_payment(self.store, self.ledger, self.provider, order_id, correlation_id)
        saga.release_inventory(self.store, self.inventory, order_id, correlation_id)
        return True

    def _stop(self, execution_arn: str) -> None:
        try:
            self.states.stop_execution(executionArn=execution_arn, error="OrderExpired", cause="past its deadline")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise


def reconcile(reconciler: Reconciler, overdue: Iterator[str]) -> Reconciliation:
    result = Reconciliation()
    for order_id in overdue:
        if reconciler.settle(order_id):
            result.expired.append(order_id)
        else:
            result.skipped += 1
    return result
