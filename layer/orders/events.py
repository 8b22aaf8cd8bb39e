"""The domain events: their one envelope and each type's data, the single source of every event contract.

The event store, the bus and every consumer use these classes; the schema registry's JSON Schemas are
generated from them (orders.event_schemas, `make schemas`), so there is no second copy to keep in step.
A new event type: a member of EventType, its data record below, an entry in DATA_OF, `make schemas`.
"""

from __future__ import annotations

import builtins
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from orders.wire import ContractViolation, Rule, camel, check, read


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
MinorUnits = Annotated[int, Rule(minimum=0, description="In minor units of the currency (cents for USD).")]
Currency = Annotated[str, Rule(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]
Sku = Annotated[str, Rule(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
Quantity = Annotated[int, Rule(minimum=1, maximum=100)]
AddressLine = Annotated[str, Rule(min_length=1, max_length=200)]
Lines = Rule(min_items=1, max_items=50)


@dataclass(frozen=True)
class DomainEvent:
    """One state change of one order: version n of aggregate `order_id`. Its `envelope()` is what the bus carries."""

    type: EventType
    order_id: NonEmpty
    version: Annotated[int, Rule(minimum=1, description="Position of the event in its order's history.")]
    correlation_id: NonEmpty
    data: dict[str, Any]  # the record DATA_OF[type] describes; `record()` reads it
    event_id: Annotated[str, Rule(min_length=1, description="Unique per event; consumers dedupe on it.")] = field(
        default_factory=lambda: str(uuid.uuid4())
    )
    occurred_at: Annotated[str, Rule(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")] = field(
        default_factory=utc_now
    )

    @classmethod
    def from_envelope(cls, envelope: object) -> DomainEvent:
        """The event an envelope (parsed JSON) carries, the envelope's fields checked.

        Its data is checked when read (`record()`), so a consumer refuses only what it uses: an event type it
        ignores passes. Raises orders.wire.ContractViolation, naming the field, for a broken envelope.
        """
        event = read(cls, envelope)
        for name, rule in ENVELOPE_RULES_OF.get(event.type, {}).items():
            check(rule, getattr(event, name), camel(name))
        return event

    @classmethod
    def from_json(cls, body: str | bytes) -> DomainEvent:
        """`from_envelope` of a JSON text (an SQS body, a Kinesis record); malformed JSON is a ValueError too."""
        return cls.from_envelope(json.loads(body))

    def record(self) -> EventData:
        """`data` as its type's record (OrderCompleted, ...); raises ContractViolation when it is not one."""
        return read(DATA_OF[self.type], self.data, "data")

    def data_as[Data](self, record: builtins.type[Data]) -> Data:  # `type` here is the field
        """`data` as `record`, which must be its type's (DATA_OF); raises ContractViolation when it is not one."""
        if DATA_OF[self.type] is not record:
            raise ContractViolation(f"a {self.type} event carries no {record.__name__}")
        return read(record, self.data, "data")

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


# ---------------------------------------------------------------- each type's data
# A record's docstring is its event's description in the schema registry.


@dataclass(frozen=True)
class OrderItem:
    sku: Sku
    quantity: Quantity


@dataclass(frozen=True)
class ShippingAddress:
    name: AddressLine
    line1: AddressLine
    city: AddressLine
    postal_code: Annotated[str, Rule(min_length=1, max_length=20)]
    country: Annotated[str, Rule(pattern=r"^[A-Z]{2}$")]
    line2: AddressLine | None = None


@dataclass(frozen=True)
class PricedLine:
    sku: Sku
    quantity: Quantity
    unit_price: Annotated[int, Rule(minimum=0, description="Price of one unit, in minor units.")]


@dataclass(frozen=True)
class OrderPlaced:
    """A customer placed an order; version 1 of every order."""

    customer_id: NonEmpty
    items: Annotated[list[OrderItem], Lines]
    shipping_address: ShippingAddress
    currency: Annotated[str, Rule(pattern=r"^[A-Z]{3}$")]
    payment_token: (
        Annotated[
            str,
            Rule(
                pattern=r"^tok_[a-z0-9_]{1,60}$",
                description="The card token the payment provider issued; the sandbox declines tok_declined.",
            ),
        ]
        | None
    ) = None


@dataclass(frozen=True)
class InventoryReserved:
    """Stock for every line of the order is reserved; the fulfilment saga's first step."""

    fulfilment_id: Annotated[str, Rule(min_length=1, description="The fulfilment's Step Functions execution ARN.")]
    lines: Annotated[list[PricedLine], Lines]
    amount: Annotated[int, Rule(minimum=0, description="Total of the lines, in minor units of the currency.")]
    currency: Currency


PaymentId = Annotated[str, Rule(min_length=1, description="The payment provider's id of the payment.")]


@dataclass(frozen=True)
class PaymentData:
    """A payment's id and amount: the data of every payment event (each subclass says which one)."""

    payment_id: PaymentId
    amount: MinorUnits
    currency: Currency


@dataclass(frozen=True)
class PaymentRequested(PaymentData):
    """The payment provider was asked to charge the order; fulfilment waits for its webhook."""


@dataclass(frozen=True)
class PaymentCaptured(PaymentData):
    """The payment provider confirmed the charge (from its webhook)."""


@dataclass(frozen=True)
class ShipmentArranged:
    """A carrier accepted the shipment of the order."""

    tracking_id: Annotated[str, Rule(min_length=1, description="The carrier's tracking id.")]
    carrier: Annotated[str, Rule(min_length=1, description="Which carrier ships the order.")]


@dataclass(frozen=True)
class OrderCompleted:
    """The order is paid and shipped: fulfilment succeeded."""

    customer_id: NonEmpty
    amount: MinorUnits
    currency: Currency


@dataclass(frozen=True)
class InventoryReleased:
    """Compensation: the order's reserved stock was returned."""

    lines: Annotated[list[PricedLine], Lines]


@dataclass(frozen=True)
class PaymentRefunded(PaymentData):
    """Compensation: the order's captured payment was refunded."""


@dataclass(frozen=True)
class OrderFailed:
    """Fulfilment stopped on a business outcome or a technical failure; what was done has been compensated."""

    customer_id: NonEmpty
    reason: Annotated[str, Rule(min_length=1, description="Why, in words a customer can read.")]
    error: Annotated[
        str,
        Rule(
            min_length=1,
            description=(
                "The business error's name (OutOfStock, PaymentDeclined, PaymentTimedOut, ShipmentFailed,"
                " OrderCancelled), or TechnicalFailure."
            ),
        ),
    ]


@dataclass(frozen=True)
class OrderCancelled:
    """The customer cancelled the order before it shipped."""

    customer_id: NonEmpty
    reason: NonEmpty


@dataclass(frozen=True)
class OrderExpired:
    """The reconciler found the order unfinished past its deadline and settled it."""

    customer_id: NonEmpty
    reason: Annotated[str, Rule(min_length=1, description="Why the order expired, in words a customer can read.")]


@dataclass(frozen=True)
class CurrencySales:
    currency: Annotated[str, Rule(pattern=r"^[A-Z]{3}$")]
    orders: Annotated[int, Rule(minimum=1, description="Completed orders.")]
    revenue: Annotated[int, Rule(minimum=0, description="Their amounts' sum, in minor units.")]


@dataclass(frozen=True)
class DailySalesSummarised:
    """Once a day, the UTC day before's completed-order sales per currency, totalled from the per-minute sales table."""

    day: Annotated[str, Rule(pattern=r"^\d{4}-\d{2}-\d{2}$", description="The UTC day summarised.")]
    sales: Annotated[
        list[CurrencySales],
        Rule(description="One entry per currency sold in, in currency order; empty when nothing was sold."),
    ]


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

EventData = (
    OrderPlaced
    | InventoryReserved
    | PaymentRequested
    | PaymentCaptured
    | ShipmentArranged
    | OrderCompleted
    | InventoryReleased
    | PaymentRefunded
    | OrderFailed
    | OrderCancelled
    | OrderExpired
    | DailySalesSummarised
)

DATA_OF: dict[EventType, type[EventData]] = {
    EventType.ORDER_PLACED: OrderPlaced,
    EventType.INVENTORY_RESERVED: InventoryReserved,
    EventType.PAYMENT_REQUESTED: PaymentRequested,
    EventType.PAYMENT_CAPTURED: PaymentCaptured,
    EventType.SHIPMENT_ARRANGED: ShipmentArranged,
    EventType.ORDER_COMPLETED: OrderCompleted,
    EventType.INVENTORY_RELEASED: InventoryReleased,
    EventType.PAYMENT_REFUNDED: PaymentRefunded,
    EventType.ORDER_FAILED: OrderFailed,
    EventType.ORDER_CANCELLED: OrderCancelled,
    EventType.ORDER_EXPIRED: OrderExpired,
    EventType.DAILY_SALES_SUMMARISED: DailySalesSummarised,
}
