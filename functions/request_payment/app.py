"""Saga step: ask the payment provider to charge; the execution then waits for the webhook's outcome."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import saga
from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.payments import PaymentLedger, SandboxPaymentProvider

logger = Logger()
dynamodb = boto3.client("dynamodb")
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))
ledger = PaymentLedger(dynamodb, setting(Setting.PAYMENTS_TABLE))
provider = SandboxPaymentProvider()  # replace with your payment provider's adapter


@logger.inject_lambda_context(clear_state=True)
@saga.retry_transient_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = saga.Step.from_event(event)
    logger.append_keys(order_id=step.order_id, fulfilment_id=step.fulfilment_id)
    order = saga.request_payment(store, ledger, provider, step, event["taskToken"])
    return {"orderId": order.order_id, "status": order.status.value, "version": order.version}
