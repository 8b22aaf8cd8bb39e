"""Each event type's data record: what `DomainEvent.data` holds, and the one reader that checks it.

orders.events holds the envelope every function reads; these records only the functions that read an event's
data import (notifications, analytics), as defining them is a cost of every cold start that imports them. A
record's docstring is its event's description in the schema registry (orders.event_schemas). A new event
type: its record here and an entry in DATA_OF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from orders.events import DomainEvent, EventType, NonEmpty
from orders.wire import ContractViolation, Rule, read

MinorUnits = Annotated[int, Rule(minimum=0, description="In minor units of the currency (cents for USD).")]
Currency = Annotated[str, Rule(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]
Sku = Annotated[str, Rule(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
Quantity = Annotated[int, Rule(minimum=1, maximum=100)]
AddressLine = Annotated[str, Rule(min_length=1, max_length=200)]
Lines = Rule(min_items=1, max_items=50)


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


def record(event: DomainEvent) -> EventData:
    """The event's data as its type's record (OrderCompleted, ...); raises ContractViolation when it is not one."""
    return read(DATA_OF[event.type], event.data, "data")


def data_as[Data](event: DomainEvent, kind: type[Data]) -> Data:
    """The event's data as `kind`, which must be its type's record (DATA_OF); raises ContractViolation otherwise."""
    if DATA_OF[event.type] is not kind:
        raise ContractViolation(f"a {event.type} event carries no {kind.__name__}")
    return read(kind, event.data, "data")
