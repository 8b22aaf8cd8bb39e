"""The payment-events consumer: a webhook settles the payment once and resumes the execution waiting on it.

Each test drives the real pair of functions: the webhook function queues a signed delivery, and
the queue's template mapping delivers it to the consumer. The execution that waits is a one-state
machine standing in for the saga's RequestPayment (tests/handlers/test_fulfilment.py runs the real saga).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from drivers.payment_provider import Delivery, signed_delivery
from drivers.seed import seed_inventory
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.queues import Invocation, QueueMapping
from orders import saga
from orders.commands import cancel_order
from orders.event_store import EventStore
from orders.events import EventType
from orders.inventory import Inventory
from orders.payments import Payment, PaymentLedger, PaymentState, SandboxPaymentProvider
from orders.webhook import PaymentWebhookType
from tests.support import ALICE, ALICES_ORDER, item_count, sample_event, stored_events, webhook_secret, with_header

ALICES_TOTAL = 2 * 1250 + 1 * 1800  # two mugs and a plate (seed/inventory.json), in cents
NOT_A_TOKEN = "a-token-no-execution-waits-on"  # noqa: S105 - a task token, not a credential
WAIT_SECONDS = 10


def _until[T](read: Callable[[], T | None], what: str) -> T:
    """Poll until `read()` answers: moto runs executions in their own threads."""
    deadline = time.monotonic() + WAIT_SECONDS
    while (value := read()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {WAIT_SECONDS}s")
        time.sleep(0.02)
    return value


class WaitingExecution:
    """An execution waiting on a task token, as the saga's RequestPayment does (here the token goes to a queue)."""

    def __init__(self) -> None:
        self._sqs, self._states = boto3.client("sqs"), boto3.client("stepfunctions")
        self._tokens = self._sqs.create_queue(QueueName="payment-task-tokens")["QueueUrl"]
        definition = {
            "StartAt": "RequestPayment",
            "States": {
                "RequestPayment": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": self._tokens, "MessageBody": {"taskToken.$": "$$.Task.Token"}},
                    "End": True,
                }
            },
        }
        machine = self._states.create_state_machine(
            name="waits-for-payment", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/local"
        )["stateMachineArn"]
        self.arn = self._states.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        self.token = _until(self._token, "task token")

    def _token(self) -> str | None:
        messages = self._sqs.receive_message(QueueUrl=self._tokens).get("Messages", [])
        return str(json.loads(messages[0]["Body"])["taskToken"]) if messages else None

    def status(self) -> str:
        return str(self._states.describe_execution(executionArn=self.arn)["status"])

    def outcome(self) -> dict[str, Any]:
        """The execution once it has ended."""
        return _until(self._ended, "end of the execution")

    def _ended(self) -> dict[str, Any] | None:
        description = self._states.describe_execution(executionArn=self.arn)
        return dict(description) if description["status"] != "RUNNING" else None


class Payments:
    """Alice's order driven to where the saga waits for its payment, the provider's webhooks, and the consumer."""

    def __init__(self, cloud: Cloud, function: Callable[[str], LocalFunction]) -> None:
        self.cloud = cloud
        self._function = function
        dynamodb = boto3.client("dynamodb")
        self.store = EventStore(dynamodb, cloud.physical_id("EventStoreTable"))
        self.ledger = PaymentLedger(dynamodb, cloud.physical_id("PaymentsTable"))
        self._inventory = Inventory(dynamodb, cloud.physical_id("InventoryTable"))
        self._consumer = QueueMapping.from_template(cloud, function("ProcessPaymentEventsFunction"))
        self._secret = webhook_secret(cloud)
        seed_inventory(self._inventory)

    def place(self) -> None:
        response = self._function("PlaceOrderFunction").invoke(sample_event("place_order/valid.json"))
        assert response["statusCode"] == 201, response["body"]

    def reserve(self) -> None:
        """The saga's first step, run by the domain code the step's function runs."""
        saga.reserve_inventory(self.store, self._inventory, self._step)

    def request_payment(self, token: str) -> None:
        """The saga's RequestPayment: the ledger keeps `token` and the order awaits payment."""
        saga.request_payment(self.store, self.ledger, SandboxPaymentProvider(), self._step, token)

    def awaiting_payment(self, token: str) -> None:
        self.place()
        self.reserve()
        self.request_payment(token)

    @property
    def _step(self) -> saga.Step:
        return saga.Step(order_id=ALICES_ORDER, fulfilment_id="local-execution", correlation_id="test-correlation")

    def delivery(
        self, outcome: PaymentWebhookType, amount: int = ALICES_TOTAL, reason: str = "card expired"
    ) -> Delivery:
        """What the provider sends when Alice's payment ends with `outcome`."""
        return signed_delivery(self._secret, ALICES_ORDER, outcome, amount, "USD", reason=reason)

    def webhook(self, delivery: Delivery) -> None:
        """The provider's request, through the real webhook function."""
        event = sample_event("receive_payment_webhook/unsigned.json")
        event["body"] = delivery.body
        for name, value in delivery.headers.items():
            event = with_header(event, name, value)
        response = self._function("ReceivePaymentWebhookFunction").invoke(event)
        assert response["statusCode"] == 202, response["body"]

    def consume(self) -> list[Invocation]:
        """Deliver the queue to the consumer, as the template's mapping does."""
        return self._consumer.deliver()

    def consume_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Hand the consumer one SQS event directly, as Lambda would on a redelivery."""
        response: dict[str, Any] = self._function("ProcessPaymentEventsFunction").invoke(event)
        return response

    def payment(self) -> Payment:
        payment = self.ledger.get(ALICES_ORDER)
        assert payment is not None
        return payment

    def event_types(self) -> list[EventType]:
        return [event.type for event in stored_events(self.cloud, ALICES_ORDER)]


@pytest.fixture
def payments(cloud: Cloud, function: Callable[[str], LocalFunction]) -> Payments:
    return Payments(cloud, function)


def acknowledged(invocations: list[Invocation]) -> bool:
    """Every message was delivered once and none is left for a retry."""
    return len(invocations) == 1 and invocations[0].failed == () and invocations[0].error is None


AWAITING = [EventType.ORDER_PLACED, EventType.INVENTORY_RESERVED, EventType.PAYMENT_REQUESTED]


# ---------------------------------------------------------------- the payment ends


def test_a_succeeded_payment_is_captured_once_and_resumes_the_waiting_execution(payments: Payments) -> None:
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)

    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is PaymentState.CAPTURED
    captured = stored_events(payments.cloud, ALICES_ORDER)[-1]
    assert [event.type for event in stored_events(payments.cloud, ALICES_ORDER)] == [
        *AWAITING,
        EventType.PAYMENT_CAPTURED,
    ]
    assert captured.data == {"paymentId": payments.payment().payment_id, "amount": ALICES_TOTAL, "currency": "USD"}
    assert captured.correlation_id == stored_events(payments.cloud, ALICES_ORDER)[0].correlation_id
    outcome = execution.outcome()
    assert outcome["status"] == "SUCCEEDED"
    assert json.loads(outcome["output"]) == {"paymentId": payments.payment().payment_id, "amount": ALICES_TOTAL}


def test_a_failed_payment_is_declined_and_fails_the_waiting_execution_with_payment_declined(
    payments: Payments, function: Callable[[str], LocalFunction]
) -> None:
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)
    sent: list[dict[str, Any]] = []
    states = function("ProcessPaymentEventsFunction").module.states
    states.meta.events.register("provide-client-params.sfn.SendTaskFailure", lambda params, **_: sent.append(params))

    payments.webhook(payments.delivery(PaymentWebhookType.FAILED, reason="card_declined: insufficient funds"))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is PaymentState.DECLINED
    assert payments.event_types() == AWAITING  # the saga compensates and fails the order
    outcome = execution.outcome()
    assert (outcome["status"], outcome["error"]) == ("FAILED", "PaymentDeclined")
    # moto drops the cause on its way to the execution; what was sent is what the saga reads as the reason.
    assert [call["cause"] for call in sent] == ["card_declined: insufficient funds"]


# ---------------------------------------------------------------- delivered again


@pytest.mark.parametrize("outcome", list(PaymentWebhookType))
def test_the_same_message_delivered_twice_changes_nothing_the_second_time(
    payments: Payments, outcome: PaymentWebhookType
) -> None:
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)
    payments.webhook(payments.delivery(outcome))
    [first] = payments.consume()
    execution.outcome()
    events, ledger = stored_events(payments.cloud, ALICES_ORDER), payments.payment()

    redelivered = payments.consume_event(first.event)  # SQS is at-least-once: the same message again

    assert redelivered == {"batchItemFailures": []}  # acknowledged: the token is used, nobody waits on it
    assert stored_events(payments.cloud, ALICES_ORDER) == events
    assert payments.payment() == ledger


def test_a_provider_retry_with_a_new_event_id_changes_nothing_twice(payments: Payments) -> None:
    """Past the queue's 5-minute deduplication window, a retry arrives as a new message."""
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)
    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    payments.consume()
    execution.outcome()

    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.event_types().count(EventType.PAYMENT_CAPTURED) == 1
    assert payments.payment().state is PaymentState.CAPTURED


@pytest.mark.parametrize(
    ("first", "then", "settled"),
    [
        (PaymentWebhookType.SUCCEEDED, PaymentWebhookType.FAILED, PaymentState.CAPTURED),
        (PaymentWebhookType.FAILED, PaymentWebhookType.SUCCEEDED, PaymentState.DECLINED),
    ],
)
def test_a_webhook_contradicting_the_first_outcome_changes_nothing(
    payments: Payments, first: PaymentWebhookType, then: PaymentWebhookType, settled: PaymentState
) -> None:
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)
    payments.webhook(payments.delivery(first))
    payments.consume()
    execution.outcome()
    events = stored_events(payments.cloud, ALICES_ORDER)

    payments.webhook(payments.delivery(then))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is settled
    assert stored_events(payments.cloud, ALICES_ORDER) == events


def test_step_functions_throttling_is_retried_and_the_retry_changes_nothing_twice(
    payments: Payments, function: Callable[[str], LocalFunction]
) -> None:
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)
    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    states = function("ProcessPaymentEventsFunction").module.states
    throttled: list[bool] = []

    def throttle_once(**_: Any) -> None:
        if not throttled:
            throttled.append(True)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "SendTaskSuccess")

    states.meta.events.register("before-call.sfn.SendTaskSuccess", throttle_once)
    try:
        invocations = payments.consume()
    finally:
        states.meta.events.unregister("before-call.sfn.SendTaskSuccess", throttle_once)

    assert [len(invocation.failed) for invocation in invocations] == [1, 0]  # retried, then done
    assert payments.event_types() == [*AWAITING, EventType.PAYMENT_CAPTURED]
    assert execution.outcome()["status"] == "SUCCEEDED"


# ---------------------------------------------------------------- nobody waits, or no such payment


@pytest.mark.parametrize(
    ("outcome", "settled", "appended"),
    [
        (PaymentWebhookType.SUCCEEDED, PaymentState.CAPTURED, [EventType.PAYMENT_CAPTURED]),
        (PaymentWebhookType.FAILED, PaymentState.DECLINED, []),
    ],
)
def test_a_used_or_unknown_token_is_acknowledged_not_retried(
    payments: Payments, outcome: PaymentWebhookType, settled: PaymentState, appended: list[EventType]
) -> None:
    payments.awaiting_payment(NOT_A_TOKEN)  # Step Functions answers InvalidToken, as for a token already used

    payments.webhook(payments.delivery(outcome))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is settled
    assert payments.event_types() == [*AWAITING, *appended]


def test_a_webhook_for_an_unknown_order_is_acknowledged_and_writes_nothing(payments: Payments, cloud: Cloud) -> None:
    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))

    invocations = payments.consume()

    assert acknowledged(invocations)
    assert item_count(cloud, "EventStoreTable") == 0
    assert item_count(cloud, "PaymentsTable") == 0


def test_a_webhook_for_an_order_that_ended_before_its_payment_was_requested_is_acknowledged(
    payments: Payments, cloud: Cloud
) -> None:
    payments.place()
    cancel_order(payments.store, ALICE, ALICES_ORDER, "cancel-request")

    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.event_types() == [EventType.ORDER_PLACED, EventType.ORDER_CANCELLED]
    assert item_count(cloud, "PaymentsTable") == 0


def test_a_webhook_about_another_payment_changes_nothing(payments: Payments) -> None:
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)

    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED, amount=1))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is PaymentState.REQUESTED
    assert payments.event_types() == AWAITING
    assert execution.status() == "RUNNING"


# ---------------------------------------------------------------- the order moved on


def test_a_webhook_ahead_of_the_payment_request_is_retried_until_the_saga_asks(payments: Payments) -> None:
    execution = WaitingExecution()
    payments.place()
    payments.reserve()
    event = sample_event("process_payment_events/before_payment_requested.json")  # Alice's order, paid in full
    [record] = event["Records"]

    early = payments.consume_event(event)
    payments.request_payment(execution.token)
    retried = payments.consume_event(event)

    assert early == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert retried == {"batchItemFailures": []}
    assert payments.payment().state is PaymentState.CAPTURED
    assert payments.event_types() == [*AWAITING, EventType.PAYMENT_CAPTURED]
    assert execution.outcome()["status"] == "SUCCEEDED"


def test_a_payment_captured_after_the_order_was_cancelled_resumes_the_saga_and_appends_no_capture(
    payments: Payments,
) -> None:
    execution = WaitingExecution()
    payments.awaiting_payment(execution.token)
    cancel_order(payments.store, ALICE, ALICES_ORDER, "cancel-request")

    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is PaymentState.CAPTURED  # the resumed saga sees the cancellation and refunds
    assert payments.event_types() == [*AWAITING, EventType.ORDER_CANCELLED]
    assert execution.outcome()["status"] == "SUCCEEDED"


def test_a_payment_captured_after_the_order_ended_with_no_execution_left_is_refunded(payments: Payments) -> None:
    payments.awaiting_payment(NOT_A_TOKEN)
    cancel_order(payments.store, ALICE, ALICES_ORDER, "cancel-request")  # and its saga has already compensated

    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is PaymentState.REFUNDED
    assert payments.event_types() == [*AWAITING, EventType.ORDER_CANCELLED, EventType.PAYMENT_REFUNDED]
    assert stored_events(payments.cloud, ALICES_ORDER)[-1].data["amount"] == ALICES_TOTAL


def test_a_capture_arriving_while_the_saga_compensates_a_timed_out_wait_is_refunded(payments: Payments) -> None:
    """The wait timed out; RefundPayment ran before the webhook came, but the order has not failed yet."""
    payments.awaiting_payment(NOT_A_TOKEN)  # the token is gone with the timed-out wait
    saga.refund_payment(payments.store, payments.ledger, SandboxPaymentProvider(), ALICES_ORDER, "test-correlation")
    assert payments.payment().state is PaymentState.ABANDONED

    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    invocations = payments.consume()

    assert acknowledged(invocations)
    assert payments.payment().state is PaymentState.REFUNDED
    assert payments.event_types() == [*AWAITING, EventType.PAYMENT_REFUNDED]


def test_a_capture_settled_just_before_the_compensation_is_refunded_by_the_compensation(payments: Payments) -> None:
    """The other order of the same race: the webhook wins, then RefundPayment finds a captured payment."""
    payments.awaiting_payment(NOT_A_TOKEN)
    payments.webhook(payments.delivery(PaymentWebhookType.SUCCEEDED))
    payments.consume()

    saga.refund_payment(payments.store, payments.ledger, SandboxPaymentProvider(), ALICES_ORDER, "test-correlation")

    assert payments.payment().state is PaymentState.REFUNDED
    assert payments.event_types() == [*AWAITING, EventType.PAYMENT_CAPTURED, EventType.PAYMENT_REFUNDED]
