"""GET /orders: the caller's orders, newest first, one page at a time."""

from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.api import LIST_ORDERS, caller_id, create_resolver, error_responses, success_response
from orders.api_models import OrderPage
from orders.config import Setting, setting
from orders.order_views import OrderViews

logger = Logger()
views = OrderViews(boto3.client("dynamodb"), setting(Setting.ORDERS_TABLE), setting(Setting.ORDERS_BY_CUSTOMER_INDEX))
app = create_resolver()


@app.get(
    "/orders",
    summary="List the caller's orders",
    operation_id=LIST_ORDERS,
    responses={
        200: success_response("One page of the caller's orders, newest first", OrderPage),
        **error_responses(),
    },
)
def list_orders(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=1024)] = None,
) -> OrderPage:
    page = views.list_for_customer(caller_id(app.current_event), limit, next_token)
    return OrderPage.model_validate({"orders": page.orders, "nextToken": page.next_token})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
