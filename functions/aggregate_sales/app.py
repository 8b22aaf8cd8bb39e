"""Order activity stream (Kinesis, tumbling windows) -> completed-order sales per minute and currency.

Each batch adds its completed orders to the window's state; the final invocation of a window
writes the state's totals, once. orders.partial_batch handles the records and the partial batch
response; it knows nothing of tumbling windows (it answers `batchItemFailures` only), so the
window's `state` is added to its response here.
"""

import base64
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.analytics import timed_sale_from
from orders.config import Setting, setting
from orders.partial_batch import Record, handle_each, stream_sequence_number
from orders.sales_windows import SalesPerMinute, WindowState
from orders.wire import read_json

logger = Logger()
sales = SalesPerMinute(boto3.client("dynamodb"), setting(Setting.SALES_PER_MINUTE_TABLE))


@dataclass(frozen=True)
class BusEvent:
    """The bus's event, put on the stream by its rule: the detail is the order event's envelope."""

    detail: dict[str, Any]


def count(state: WindowState, record: Record) -> None:
    """Add one record's sale to the window; raises (the record is reported failed) when it is unreadable."""
    timed = timed_sale_from(read_json(BusEvent, base64.b64decode(record["kinesis"]["data"]).decode()).detail)
    if timed is None:
        return  # an order event other than OrderCompleted: nothing sold
    sale, occurred_at = timed
    if not state.add(sale, occurred_at):
        logger.info("already counted in this window", event_id=sale.event_id)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = WindowState.from_state(event.get("state") or {})
    records = event.get("Records", [])
    if records:
        state.start(records[0]["kinesis"]["sequenceNumber"])
    response: dict[str, Any] = dict(handle_each(records, partial(count, state), stream_sequence_number))
    if event.get("isFinalInvokeForWindow"):
        start = (event.get("window") or {}).get("start", "unknown")
        written = sales.write_window(start, str(event.get("shardId")), state)
        logger.info("window written" if written else "window was written before", window=start, sales=len(state.sales))
        return {**response, "state": {}}
    return {**response, "state": state.as_response()}
