"""Scheduled once a day: the day before's sales per currency, from the per-minute table, as one event on the bus."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.daily_sales import DailySalesSummaries, day_before, summarise_day
from orders.outbox import EventPublisher
from orders.sales_windows import SalesPerMinute
from orders.wire import read

logger = Logger()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
table = setting(Setting.SALES_PER_MINUTE_TABLE)
sales = SalesPerMinute(dynamodb, table, by_day_index=setting(Setting.SALES_BY_DAY_INDEX))
summaries = DailySalesSummaries(dynamodb, table)
publisher = EventPublisher(boto3.client("events"), setting(Setting.EVENT_BUS_NAME), setting(Setting.EVENT_SOURCE))


@dataclass(frozen=True)
class ScheduledRun:
    """The schedule's Input: Scheduler fills in the occurrence's time, the same on every retry of it."""

    scheduled_time: datetime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = summarise_day(day_before(read(ScheduledRun, event, "event").scheduled_time), sales, summaries, publisher)
    metrics.add_metric(name="DailySalesSummariesPublished", unit=MetricUnit.Count, value=int(run.published))
    logger.info("daily sales summarised" if run.published else "already published", **run.as_response())
    return run.as_response()
