"""POST /orders/{orderId}/cancel: cancel an order while its state allows it.

A fulfilment waiting for the payment outcome is told at once, so it compensates now
rather than when its payment wait times out. When no fulfilment runs any more, the
cancel gives the money and the stock back itself.
"""

from http import HTTPStatus
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import commands, saga
from orders.api import (
    CANCEL_ORDER,
    GET_ORDER,
    OrderIdPath,
    caller_id,
    correlation_id,
    create_resolver,
    error_responses,
    success_response,
)
from orders.api_models import OrderResponse
from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.fulfilments import Fulfilments
from orders.inventory import Inventory
from orders.payments import PaymentLedger, SandboxPaymentProvider
from orders.task_tokens import TaskCallbacks

logger = Logger()
dynamodb = boto3.client("dynamodb")
states = boto3.client("stepfunctions")
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))
compensator = saga.Compensator(
    store=store,
    ledger=PaymentLedger(dynamodb, setting(Setting.PAYMENTS_TABLE)),
    provider=SandboxPaymentProvider(),  # replace with your payment provider's adapter
    inventory=Inventory(dynamodb, setting(Setting.INVENTORY_TABLE)),
)
callbacks = TaskCallbacks(states)
fulfilments = Fulfilments(states)
app = create_resolver()


@app.post(
    "/orders/<orderId>/cancel",
    summary="Cancel an order",
    operation_id=CANCEL_ORDER,
    responses={
        200: success_response(
            "The order, cancelled (or as it already was, if cancelled before)", OrderResponse, GET_ORDER
        ),
        **error_responses(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
    },
)
def cancel_order(order_id: OrderIdPath) -> OrderResponse:
    correlation = correlation_id(app.current_event)
    order = commands.cancel_order(store, caller_id(app.current_event), order_id, correlation)
    order = saga.hand_back_cancelled(compensator, callbacks, fulfilments, order, correlation)
    return OrderResponse.model_validate(order.view)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
