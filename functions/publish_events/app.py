"""Event store stream -> EventBridge: the transactional outbox's publisher.

Records whose entries EventBridge rejects come back in the partial batch response, so
Lambda retries them; consumers dedupe on `eventId`, as a retry can publish twice.
"""

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.config import Setting, setting
from orders.outbox import EventPublisher, publish_stream_records

logger = Logger()
metrics = Metrics()
publisher = EventPublisher(boto3.client("events"), setting(Setting.EVENT_BUS_NAME), setting(Setting.EVENT_SOURCE))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = publish_stream_records(publisher, event["Records"])
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=outcome.published)
    if outcome.retry:
        logger.warning("records left for retry", sequence_numbers=outcome.retry)
    return {"batchItemFailures": [{"itemIdentifier": number} for number in outcome.retry]}
