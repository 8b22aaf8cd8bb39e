"""Event store stream -> orders read model. Stale and redelivered records change nothing."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.event_store import event_from_stream_record
from orders.order_projector import OrderProjector
from orders.partial_batch import PartialBatchResponse, Record, handle_each, stream_sequence_number

logger = Logger()
projector = OrderProjector(boto3.client("dynamodb"), setting(Setting.ORDERS_TABLE))


def project(record: Record) -> None:
    event = event_from_stream_record(record)
    applied = projector.apply(event)
    logger.info("projected" if applied else "skipped stale", order_id=event.order_id, version=event.version)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> PartialBatchResponse:
    return handle_each(event["Records"], project, stream_sequence_number)
