"""Completed orders (SQS, fed by the outcomes topic) -> daily order and revenue counters.

The topic's filter sends only OrderCompleted here; any other event type is acknowledged and ignored.
"""

from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.analytics import DailyCounters, sale_from
from orders.config import Setting, setting
from orders.partial_batch import PartialBatchResponse, Record, handle_each, sqs_message_id

logger = Logger()
# A counted event's marker lives as long as the bus archive could replay the event.
markers_kept = timedelta(days=int(setting(Setting.EVENT_ARCHIVE_RETENTION_DAYS)))
counters = DailyCounters(boto3.client("dynamodb"), setting(Setting.ANALYTICS_TABLE), markers_kept)


def count(record: Record) -> None:
    sale = sale_from(record["body"])
    if sale is None:
        logger.info("not a completed order; ignored", message_id=record["messageId"])
        return
    counted = counters.record(sale)
    logger.info("counted" if counted else "already counted", event_id=sale.event_id, day=sale.day.isoformat())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> PartialBatchResponse:
    return handle_each(event["Records"], count, sqs_message_id)
