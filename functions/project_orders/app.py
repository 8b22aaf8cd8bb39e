"""Event store stream -> orders read model. Stale and redelivered records change nothing."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.event_store import event_from_stream_record
from orders.order_projector import OrderProjector

logger = Logger()
projector = OrderProjector(boto3.client("dynamodb"), setting(Setting.ORDERS_TABLE))
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def project(record: DynamoDBRecord) -> None:
    event = event_from_stream_record(record.raw_event)
    applied = projector.apply(event)
    logger.info("projected" if applied else "skipped stale", order_id=event.order_id, version=event.version)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=project, processor=processor, context=context)
