"""The domain event and its one envelope, shared by the event store, the bus and the schemas."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """Every event on the orders bus (docs/architecture.md): an order's life, and the daily sales summary.

    The fulfilment saga appends the middle ones. DailySalesSummarised is no order's: its aggregate is the day.
    """

    ORDER_PLACED = "OrderPlaced"
    INVENTORY_RESERVED = "InventoryReserved"
    PAYMENT_REQUESTED = "PaymentRequested"
    PAYMENT_CAPTURED = "PaymentCaptured"
    SHIPMENT_ARRANGED = "ShipmentArranged"
    ORDER_COMPLETED = "OrderCompleted"
    INVENTORY_RELEASED = "InventoryReleased"
    PAYMENT_REFUNDED = "PaymentRefunded"
    ORDER_FAILED = "OrderFailed"
    ORDER_CANCELLED = "OrderCancelled"
    ORDER_EXPIRED = "OrderExpired"
    DAILY_SALES_SUMMARISED = "DailySalesSummarised"


def utc_now() -> str:
    """ISO-8601 UTC with millisecond precision, the format of `occurredAt`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DomainEvent:
    """One state change of one order: version n of aggregate `order_id`."""

    type: EventType
    order_id: str
    version: int
    correlation_id: str
    data: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=utc_now)

    def envelope(self) -> dict[str, Any]:
        """The JSON shape published on the bus and described by schemas/<type>.json."""
        return {
            "eventId": self.event_id,
            "type": self.type.value,
            "orderId": self.order_id,
            "version": self.version,
            "occurredAt": self.occurred_at,
            "correlationId": self.correlation_id,
            "data": self.data,
        }
