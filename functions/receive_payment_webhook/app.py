"""POST /webhooks/payments: check the provider's signature, queue the delivery, answer 202.

No Cognito here: the signature is the caller's identity. The contract is in orders/webhook.py.
"""

from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from orders import webhook
from orders.api import RECEIVE_PAYMENT_WEBHOOK, create_resolver, error_responses, success_response
from orders.config import Setting, setting
from orders.webhook_models import PaymentWebhook, WebhookReceipt

logger = Logger()
sqs = boto3.client("sqs")
queue_url = setting(Setting.PAYMENT_EVENTS_QUEUE_URL)
secret_arn = setting(Setting.WEBHOOK_SECRET_ARN)
app = create_resolver()

# Kept this long in the container: a rotated secret applies within five minutes.
SECRET_MAX_AGE_SECONDS = 300


@app.post(
    "/webhooks/payments",
    summary="Receive a payment provider webhook",
    description=(
        "Signed by the provider (see orders/webhook.py); queued for the payment-events consumer. "
        "The body is a PaymentWebhook, read only once the signature holds."
    ),
    operation_id=RECEIVE_PAYMENT_WEBHOOK,
    security=[{"webhookSignature": []}],
    responses={
        202: success_response("Queued (again, for a redelivery): the provider can stop retrying", WebhookReceipt),
        **error_responses(),
    },
)
def receive_payment_webhook(
    timestamp: Annotated[str | None, Header(alias=webhook.TIMESTAMP_HEADER, description="Unix seconds")] = None,
    signature: Annotated[
        str | None, Header(alias=webhook.SIGNATURE_HEADER, description='v1=<hex HMAC-SHA256 of "<timestamp>.<body>">')
    ] = None,
) -> Response[WebhookReceipt]:
    raw_body = app.current_event.decoded_body or ""
    webhook.verify(parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS), timestamp, signature, raw_body)
    try:
        delivery = PaymentWebhook.model_validate_json(raw_body)
    except ValidationError as error:
        # The body is parsed here, after the signature check, not by a Body() parameter, which would parse
        # it first; the same error then gives the same 422 a Body() model would.
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors(include_url=False)]
        ) from None
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=raw_body,
        MessageGroupId=delivery.data.order_id,
        MessageDeduplicationId=delivery.id,
    )
    logger.info("payment webhook queued", webhook_id=delivery.id, order_id=delivery.data.order_id, type=delivery.type)
    return Response(202, content_types.APPLICATION_JSON, WebhookReceipt(received=True, id=delivery.id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
