"""The order aggregate's rules, without AWS: ids, the lifecycle, and what cancellation allows."""

from __future__ import annotations

import pytest

from orders.config import ConfigurationError, Setting, setting
from orders.errors import OrderConflict
from orders.events import DomainEvent, EventType
from orders.order import CANCELLABLE, STATUS_AFTER, Order, OrderStatus, order_cancelled, order_id_for, order_placed

DETAILS = {
    "items": [{"sku": "SKU-RED-MUG", "quantity": 1}],
    "shippingAddress": {"name": "A", "line1": "B", "city": "C", "postalCode": "1", "country": "US"},
    "currency": "EUR",
}


def order_in(status: OrderStatus) -> Order:
    placed = order_placed("order-1", "customer-1", DETAILS, "test")
    if status is OrderStatus.PLACED:
        return Order.from_events([placed])
    [event_type] = [event_type for event_type, after in STATUS_AFTER.items() if after is status]
    return Order.from_events([placed, DomainEvent(event_type, "order-1", 2, "test", {})])


def test_an_order_id_is_a_pure_function_of_customer_and_key() -> None:
    assert order_id_for("alice", "k1") == order_id_for("alice", "k1")
    assert len({order_id_for("alice", "k1"), order_id_for("alice", "k2"), order_id_for("bob", "k1")}) == 3


def test_every_status_is_reached_by_exactly_one_event_type() -> None:
    assert sorted(STATUS_AFTER.values()) == sorted(OrderStatus)


def test_compensation_events_keep_the_status_and_advance_the_version() -> None:
    order = order_in(OrderStatus.FAILED).apply(DomainEvent(EventType.PAYMENT_REFUNDED, "order-1", 3, "test", {}))
    assert (order.status, order.version) == (OrderStatus.FAILED, 3)


@pytest.mark.parametrize("status", sorted(CANCELLABLE))
def test_an_order_not_yet_shipped_can_be_cancelled(status: OrderStatus) -> None:
    order = order_in(status)
    event = order_cancelled(order, "test")
    assert event is not None
    assert (event.type, event.version) == (EventType.ORDER_CANCELLED, order.version + 1)


def test_cancelling_a_cancelled_order_decides_nothing() -> None:
    assert order_cancelled(order_in(OrderStatus.CANCELLED), "test") is None


@pytest.mark.parametrize("status", sorted(set(OrderStatus) - CANCELLABLE - {OrderStatus.CANCELLED}))
def test_a_shipped_or_settled_order_cannot_be_cancelled(status: OrderStatus) -> None:
    with pytest.raises(OrderConflict, match=status.value):
        order_cancelled(order_in(status), "test")


def test_a_missing_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENT_STORE_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="EVENT_STORE_TABLE"):
        setting(Setting.EVENT_STORE_TABLE)
