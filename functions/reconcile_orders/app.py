"""Scheduled: expire orders past their deadline, stop their fulfilment and compensate what it did."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.inventory import Inventory
from orders.payments import PaymentLedger, SandboxPaymentProvider
from orders.reconciler import Reconciler, overdue_orders, reconcile

logger = Logger()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
deadline = timedelta(minutes=int(setting(Setting.ORDER_DEADLINE_MINUTES)))
reconciler = Reconciler(
    store=EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE)),
    inventory=Inventory(dynamodb, setting(Setting.INVENTORY_TABLE)),
    ledger=PaymentLedger(dynamodb, setting(Setting.PAYMENTS_TABLE)),
    provider=SandboxPaymentProvider(),  # replace with your payment provider's adapter
    states=boto3.client("stepfunctions"),
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    placed_before = datetime.now(UTC) - deadline
    overdue = overdue_orders(
        dynamodb, setting(Setting.ORDERS_TABLE), setting(Setting.ORDERS_BY_STATUS_INDEX), placed_before
    )
    result = reconcile(reconciler, overdue)
    metrics.add_metric(name="OrdersExpired", unit=MetricUnit.Count, value=len(result.expired))
    logger.info("reconciled", expired=result.expired, skipped=result.skipped, placed_before=placed_before.isoformat())
    return {"expired": result.expired, "skipped": result.skipped}
