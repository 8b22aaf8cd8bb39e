"""Customer notifications for order outcomes: what to say, and the notifier that says it.

The outcome events arrive from the fan-out (EventBridge -> SNS -> SQS, raw delivery), so an
SQS message body is exactly `DomainEvent.envelope()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from orders.events import EventType

NonEmpty = Annotated[str, Field(min_length=1)]


class _Wire(BaseModel):
    """camelCase on the wire and in dumps: Powertools idempotency keys on the dump (`eventId`).

    Unknown fields are ignored, so a producer can add one without failing its consumers.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, frozen=True)


class CompletedData(_Wire):
    customer_id: NonEmpty
    amount: Annotated[int, Field(ge=0, strict=True, description="minor units (cents)")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class FailedData(_Wire):
    customer_id: NonEmpty
    reason: NonEmpty
    error: NonEmpty


class EndedData(_Wire):
    """Cancelled or expired: the order ended before completion, for `reason`."""

    customer_id: NonEmpty
    reason: NonEmpty


class _Outcome(_Wire):
    event_id: NonEmpty
    order_id: NonEmpty
    version: Annotated[int, Field(ge=1)]
    occurred_at: AwareDatetime
    correlation_id: NonEmpty


class OrderCompletedEvent(_Outcome):
    type: Literal[EventType.ORDER_COMPLETED]
    data: CompletedData


class OrderFailedEvent(_Outcome):
    type: Literal[EventType.ORDER_FAILED]
    data: FailedData


class OrderCancelledEvent(_Outcome):
    type: Literal[EventType.ORDER_CANCELLED]
    data: EndedData


class OrderExpiredEvent(_Outcome):
    type: Literal[EventType.ORDER_EXPIRED]
    data: EndedData


OutcomeEvent = Annotated[
    OrderCompletedEvent | OrderFailedEvent | OrderCancelledEvent | OrderExpiredEvent, Field(discriminator="type")
]
_outcome = TypeAdapter[OutcomeEvent](OutcomeEvent)


def parse_outcome(body: str) -> OutcomeEvent:
    """The outcome event an SQS body carries; raises pydantic's ValidationError for anything else."""
    return _outcome.validate_json(body)


@dataclass(frozen=True)
class Notification:
    """One message to one customer. The notifier resolves the customer's contact details."""

    event_id: str
    order_id: str
    customer_id: str
    subject: str
    text: str


# ISO 4217 currencies without a minor unit; every other currency the shop takes has two decimals.
_ZERO_DECIMAL_CURRENCIES = frozenset({"CLP", "ISK", "JPY", "KRW", "PYG", "UGX", "VND", "XAF", "XOF"})


def format_amount(amount: int, currency: str) -> str:
    """`amount` in minor units, as a customer reads it: 2500 EUR -> "25.00 EUR"."""
    if currency in _ZERO_DECIMAL_CURRENCIES:
        return f"{amount} {currency}"
    return f"{amount // 100}.{amount % 100:02d} {currency}"


def notification_for(outcome: OutcomeEvent) -> Notification:
    """What the customer is told about how their order ended."""
    order = outcome.order_id
    match outcome:
        case OrderCompletedEvent(data=data):
            subject = f"Your order {order} is complete"
            text = f"Thank you! Your order {order} of {format_amount(data.amount, data.currency)} is complete."
        case OrderFailedEvent(data=data):
            # `error` names the internal failure (PaymentDeclined, ...); the customer reads `reason`.
            subject = f"We could not complete your order {order}"
            text = f"Your order {order} could not be completed: {data.reason}. Anything you paid is refunded."
        case OrderCancelledEvent(data=data):
            subject = f"Your order {order} is cancelled"
            text = f"Your order {order} is cancelled: {data.reason}."
        case OrderExpiredEvent(data=data):
            subject = f"Your order {order} has expired"
            text = f"Your order {order} was not completed in time and has expired: {data.reason}."
    return Notification(outcome.event_id, order, outcome.data.customer_id, subject, text)


class Notifier(Protocol):
    """Sends one notification to a customer: once per outcome event, again only if a send raised."""

    def send(self, notification: Notification) -> None: ...


class SandboxNotifier:
    """Sends nothing: logs the notification and counts it in the `NotificationsSent` metric.

    The stand-in a team replaces with its channel (Amazon SES, Pinpoint, a push service): a class
    with the same `send`, looking up the customer's address by `customer_id`.
    """

    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self._logger = logger
        self._metrics = metrics

    def send(self, notification: Notification) -> None:
        self._logger.info(
            "notification sent (sandbox)",
            event_id=notification.event_id,
            order_id=notification.order_id,
            customer_id=notification.customer_id,
            subject=notification.subject,
            text=notification.text,
        )
        self._metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
