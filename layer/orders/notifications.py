"""Customer notifications for order outcomes: what to say, and the notifier that says it.

The outcome events arrive from the fan-out (EventBridge -> SNS -> SQS, raw delivery), so an
SQS message body is exactly `DomainEvent.envelope()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from orders.event_data import OrderCancelled, OrderCompleted, OrderExpired, OrderFailed, record
from orders.events import DomainEvent, EventType
from orders.wire import ContractViolation

OUTCOMES = frozenset(
    {EventType.ORDER_COMPLETED, EventType.ORDER_FAILED, EventType.ORDER_CANCELLED, EventType.ORDER_EXPIRED}
)


def parse_outcome(body: str) -> DomainEvent:
    """The outcome event an SQS body carries; raises ValueError (ContractViolation) for anything else."""
    event = DomainEvent.from_json(body)
    if event.type not in OUTCOMES:
        raise ContractViolation(f"type is {event.type}, not an order outcome")
    record(event)  # its data too: a notification reads it
    return event


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


def notification_for(outcome: DomainEvent) -> Notification:
    """What the customer is told about how their order ended."""
    order = outcome.order_id
    match record(outcome):
        case OrderCompleted(customer_id=customer, amount=amount, currency=currency):
            subject = f"Your order {order} is complete"
            text = f"Thank you! Your order {order} of {format_amount(amount, currency)} is complete."
        case OrderFailed(customer_id=customer, reason=reason):
            # `error` names the internal failure (PaymentDeclined, ...); the customer reads `reason`.
            subject = f"We could not complete your order {order}"
            text = f"Your order {order} could not be completed: {reason}. Anything you paid is refunded."
        case OrderCancelled(customer_id=customer, reason=reason):
            subject = f"Your order {order} is cancelled"
            text = f"Your order {order} is cancelled: {reason}."
        case OrderExpired(customer_id=customer, reason=reason):
            subject = f"Your order {order} has expired"
            text = f"Your order {order} was not completed in time and has expired: {reason}."
        case _:
            raise ContractViolation(f"type is {outcome.type}, not an order outcome")
    return Notification(outcome.event_id, order, customer, subject, text)


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
