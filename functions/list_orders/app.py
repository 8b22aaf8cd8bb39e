"""GET /orders: the caller's orders, newest first, one page at a time."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.api import CheckedRequest, caller_id, create_resolver
from orders.api_operations import LIST_ORDERS
from orders.config import Setting, setting
from orders.order_views import OrderViews

logger = Logger()
views = OrderViews(boto3.client("dynamodb"), setting(Setting.ORDERS_TABLE), setting(Setting.ORDERS_BY_CUSTOMER_INDEX))
app = create_resolver()


@app.serve(LIST_ORDERS)
def list_orders(checked: CheckedRequest) -> dict[str, Any]:
    page = views.list_for_customer(caller_id(app.current_event), checked.query["limit"], checked.query["nextToken"])
    return {"orders": page.orders, "nextToken": page.next_token}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
