"""The domain events' one envelope: every event type, and the fields each event carries whatever its type.

The event store, the bus and every consumer use these classes; each type's data record is in
orders.event_data, which only the functions that read an event's data import (defining those records costs
every cold start that imports them). The schema registry's JSON Schemas are generated from both
(orders.event_schemas, `make schemas`), so there is no second copy to keep in step. A new event type: a
member of EventType, its data record in orders.event_data, `make schemas`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from orders.wire import Rule, camel, check, read


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


NonEmpty = Annotated[str, Rule(min_length=1)]


@dataclass(frozen=True)
class DomainEvent:
    """One state change of one order: version n of aggregate `order_id`. Its `envelope()` is what the bus carries."""

    type: EventType
    order_id: NonEmpty
    version: Annotated[int, Rule(minimum=1, description="Position of the event in its order's history.")]
    correlation_id: NonEmpty
    data: dict[str, Any]  # the record orders.event_data.DATA_OF[type] describes; `event_data.record()` reads it
    event_id: Annotated[str, Rule(min_length=1, description="Unique per event; consumers dedupe on it.")] = field(
        default_factory=lambda: str(uuid.uuid4())
    )
    occurred_at: Annotated[str, Rule(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")] = field(
        default_factory=utc_now
    )

    @classmethod
    def from_envelope(cls, envelope: object) -> DomainEvent:
        """The event an envelope (parsed JSON) carries, the envelope's fields checked.

        Its data is checked when read (orders.event_data.record), so a consumer refuses only what it uses: an
        event type it ignores passes. Raises orders.wire.ContractViolation, naming the field, for a broken envelope.
        """
        event = read(cls, envelope)
        for name, rule in ENVELOPE_RULES_OF.get(event.type, {}).items():
            check(rule, getattr(event, name), camel(name))
        return event

    @classmethod
    def from_json(cls, body: str | bytes) -> DomainEvent:
        """`from_envelope` of a JSON text (an SQS body, a Kinesis record); malformed JSON is a ValueError too."""
        return cls.from_envelope(json.loads(body))

    @property
    def moment(self) -> datetime:
        """`occurred_at` as an aware UTC datetime."""
        return datetime.fromisoformat(self.occurred_at).astimezone(UTC)

    def envelope(self) -> dict[str, Any]:
        """The JSON shape published on the bus, described by the registry's schema of its type."""
        return {
            "eventId": self.event_id,
            "type": self.type.value,
            "orderId": self.order_id,
            "version": self.version,
            "occurredAt": self.occurred_at,
            "correlationId": self.correlation_id,
            "data": self.data,
        }


# Envelope fields that say more for one type than DomainEvent's rules say for every event: checked by
# DomainEvent.from_envelope on top of those, and what that type's schema shows for them.
ENVELOPE_RULES_OF: dict[EventType, dict[str, Rule]] = {
    EventType.DAILY_SALES_SUMMARISED: {
        "event_id": Rule(
            min_length=1,
            description=(
                "Derived from the day: every publication of one day's summary carries the same id;"
                " consumers dedupe on it."
            ),
        ),
        "order_id": Rule(
            pattern=r"^daily-sales-\d{4}-\d{2}-\d{2}$",
            description="The envelope's aggregate id: here the summarised day, not an order.",
        ),
        "version": Rule(minimum=1, maximum=1, description="A day is summarised once."),
    },
}
