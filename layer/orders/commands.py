"""The command side: decide from the order's own events, then append to the event store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orders.errors import IdempotencyKeyReused, OrderConflict, OrderNotFound, VersionConflict
from orders.event_store import EventStore
from orders.events import DomainEvent
from orders.order import Order, order_cancelled, order_id_for, order_placed

# A concurrent writer costs one reload; more than a few in a row means a hot order, not bad luck.
MAX_APPEND_ATTEMPTS = 3


@dataclass(frozen=True)
class Placement:
    order: Order
    is_new: bool  # False when the key had already placed this very order


def place_order(
    store: EventStore, customer_id: str, idempotency_key: str, details: dict[str, Any], correlation_id: str
) -> Placement:
    """Append OrderPlaced as version 1 of the order this customer and key name.

    The id is derived, so a retry that outlives the idempotency record still finds the
    first order instead of creating a second one.
    """
    event = order_placed(order_id_for(customer_id, idempotency_key), customer_id, details, correlation_id)
    try:
        store.append(event)
    except VersionConflict:
        existing = Order.from_events(store.load(event.order_id))
        if any(existing.view.get(name) != value for name, value in event.data.items()):
            raise IdempotencyKeyReused from None
        return Placement(existing, is_new=False)
    return Placement(Order.from_events([event]), is_new=True)


def load_order(store: EventStore, order_id: str) -> Order:
    events = store.load(order_id)
    if not events:
        raise OrderNotFound(order_id)
    return Order.from_events(events)


def load_own_order(store: EventStore, customer_id: str, order_id: str) -> Order:
    """The caller's order; another customer's order is reported as missing, not forbidden."""
    order = load_order(store, order_id)
    if order.customer_id != customer_id:
        raise OrderNotFound(order_id)
    return order


def decide_and_append(
    store: EventStore,
    order_id: str,
    decide: Callable[[Order], DomainEvent | None],
    load: Callable[[], Order] | None = None,
) -> Order:
    """Load the order, let `decide` choose the next event (None: nothing to do), append it.

    A concurrent writer makes the append fail; then the order is reloaded and `decide` runs
    again on what is now true, so every decision is taken on the latest version.
    """
    for _ in range(MAX_APPEND_ATTEMPTS):
        order = load() if load else load_order(store, order_id)
        event = decide(order)
        if event is None:
            return order
        try:
            store.append(event)
        except VersionConflict:
            continue
        return order.apply(event)
    raise OrderConflict(f"order {order_id} is being changed by another request; try again")


def cancel_order(store: EventStore, customer_id: str, order_id: str, correlation_id: str) -> Order:
    """Append OrderCancelled if the order allows it; cancelling twice changes nothing."""
    return decide_and_append(
        store,
        order_id,
        lambda order: order_cancelled(order, correlation_id),
        load=lambda: load_own_order(store, customer_id, order_id),
    )
