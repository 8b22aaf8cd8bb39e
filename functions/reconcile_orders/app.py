"""Scheduled: expire orders past their deadline, and settle what ended fulfilments left unsettled or held."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.fulfilments import Fulfilments
from orders.inventory import Inventory
from orders.order import ENDED_UNFULFILLED
from orders.payments import PaymentLedger, SandboxPaymentProvider
from orders.reconciler import EXPIRABLE, RECHECK_WINDOW, Reconciler, orders_placed, reconcile
from orders.saga import Compensator

logger = Logger()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
states = boto3.client("stepfunctions")
deadline = timedelta(minutes=int(setting(Setting.ORDER_DEADLINE_MINUTES)))
reconciler = Reconciler(
    compensator=Compensator(
        store=EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE)),
        ledger=PaymentLedger(dynamodb, setting(Setting.PAYMENTS_TABLE)),
        provider=SandboxPaymentProvider(),  # replace with your payment provider's adapter
        inventory=Inventory(dynamodb, setting(Setting.INVENTORY_TABLE)),
    ),
    fulfilments=Fulfilments(states, setting(Setting.FULFILMENT_STATE_MACHINE_ARN)),
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    placed_before, recheck_after = now - deadline, now - RECHECK_WINDOW
    table, index = setting(Setting.ORDERS_TABLE), setting(Setting.ORDERS_BY_STATUS_INDEX)
    result = reconcile(
        reconciler,
        overdue=orders_placed(dynamodb, table, index, EXPIRABLE, before=placed_before),
        ended=reconciler.fulfilments.ended_unsettled(started_after=recheck_after),
        ended_unfulfilled=orders_placed(dynamodb, table, index, ENDED_UNFULFILLED, before=now, after=recheck_after),
    )
    metrics.add_metric(name="OrdersExpired", unit=MetricUnit.Count, value=len(result.expired))
    metrics.add_metric(name="OrdersSettled", unit=MetricUnit.Count, value=len(result.settled))
    logger.info(
        "reconciled",
        expired=result.expired,
        settled=result.settled,
        skipped=result.skipped,
        placed_before=placed_before.isoformat(),
    )
    return {"expired": result.expired, "settled": result.settled, "skipped": result.skipped}
