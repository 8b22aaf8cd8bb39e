"""The payment-events consumer's half of the domain: settle a payment and resume the execution waiting on it.

The fulfilment saga's RequestPayment step left a task token in the payment ledger and waits.
A webhook (orders/webhook.py) later says how the payment ended; settling it here records that in
the ledger, appends PaymentCaptured when the order still awaits payment, and tells the waiting
execution. A payment captured after the saga stopped waiting for it (the order was cancelled or
expired, or the wait timed out) is refunded here: no execution is left to do it. Every step is conditional or
idempotent, so a redelivered webhook changes nothing twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from orders.commands import decide_and_append
from orders.errors import PaymentDeclined, TransientFailure
from orders.events import DomainEvent, EventType
from orders.order import ENDED_UNFULFILLED, Order, OrderStatus
from orders.payments import Payment, PaymentState
from orders.task_tokens import TaskCallbacks
from orders.webhook import PaymentWebhookType, WebhookDelivery

if TYPE_CHECKING:
    from orders.event_store import EventStore
    from orders.payments import PaymentLedger, PaymentProvider

# Before these are over, the saga has not asked for a payment: a webhook now raced ahead of it.
_BEFORE_PAYMENT_REQUEST = frozenset({OrderStatus.PLACED, OrderStatus.INVENTORY_RESERVED})

DECLINED_WITHOUT_REASON = "the payment provider declined the payment"


class Settlement(StrEnum):
    """What one webhook delivery did. Only RESUMED is the usual path; the rest are acknowledged, never retried."""

    RESUMED = "resumed"  # the ledger is settled and the waiting execution has the outcome
    NOT_WAITED_ON = "not waited on"  # settled, but no execution waits any more (a redelivery, or it timed out)
    REFUNDED = "refunded"  # captured after the saga stopped waiting for it: given back
    ALREADY_ENDED = "already ended"  # the payment had ended the other way: a late or contradicting webhook
    NO_PAYMENT = "no payment"  # an unknown order, or one that ended before its payment was requested
    OTHER_PAYMENT = "other payment"  # the webhook is not about the payment the order waits for


def payment_captured(order: Order, payment: Payment, correlation_id: str) -> DomainEvent | None:
    """PaymentCaptured while the order awaits payment; None otherwise.

    Already PAID: a redelivery. Cancelled, expired or failed meanwhile: the order takes no payment;
    the resumed saga refunds it, or PaymentSettler does when no execution waits any more.
    """
    if order.status is not OrderStatus.AWAITING_PAYMENT:
        return None
    return order.next_event(
        EventType.PAYMENT_CAPTURED,
        correlation_id,
        {"paymentId": payment.payment_id, "amount": payment.amount, "currency": payment.currency},
    )


class PaymentSettler:
    """Settles each payment webhook against the ledger, the order's events and the waiting execution."""

    def __init__(
        self, store: EventStore, ledger: PaymentLedger, provider: PaymentProvider, callbacks: TaskCallbacks
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._provider = provider
        self._callbacks = callbacks

    def settle(self, delivery: WebhookDelivery) -> Settlement:
        """Record how the payment ended and resume the execution waiting on it.

        Raises TransientFailure when the webhook arrived before the saga asked for the payment,
        so that the message is delivered again later.
        """
        notice = delivery.data
        events = self._store.load(notice.order_id)
        if not events:
            return Settlement.NO_PAYMENT
        order = Order.from_events(events)
        if order.status in _BEFORE_PAYMENT_REQUEST:
            raise TransientFailure(f"order {order.order_id} has not requested its payment yet")
        # The saga records the request in the ledger before it appends PaymentRequested.
        requested = self._ledger.get(order.order_id)
        if requested is None:
            return Settlement.NO_PAYMENT
        if (requested.payment_id, requested.amount, requested.currency) != (
            notice.payment_id,
            notice.amount,
            notice.currency,
        ):
            return Settlement.OTHER_PAYMENT
        # The flow's correlation id, set when the order was placed, so the whole saga reads as one trace.
        correlation_id = events[0].correlation_id
        if delivery.type is PaymentWebhookType.SUCCEEDED:
            return self._captured(order.order_id, correlation_id)
        return self._declined(order.order_id, notice.failure_reason or DECLINED_WITHOUT_REASON)

    def _captured(self, order_id: str, correlation_id: str) -> Settlement:
        payment = self._ledger.settle(order_id, PaymentState.CAPTURED)
        if payment is None:
            if self._ledger.capture_abandoned(order_id) is None:
                return Settlement.ALREADY_ENDED
            # The saga gave up on this payment before it was captured: nobody will refund it but us.
            return self._refund(order_id, correlation_id)
        order = decide_and_append(self._store, order_id, lambda order: payment_captured(order, payment, correlation_id))
        output = {"paymentId": payment.payment_id, "amount": payment.amount}
        if payment.task_token and self._callbacks.succeed(payment.task_token, output):
            return Settlement.RESUMED
        if order.status in ENDED_UNFULFILLED:  # ended without being paid: the capture is not wanted
            return self._refund(order_id, correlation_id)
        return Settlement.NOT_WAITED_ON

    def _refund(self, order_id: str, correlation_id: str) -> Settlement:
        # A rare path (a payment captured after the saga stopped waiting): the saga's module, and the
        # inventory, shipping and execution modules it brings, are imported only when it is taken.
        from orders.saga import refund_payment  # noqa: PLC0415 - off the cold start, see above

        refund_payment(self._store, self._ledger, self._provider, order_id, correlation_id)
        return Settlement.REFUNDED

    def _declined(self, order_id: str, reason: str) -> Settlement:
        payment = self._ledger.settle(order_id, PaymentState.DECLINED)
        if payment is None:
            return Settlement.ALREADY_ENDED
        if payment.task_token and self._callbacks.fail(payment.task_token, PaymentDeclined.__name__, reason):
            return Settlement.RESUMED
        return Settlement.NOT_WAITED_ON
