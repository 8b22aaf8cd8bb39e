"""The order aggregate: its lifecycle, and the decisions commands take from its own events."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orders.errors import OrderConflict
from orders.events import DomainEvent, EventType

# An order id as the API issues it (a UUID) or a provider names it: what a path or a queue's group id can carry.
ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

# Fixed namespace so an order id is a pure function of customer and idempotency key.
_ORDER_ID_NAMESPACE = uuid.UUID("5b0c7f52-7f5e-4f0e-9a43-2f3b6b7c1d10")


class OrderStatus(StrEnum):
    PLACED = "PLACED"
    INVENTORY_RESERVED = "INVENTORY_RESERVED"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


# Compensation events (InventoryReleased, PaymentRefunded) record what was undone; the status stays.
STATUS_AFTER: dict[EventType, OrderStatus] = {
    EventType.ORDER_PLACED: OrderStatus.PLACED,
    EventType.INVENTORY_RESERVED: OrderStatus.INVENTORY_RESERVED,
    EventType.PAYMENT_REQUESTED: OrderStatus.AWAITING_PAYMENT,
    EventType.PAYMENT_CAPTURED: OrderStatus.PAID,
    EventType.SHIPMENT_ARRANGED: OrderStatus.SHIPPED,
    EventType.ORDER_COMPLETED: OrderStatus.COMPLETED,
    EventType.ORDER_FAILED: OrderStatus.FAILED,
    EventType.ORDER_CANCELLED: OrderStatus.CANCELLED,
    EventType.ORDER_EXPIRED: OrderStatus.EXPIRED,
}

CANCELLABLE = frozenset(
    {OrderStatus.PLACED, OrderStatus.INVENTORY_RESERVED, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID}
)
FINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})
# The invariant every path holds: an order that ends in one of these keeps no captured payment unrefunded and no
# stock reserved. The saga's compensations restore it, a cancel with no execution left does, and the reconciler
# settles whatever a failure left behind (orders/saga.py, orders/reconciler.py).
ENDED_UNFULFILLED = FINAL - {OrderStatus.COMPLETED}

# What later events add to the order's view besides its status; the rest stays in the event store.
_VIEW_FIELDS = ("reason", "fulfilmentId", "lines", "amount", "paymentId", "trackingId")
# Compensations leave the status alone; the view records that each one has happened, so none runs twice.
_DONE_FLAGS = {EventType.INVENTORY_RELEASED: "inventoryReleased", EventType.PAYMENT_REFUNDED: "paymentRefunded"}


def order_id_for(customer_id: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(_ORDER_ID_NAMESPACE, f"{customer_id}\n{idempotency_key}"))


def changes(event: DomainEvent) -> dict[str, Any]:
    """What one event changes on an order, in read-model attribute names.

    The aggregate folds events with it and the projector writes it, so the two cannot disagree.
    """
    changed: dict[str, Any] = {"version": event.version, "updatedAt": event.occurred_at}
    if event.type is EventType.ORDER_PLACED:
        changed |= {"orderId": event.order_id, "createdAt": event.occurred_at, **event.data}
    else:
        changed |= {name: event.data[name] for name in _VIEW_FIELDS if name in event.data}
    if event.type in STATUS_AFTER:
        changed["status"] = STATUS_AFTER[event.type].value
    if event.type in _DONE_FLAGS:
        changed[_DONE_FLAGS[event.type]] = True
    return changed


@dataclass(frozen=True)
class Order:
    """An order as its events say it is; `view` is the same shape the read model holds."""

    view: dict[str, Any]

    @classmethod
    def from_events(cls, events: Iterable[DomainEvent]) -> Order:
        order = cls({})
        for event in events:
            order = order.apply(event)
        return order

    def apply(self, event: DomainEvent) -> Order:
        return Order(self.view | changes(event))

    @property
    def order_id(self) -> str:
        return str(self.view["orderId"])

    @property
    def customer_id(self) -> str:
        return str(self.view["customerId"])

    @property
    def status(self) -> OrderStatus:
        return OrderStatus(self.view["status"])

    @property
    def version(self) -> int:
        return int(self.view["version"])

    @property
    def fulfilment_id(self) -> str | None:
        """The state machine execution that fulfils this order, once its first step has claimed it."""
        value = self.view.get("fulfilmentId")
        return str(value) if value else None

    def next_event(self, event_type: EventType, correlation_id: str, data: dict[str, Any]) -> DomainEvent:
        """The event that follows this order's latest one."""
        return DomainEvent(
            type=event_type,
            order_id=self.order_id,
            version=self.version + 1,
            correlation_id=correlation_id,
            data=data,
        )


def order_placed(order_id: str, customer_id: str, details: dict[str, Any], correlation_id: str) -> DomainEvent:
    """The first event of every order. `details` holds items, shippingAddress and currency."""
    return DomainEvent(
        type=EventType.ORDER_PLACED,
        order_id=order_id,
        version=1,
        correlation_id=correlation_id,
        data={"customerId": customer_id, **details},
    )


def order_cancelled(order: Order, correlation_id: str) -> DomainEvent | None:
    """The cancellation, or None when the order is already cancelled (a repeated request)."""
    if order.status is OrderStatus.CANCELLED:
        return None
    if order.status not in CANCELLABLE:
        raise OrderConflict(f"order {order.order_id} is {order.status.value} and can no longer be cancelled")
    return order.next_event(
        EventType.ORDER_CANCELLED, correlation_id, {"customerId": order.customer_id, "reason": "cancelled by customer"}
    )
