"""Completed orders (SQS, fed by the outcomes topic) -> daily order and revenue counters.

The topic's filter sends only OrderCompleted here; any other event type is acknowledged and ignored.
"""

from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.analytics import DailyCounters, sale_from
from orders.config import Setting, setting

logger = Logger()
# A counted event's marker lives as long as the bus archive could replay the event.
markers_kept = timedelta(days=int(setting(Setting.EVENT_ARCHIVE_RETENTION_DAYS)))
counters = DailyCounters(boto3.client("dynamodb"), setting(Setting.ANALYTICS_TABLE), markers_kept)
processor = BatchProcessor(event_type=EventType.SQS)


def count(record: SQSRecord) -> None:
    sale = sale_from(record.body)
    if sale is None:
        logger.info("not a completed order; ignored", message_id=record.message_id)
        return
    counted = counters.record(sale)
    logger.info("counted" if counted else "already counted", event_id=sale.event_id, day=sale.day.isoformat())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=count, processor=processor, context=context)
