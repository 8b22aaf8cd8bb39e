"""GET /orders/{orderId}: one of the caller's orders, from the read model."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.api import CheckedRequest, caller_id, create_resolver
from orders.api_operations import GET_ORDER
from orders.config import Setting, setting
from orders.errors import OrderNotFound
from orders.order_views import OrderViews

logger = Logger()
views = OrderViews(boto3.client("dynamodb"), setting(Setting.ORDERS_TABLE))
app = create_resolver()


@app.serve(GET_ORDER)
def get_order(checked: CheckedRequest) -> dict[str, Any]:
    order_id = checked.path["orderId"]
    view = views.get(order_id)
    if view is None or view["customerId"] != caller_id(app.current_event):
        raise OrderNotFound(order_id)
    return view


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
