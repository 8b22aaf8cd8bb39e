"""A batch from an event source mapping, each record handled on its own; the failed ones are answered back.

Every consumer's mapping sets ReportBatchItemFailures (template.yaml), so Lambda retries only the records
this names: an SQS queue redelivers those messages (and dead-letters one past its maxReceiveCount), a
stream resumes from the lowest sequence number named. A batch whose every record failed is a function
error instead, so that Lambda's retry and bisection (and the error alarm) see it.

This is what Powertools' batch utility does for these consumers; importing that utility also imports
asyncio and every event class Powertools has, about 30 ms of each consumer's cold start
(docs/decisions.md). The records are the event's own dicts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

Record = Mapping[str, Any]

_log = logging.getLogger(__name__)


class ItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class BatchFailed(Exception):
    """Every record of the batch failed: the invocation fails, so Lambda retries (or bisects) the batch."""

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        super().__init__(f"all {len(failures)} records failed; the first: {failures[0][1]!r}")
        self.failures = failures


def sqs_message_id(record: Record) -> str:
    return str(record["messageId"])


def stream_sequence_number(record: Record) -> str:
    """A Kinesis or DynamoDB stream record's sequence number: where its shard resumes."""
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


class GroupFailedEarlier(Exception):
    """Not handled: an earlier message of its FIFO group failed in this batch."""

    def __init__(self, group: str) -> None:
        super().__init__(f"an earlier message of group {group} failed")


def sqs_message_group(record: Record) -> str:
    return str(record["attributes"]["MessageGroupId"])


def handle_each(
    records: Iterable[Record],
    handle: Callable[[Record], object],
    item_id: Callable[[Record], str],
    *,
    fail_when_all_fail: bool = True,
    skip_group_after_failure: Callable[[Record], str] | None = None,
) -> PartialBatchResponse:
    """Handle each record; a record that raises is named in the response and the next one handled.

    `skip_group_after_failure` (a FIFO queue's MessageGroupId) fails a group's later records unhandled once
    one of its records failed, so a group's messages are always handled in the order they were sent.
    """
    failures: list[tuple[str, BaseException]] = []
    failed_groups: set[str] = set()
    count = 0
    for record in records:
        count += 1
        group = skip_group_after_failure(record) if skip_group_after_failure else None
        if group is not None and group in failed_groups:
            failures.append((item_id(record), GroupFailedEarlier(group)))
            continue
        try:
            handle(record)
        except Exception as error:  # any failure of one record is that record's, not the batch's
            _log.warning("record %s failed: %r", item_id(record), error, exc_info=error)
            failures.append((item_id(record), error))
            if group is not None:
                failed_groups.add(group)
    if failures and len(failures) == count and fail_when_all_fail:
        raise BatchFailed(failures)
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier, _ in failures]}
