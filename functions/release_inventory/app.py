"""Saga compensation: put the order's reserved stock back, once."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger

from orders import saga
from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.inventory import Inventory
from orders.order import Order

logger = Logger()
dynamodb = boto3.client("dynamodb")
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))
inventory = Inventory(dynamodb, setting(Setting.INVENTORY_TABLE))


@logger.inject_lambda_context(clear_state=True)
@saga.step_handler(logger)
def lambda_handler(step: saga.Step, event: dict[str, Any]) -> Order:
    return saga.compensation_step(
        store, step, lambda: saga.release_inventory(store, inventory, step.order_id, step.correlation_id)
    )
