"""POST /orders: place an order, exactly once per customer and Idempotency-Key."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import commands
from orders.api import CheckedRequest, caller_id, correlation_id, create_resolver
from orders.api_operations import PLACE_ORDER
from orders.config import Setting, setting
from orders.errors import IdempotencyKeyReused, RequestInProgress
from orders.event_store import EventStore

logger = Logger()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))
idempotency = IdempotencyConfig(
    event_key_jmespath="[customerId, idempotencyKey]",
    payload_validation_jmespath="order",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=24 * 60 * 60,
)
persistence = DynamoDBPersistenceLayer(table_name=setting(Setting.IDEMPOTENCY_TABLE), boto3_client=dynamodb)
app = create_resolver()


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator keeps the signature but is not typed
    data_keyword_argument="request", config=idempotency, persistence_store=persistence
)
def place_once(request: dict[str, Any]) -> dict[str, Any]:
    placement = commands.place_order(
        store, request["customerId"], request["idempotencyKey"], request["order"], request["correlationId"]
    )
    if placement.is_new:
        metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
    return placement.order.view


@app.serve(PLACE_ORDER)
def place_order(checked: CheckedRequest) -> dict[str, Any]:
    request = {
        "customerId": caller_id(app.current_event),
        "idempotencyKey": checked.headers["idempotency-key"],
        "order": checked.body,
        "correlationId": correlation_id(app.current_event),
    }
    # Powertools' idempotency errors, said in the domain's words (api.py maps those to HTTP).
    try:
        view: dict[str, Any] = place_once(request=request)
    except IdempotencyValidationError:
        raise IdempotencyKeyReused from None
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress from None
    return view


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
