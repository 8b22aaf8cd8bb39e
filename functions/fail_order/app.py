"""Saga compensation, last: record why the order failed, unless it already ended."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger

from orders import saga
from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.order import Order

logger = Logger()
dynamodb = boto3.client("dynamodb")
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))


@logger.inject_lambda_context(clear_state=True)
@saga.step_handler(logger)
def lambda_handler(step: saga.Step, event: dict[str, Any]) -> Order:
    error = event.get("error") or {}
    logger.info("fulfilment stopped", error=error.get("Error"), cause=error.get("Cause"))  # the reason omits it
    return saga.fail_order(store, step, error)
