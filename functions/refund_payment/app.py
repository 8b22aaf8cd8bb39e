"""Saga compensation: refund a captured payment, once; nothing to do when nothing was captured."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger

from orders import saga
from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.order import Order
from orders.payments import PaymentLedger, SandboxPaymentProvider

logger = Logger()
dynamodb = boto3.client("dynamodb")
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))
ledger = PaymentLedger(dynamodb, setting(Setting.PAYMENTS_TABLE))
provider = SandboxPaymentProvider()  # replace with your payment provider's adapter


@logger.inject_lambda_context(clear_state=True)
@saga.step_handler(logger)
def lambda_handler(step: saga.Step, event: dict[str, Any]) -> Order:
    return saga.compensation_step(
        store, step, lambda: saga.refund_payment(store, ledger, provider, step.order_id, step.correlation_id)
    )
