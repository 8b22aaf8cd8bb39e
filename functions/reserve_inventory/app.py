"""Saga step: reserve every line's stock in one transaction, or stop the saga with OutOfStock."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import saga
from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.inventory import Inventory

logger = Logger()
dynamodb = boto3.client("dynamodb")
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))
inventory = Inventory(dynamodb, setting(Setting.INVENTORY_TABLE))


@logger.inject_lambda_context(clear_state=True)
@saga.retry_transient_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = saga.Step.from_event(event)
    logger.append_keys(order_id=step.order_id, fulfilment_id=step.fulfilment_id)
    order = saga.reserve_inventory(store, inventory, step)
    return {"orderId": order.order_id, "status": order.status.value, "version": order.version}
