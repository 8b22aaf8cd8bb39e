"""Payment events queue -> payment ledger, event store and the fulfilment execution waiting on the payment."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.partial_batch import PartialBatchResponse, Record, handle_each, sqs_message_group, sqs_message_id
from orders.payment_events import PaymentSettler, Settlement
from orders.payments import PaymentLedger, SandboxPaymentProvider
from orders.task_tokens import TaskCallbacks
from orders.webhook import read_delivery

logger = Logger()
dynamodb = boto3.client("dynamodb")
states = boto3.client("stepfunctions")
settler = PaymentSettler(
    EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE)),
    PaymentLedger(dynamodb, setting(Setting.PAYMENTS_TABLE)),
    SandboxPaymentProvider(),  # refunds a payment captured too late; replace with your provider's adapter
    TaskCallbacks(states),
)


def settle(record: Record) -> None:
    delivery = read_delivery(record["body"])
    settlement = settler.settle(delivery)
    log = logger.info if settlement is Settlement.RESUMED else logger.warning
    log(
        "payment webhook settled",
        settlement=settlement.value,
        webhook_id=delivery.id,
        type=delivery.type,
        order_id=delivery.data.order_id,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> PartialBatchResponse:
    return handle_each(
        event["Records"],
        settle,
        sqs_message_id,
        # A FIFO queue: when one message of an order fails, its later ones in the batch are retried with it,
        # so an order's webhooks are always settled in the order they arrived. Other orders carry on.
        skip_group_after_failure=sqs_message_group,
        # A batch whose every webhook came early is answered with all of them to retry, not with a function
        # error: it is expected, and must not fire the function's error alarm.
        fail_when_all_fail=False,
    )
