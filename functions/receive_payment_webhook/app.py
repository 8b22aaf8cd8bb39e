"""POST /webhooks/payments: check the provider's signature, queue the delivery, answer 202.

No Cognito here: the signature is the caller's identity. The contract is in orders/webhook.py;
this function imports only its signature check (orders/webhook_signature.py).
"""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import webhook_signature
from orders.api import CheckedRequest, checked_body, create_resolver
from orders.api_operations import RECEIVE_PAYMENT_WEBHOOK
from orders.config import Setting, setting

logger = Logger()
sqs = boto3.client("sqs")
queue_url = setting(Setting.PAYMENT_EVENTS_QUEUE_URL)
secret_arn = setting(Setting.WEBHOOK_SECRET_ARN)
app = create_resolver()

# Kept this long in the container: a rotated secret applies within five minutes.
SECRET_MAX_AGE_SECONDS = 300


@app.serve(RECEIVE_PAYMENT_WEBHOOK)
def receive_payment_webhook(_unchecked: CheckedRequest) -> dict[str, Any]:
    event = app.current_event
    raw_body = event.decoded_body or ""
    timestamp, signature = (
        event.headers.get(webhook_signature.TIMESTAMP_HEADER),
        event.headers.get(webhook_signature.SIGNATURE_HEADER),
    )
    webhook_signature.verify(
        parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS), timestamp, signature, raw_body
    )
    # Read only now, once the signature holds: what is not signed is not parsed.
    delivery = checked_body(event, RECEIVE_PAYMENT_WEBHOOK)
    order_id = delivery["data"]["orderId"]
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=raw_body, MessageGroupId=order_id, MessageDeduplicationId=delivery["id"]
    )
    logger.info("payment webhook queued", webhook_id=delivery["id"], order_id=order_id, type=delivery["type"])
    return {"received": True, "id": delivery["id"]}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
