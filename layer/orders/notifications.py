"""Customer notifications for order outcomes: what to say, and the notifier that says it.

The outcome events arrive from the fan-out (EventBridge -> SNS -> SQS, raw delivery), so an
SQS message body is exactly `DomainEvent.envelope()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from orders.events import EventType
from orders.messages import CURRENCY, Fields, MalformedMessage


@dataclass(frozen=True)
class CompletedData:
    customer_id: str
    amount: int  # minor units (cents)
    currency: str


@dataclass(frozen=True)
class FailedData:
    customer_id: str
    reason: str
    error: str


@dataclass(frozen=True)
class EndedData:
    """Cancelled or expired: the order ended before completion, for `reason`."""

    customer_id: str
    reason: str


@dataclass(frozen=True)
class _Outcome:
    event_id: str
    order_id: str
    version: int
    occurred_at: datetime
    correlation_id: str


@dataclass(frozen=True)
class OrderCompletedEvent(_Outcome):
    data: CompletedData


@dataclass(frozen=True)
class OrderFailedEvent(_Outcome):
    data: FailedData


@dataclass(frozen=True)
class OrderCancelledEvent(_Outcome):
    data: EndedData


@dataclass(frozen=True)
class OrderExpiredEvent(_Outcome):
    data: EndedData


OutcomeEvent = OrderCompletedEvent | OrderFailedEvent | OrderCancelledEvent | OrderExpiredEvent


def _envelope(event: Fields) -> dict[str, Any]:
    """What every outcome's envelope carries besides its type and data."""
    return {
        "event_id": event.text("eventId"),
        "order_id": event.text("orderId"),
        "version": event.integer("version", minimum=1),
        "occurred_at": event.instant("occurredAt"),
        "correlation_id": event.text("correlationId"),
    }


def _completed(event: Fields) -> OutcomeEvent:
    data = event.object("data")
    return OrderCompletedEvent(
        **_envelope(event),
        data=CompletedData(data.text("customerId"), data.integer("amount"), data.text("currency", CURRENCY)),
    )


def _failed(event: Fields) -> OutcomeEvent:
    data = event.object("data")
    return OrderFailedEvent(
        **_envelope(event), data=FailedData(data.text("customerId"), data.text("reason"), data.text("error"))
    )


def _ended(event_class: type[OrderCancelledEvent | OrderExpiredEvent]) -> Callable[[Fields], OutcomeEvent]:
    def read(event: Fields) -> OutcomeEvent:
        data = event.object("data")
        return event_class(**_envelope(event), data=EndedData(data.text("customerId"), data.text("reason")))

    return read


_READERS: dict[str, Callable[[Fields], OutcomeEvent]] = {
    EventType.ORDER_COMPLETED: _completed,
    EventType.ORDER_FAILED: _failed,
    EventType.ORDER_CANCELLED: _ended(OrderCancelledEvent),
    EventType.ORDER_EXPIRED: _ended(OrderExpiredEvent),
}


def parse_outcome(body: str) -> OutcomeEvent:
    """The outcome event an SQS body carries (its envelope); raises MalformedMessage for anything else.

    Fields the envelope has beyond these are ignored, so a producer can add one without failing its consumers.
    """
    event = Fields.parse(body)
    kind = event.text("type")
    if kind not in _READERS:
        raise MalformedMessage(f"type must be an outcome ({', '.join(_READERS)}), not {kind}")
    return _READERS[kind](event)


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
