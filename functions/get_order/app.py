"""GET /orders/{orderId}: one of the caller's orders, from the read model."""

from http import HTTPStatus
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.api import (
    CANCEL_ORDER,
    GET_ORDER,
    OrderIdPath,
    caller_id,
    create_resolver,
    error_responses,
    success_response,
)
from orders.api_models import OrderResponse
from orders.config import Setting, setting
from orders.errors import OrderNotFound
from orders.order_views import OrderViews

logger = Logger()
views = OrderViews(boto3.client("dynamodb"), setting(Setting.ORDERS_TABLE))
app = create_resolver()


@app.get(
    "/orders/<orderId>",
    summary="Get an order",
    operation_id=GET_ORDER,
    responses={
        200: success_response("The order, as the read model shows it", OrderResponse, CANCEL_ORDER),
        **error_responses(HTTPStatus.NOT_FOUND),
    },
)
def get_order(order_id: OrderIdPath) -> OrderResponse:
    view = views.get(order_id)
    if view is None or view["customerId"] != caller_id(app.current_event):
        raise OrderNotFound(order_id)
    return OrderResponse.model_validate(view)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
