"""The fulfilment saga's steps: what each Lambda task of statemachines/order_fulfillment.asl.yaml does.

Every step loads the order from the event store, decides from what is true now, acts through
an adapter, and appends its event with optimistic concurrency. Each one is safe to run twice:
a Step Functions retry, a redelivered OrderPlaced that started a second execution, or a
reconciler running the same compensation.

The saga holds the invariant of orders/order.py (ENDED_UNFULFILLED): any error of any forward
step, after its retries, leads to the compensations, refund then release; what a failure leaves
held anyway (a compensation that kept failing, an execution that timed out or was stopped, a
cancel after the execution ended) is given back by `Compensator`, from cancel or the reconciler.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from orders.commands import decide_and_append, load_order
from orders.errors import DuplicateFulfilment, FulfilmentStopped, OrderCancelled, PaymentDeclined, TransientFailure
from orders.event_store import EventStore
from orders.events import DomainEvent, EventType
from orders.fulfilments import Fulfilments
from orders.inventory import Inventory
from orders.order import FINAL, Order, OrderStatus
from orders.payments import Payment, PaymentLedger, PaymentProvider, PaymentState
from orders.shipping import ShippingProvider
from orders.task_tokens import TaskCallbacks

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

# The order's path when all goes well; a step expects the order at its own point of it.
_HAPPY_PATH = [
    OrderStatus.PLACED,
    OrderStatus.INVENTORY_RESERVED,
    OrderStatus.AWAITING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.COMPLETED,
]
PAYMENT_TIMED_OUT = "PaymentTimedOut"


@dataclass(frozen=True)
class Step:
    """What the state machine passes every step (see the Payload of each task)."""

    order_id: str
    fulfilment_id: str  # the execution's ARN: the first step records it on the order
    correlation_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Step:
        return cls(
            order_id=str(event["orderId"]),
            fulfilment_id=str(event["fulfilmentId"]),
            correlation_id=str(event.get("correlationId") or event["orderId"]),
        )


def _owned_elsewhere(order: Order, step: Step) -> bool:
    return order.fulfilment_id not in (None, step.fulfilment_id)


def _has_work(order: Order, step: Step, expected: OrderStatus) -> bool:
    """True when the order waits for this step; False when this execution already did it (a retry).

    Raises DuplicateFulfilment when another execution owns the order, and OrderCancelled when
    the order was cancelled or expired under the saga, which then compensates.
    """
    if _owned_elsewhere(order, step):
        raise DuplicateFulfilment(f"order {order.order_id} is fulfilled by {order.fulfilment_id}")
    if order.status in {OrderStatus.CANCELLED, OrderStatus.EXPIRED}:
        raise OrderCancelled(f"order {order.order_id} was {order.status.value.lower()}")
    if order.status in FINAL:
        if order.fulfilment_id is None:  # ended before any execution claimed it (e.g. out of stock)
            raise DuplicateFulfilment(f"order {order.order_id} already ended {order.status.value}")
        return False
    position, wanted = _HAPPY_PATH.index(order.status), _HAPPY_PATH.index(expected)
    if position < wanted:
        raise TransientFailure(f"order {order.order_id} is {order.status.value}, not yet {expected.value}")
    return position == wanted


def _next_if_due(step: Step, expected: OrderStatus, event_type: EventType, data: dict[str, Any]) -> Any:
    def decide(order: Order) -> DomainEvent | None:
        if not _has_work(order, step, expected):
            return None
        return order.next_event(event_type, step.correlation_id, data)

    return decide


# ---------------------------------------------------------------- forward steps


def reserve_inventory(store: EventStore, inventory: Inventory, step: Step) -> Order:
    order = load_order(store, step.order_id)
    if not _has_work(order, step, OrderStatus.PLACED):
        return order
    lines = inventory.reserve(order.order_id, order.view["items"])
    data = {
        "fulfilmentId": step.fulfilment_id,
        "lines": lines,
        "amount": sum(line["quantity"] * line["unitPrice"] for line in lines),
        "currency": order.view["currency"],
    }
    return decide_and_append(
        store, step.order_id, _next_if_due(step, OrderStatus.PLACED, EventType.INVENTORY_RESERVED, data)
    )


def request_payment(
    store: EventStore, ledger: PaymentLedger, provider: PaymentProvider, step: Step, task_token: str
) -> Order:
    """Ask for the money and leave the token the payment outcome resumes the execution with."""
    order = load_order(store, step.order_id)
    due = _has_work(order, step, OrderStatus.INVENTORY_RESERVED)
    if not due and order.status is not OrderStatus.AWAITING_PAYMENT:
        return order
    amount, currency = int(order.view["amount"]), str(order.view["currency"])
    try:
        payment_id = provider.request_payment(order.order_id, amount, currency, order.view.get("paymentToken"))
    except PaymentDeclined:
        ledger.record_declined(order.order_id, amount, currency)
        raise
    # A retried step brings a new token: store it, so the outcome resumes the attempt that waits.
    ledger.record_request(Payment(order.order_id, PaymentState.REQUESTED, payment_id, amount, currency, task_token))
    data = {"paymentId": payment_id, "amount": amount, "currency": currency}
    return decide_and_append(
        store, step.order_id, _next_if_due(step, OrderStatus.INVENTORY_RESERVED, EventType.PAYMENT_REQUESTED, data)
    )


def arrange_shipment(store: EventStore, shipping: ShippingProvider, step: Step) -> Order:
    order = load_order(store, step.order_id)
    if not _has_work(order, step, OrderStatus.PAID):
        return order
    shipment = shipping.arrange(order.order_id, order.view["shippingAddress"], order.view["lines"])
    data = {"trackingId": shipment.tracking_id, "carrier": shipment.carrier}
    return decide_and_append(
        store, step.order_id, _next_if_due(step, OrderStatus.PAID, EventType.SHIPMENT_ARRANGED, data)
    )


def complete_order(store: EventStore, step: Step) -> Order:
    def decide(order: Order) -> DomainEvent | None:
        if not _has_work(order, step, OrderStatus.SHIPPED):
            return None
        data = {"customerId": order.customer_id, "amount": order.view["amount"], "currency": order.view["currency"]}
        return order.next_event(EventType.ORDER_COMPLETED, step.correlation_id, data)

    return decide_and_append(store, step.order_id, decide)


# ---------------------------------------------------------------- compensations (also run by the reconciler)


def refund_payment(
    store: EventStore, ledger: PaymentLedger, provider: PaymentProvider, order_id: str, correlation_id: str
) -> Order:
    """Give back a captured payment, once; a payment still pending is abandoned, so a late capture is refunded."""
    payment = ledger.get(order_id)
    order = load_order(store, order_id)
    if payment is not None and payment.state is PaymentState.REQUESTED:
        if ledger.abandon(order_id) is not None:
            return order
        payment = ledger.get(order_id)  # its webhook settled it meanwhile: refund if it was captured
    if payment is None or payment.state not in {PaymentState.CAPTURED, PaymentState.REFUNDED}:
        return order
    if not order.view.get("paymentRefunded"):
        provider.refund(payment.payment_id, payment.amount, payment.currency)  # idempotent at the provider

        def decide(current: Order) -> DomainEvent | None:
            if current.view.get("paymentRefunded"):
                return None
            data = {"paymentId": payment.payment_id, "amount": payment.amount, "currency": payment.currency}
            return current.next_event(EventType.PAYMENT_REFUNDED, correlation_id, data)

        order = decide_and_append(store, order_id, decide)
    ledger.mark_refunded(order_id)
    return order


def release_inventory(store: EventStore, inventory: Inventory, order_id: str, correlation_id: str) -> Order:
    """Put reserved stock back, once; nothing to do when nothing was reserved."""
    released = inventory.release(order_id)

    def decide(order: Order) -> DomainEvent | None:
        lines = released or order.view.get("lines")
        if order.view.get("inventoryReleased") or not lines:
            return None
        return order.next_event(EventType.INVENTORY_RELEASED, correlation_id, {"lines": lines})

    return decide_and_append(store, order_id, decide)


def compensation_step(store: EventStore, step: Step, compensate: Callable[[], Order]) -> Order:
    """Run a compensation for this execution, unless another execution fulfils the order.

    A duplicate execution (a redelivered OrderPlaced) that fails before its first step sees the owner
    reaches the compensations too: it must not give back what the owner's fulfilment holds.
    """
    order = load_order(store, step.order_id)
    if _owned_elsewhere(order, step):
        return order
    return compensate()


@dataclass(frozen=True)
class Compensator:
    """The compensations outside the state machine: for a cancel with no execution left, and for the reconciler."""

    store: EventStore
    ledger: PaymentLedger
    provider: PaymentProvider
    inventory: Inventory

    def holds_anything(self, order_id: str) -> bool:
        """True while the order has a payment not given back (captured or still requested) or reserved stock."""
        payment = self.ledger.get(order_id)
        if payment is not None and payment.state in {PaymentState.REQUESTED, PaymentState.CAPTURED}:
            return True
        return bool(self.inventory.reservation(order_id))

    def compensate(self, order_id: str, correlation_id: str) -> Order:
        """Refund, then release, as the saga does; each is a no-op when there is nothing to give back."""
        refund_payment(self.store, self.ledger, self.provider, order_id, correlation_id)
        return release_inventory(self.store, self.inventory, order_id, correlation_id)


def hand_back_cancelled(
    compensator: Compensator, callbacks: TaskCallbacks, fulfilments: Fulfilments, order: Order, correlation_id: str
) -> Order:
    """After a cancel, make sure the order's money and stock go back, by whoever can still do it.

    A running execution compensates: one waiting for the payment is failed at once, one at another step
    sees the cancellation at its next read. With no execution running any more (it ended, or failed
    before it claimed the order), nobody else will: compensate here. Asking first whether it runs, not
    whether its token is still answered, keeps this right where a token outlives its execution (moto).
    If the execution ends between the two, the reconciler finds it among the executions that ended.
    """
    if order.status is not OrderStatus.CANCELLED:
        return order
    if order.fulfilment_id and fulfilments.is_running(order.fulfilment_id):
        stop_waiting_for_payment(
            compensator.ledger, callbacks, order.order_id, error=OrderCancelled.__name__, cause="cancelled by customer"
        )
        return order
    return compensator.compensate(order.order_id, correlation_id)


# Any error but these business outcomes is a technical failure: a bug, an outage, a timeout.
TECHNICAL_FAILURE = "TechnicalFailure"
_BUSINESS_ERRORS = frozenset({error.__name__ for error in FulfilmentStopped.__subclasses__()} | {PAYMENT_TIMED_OUT})

# What to tell the customer when the error carries no message of its own.
_REASON_OF = {
    PAYMENT_TIMED_OUT: "no payment outcome arrived in time",
    "PaymentDeclined": "the payment was declined",
    "OutOfStock": "some items are out of stock",
    "ShipmentFailed": "the order could not be shipped",
}


# The customer reads the reason (notifications); which error it was is in the execution's history and the logs.
TECHNICAL_FAILURE_REASON = "a technical failure stopped fulfilment"


def failure_of(error: dict[str, Any]) -> tuple[str, str]:
    """The business error's name and a reason a person can read, from the state machine's Catch output.

    A Lambda error's Cause is its JSON error payload; a SendTaskFailure's Cause is the text it was given.
    Any other error is a technical failure: its message is for the logs, not for the customer.
    """
    name = str(error.get("Error", "Unknown"))
    if name == "States.Timeout":
        name = PAYMENT_TIMED_OUT
    if name not in _BUSINESS_ERRORS:
        return TECHNICAL_FAILURE, TECHNICAL_FAILURE_REASON
    cause = error.get("Cause") or ""
    try:
        message = json.loads(cause).get("errorMessage") if cause.startswith("{") else cause
    except (ValueError, AttributeError):
        message = cause
    return name, str(message or _REASON_OF.get(name, name))


def fail_order(store: EventStore, step: Step, error: dict[str, Any]) -> Order:
    """Record why fulfilment stopped, unless the order already ended (cancelled, expired) or is not this execution's."""
    name, reason = failure_of(error)

    def decide(order: Order) -> DomainEvent | None:
        if order.status in FINAL or _owned_elsewhere(order, step):
            return None
        data = {"customerId": order.customer_id, "reason": reason, "error": name}
        return order.next_event(EventType.ORDER_FAILED, step.correlation_id, data)

    return decide_and_append(store, step.order_id, decide)


# ---------------------------------------------------------------- resuming a waiting execution


def stop_waiting_for_payment(
    ledger: PaymentLedger, callbacks: TaskCallbacks, order_id: str, error: str, cause: str
) -> bool:
    """Fail the payment task an execution waits on, so the saga compensates; False when nothing waits."""
    payment = ledger.get(order_id)
    if payment is None or payment.state is not PaymentState.REQUESTED or not payment.task_token:
        return False
    return callbacks.fail(payment.task_token, error, cause)


# ---------------------------------------------------------------- what the state machine retries

# AWS answers that mean "try again shortly"; a step raises them as TransientFailure, which the ASL retries.
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


StepWork = Callable[[Step, dict[str, Any]], Order]
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def step_handler(logger: Logger) -> Callable[[StepWork], LambdaHandler]:
    """The Lambda side every step shares: read the Step, tag the logs, make transient errors retryable, answer.

    Throttling and service errors become TransientFailure, the error name the state machine retries.
    """

    def wrap(work: StepWork) -> LambdaHandler:
        @functools.wraps(work)
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            del context  # steps need nothing from it
            step = Step.from_event(event)
            logger.append_keys(order_id=step.order_id, fulfilment_id=step.fulfilment_id)
            try:
                order = work(step, event)
            except ClientError as error:
                if error.response["Error"]["Code"] in _TRANSIENT_CODES:
                    raise TransientFailure(str(error)) from error
                raise
            except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as error:
                raise TransientFailure(str(error)) from error
            return {"orderId": order.order_id, "status": order.status.value, "version": order.version}

        return handler

    return wrap
