"""GET /orders/{orderId}: one of the caller's orders, from the read model."""

from http import HTTPStatus
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.api import caller_id, create_resolver, error_responses
from orders.api_models import OrderResponse
from orders.config import Setting, setting
from orders.errors import OrderNotFound
from orders.order_views import OrderViews

logger = Logger()
views = OrderViews(boto3.client("dynamodb"), setting(Setting.ORDERS_TABLE))
app = create_resolver()


@app.get("/orders/<orderId>", summary="Get an order", responses=error_responses(HTTPStatus.NOT_FOUND))
def get_order(order_id: Annotated[str, Path(alias="orderId", max_length=64)]) -> OrderResponse:
    view = views.get(order_id)
    if view is None or view["customerId"] != caller_id(app.current_event):
        raise OrderNotFound(order_id)
    return OrderResponse.model_validate(view)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
