"""Order outcome events (SQS, fed by the outcomes topic) -> one customer notification per event.

A body that is not an outcome event fails its record alone; SQS redelivers it and, after the
queue's maxReceiveCount, moves it to the dead-letter queue.
"""

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.events import DomainEvent
from orders.notifications import Notifier, SandboxNotifier, notification_for, parse_outcome
from orders.partial_batch import PartialBatchResponse, Record, handle_each, sqs_message_id

logger = Logger()
metrics = Metrics()
notifier: Notifier = SandboxNotifier(logger, metrics)
# SNS and SQS deliver at least once and the outbox may publish twice: the event id says "same event".
# Powertools keys on the dataclass's fields (dataclasses.asdict), hence `event_id`.
idempotency = IdempotencyConfig(
    event_key_jmespath="event_id", raise_on_no_idempotency_key=True, expires_after_seconds=24 * 60 * 60
)
persistence = DynamoDBPersistenceLayer(
    table_name=setting(Setting.IDEMPOTENCY_TABLE), boto3_client=boto3.client("dynamodb")
)


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator keeps the signature but is not typed
    data_keyword_argument="outcome", config=idempotency, persistence_store=persistence
)
def notify_once(outcome: DomainEvent) -> dict[str, str]:
    notification = notification_for(outcome)
    notifier.send(notification)
    return {"eventId": notification.event_id, "customerId": notification.customer_id, "subject": notification.subject}


def notify(record: Record) -> None:
    notify_once(outcome=parse_outcome(record["body"]))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    idempotency.register_lambda_context(context)
    return handle_each(event["Records"], notify, sqs_message_id)
