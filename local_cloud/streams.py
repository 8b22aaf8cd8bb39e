"""DynamoDB Streams -> Lambda, as an event source mapping delivers them.

Reads the table's stream from moto, keeps records the mapping's filter accepts, and hands
them to the function in batches of the mapping's size, shard by shard in stream order,
shaped as Lambda receives them. A batch that fails is handled as the mapping says:

- with ReportBatchItemFailures, the records before the lowest reported sequence number are
  done and the batch is retried from that record; an unreadable response fails the whole batch;
- a function error fails the whole batch; with BisectBatchOnFunctionError the batch is split
  in two and each half delivered on its own (splitting uses up no retry);
- after MaximumRetryAttempts retries the batch is discarded: its description goes to the
  on-failure destination and the shard moves on. With no limit (-1, the default) Lambda
  retries until the records expire; locally the shard stops there, and the next `deliver()`
  retries it.

Records behind a failing batch wait for it, as on a shard. Retries happen at once, within one
`deliver()`, so MaximumRecordAgeInSeconds never expires a record locally.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3

from local_cloud.functions import LocalFunction
from local_cloud.provision import Cloud

Record = dict[str, Any]
logger = logging.getLogger(__name__)


def _matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """EventBridge-style pattern matching, the subset filter criteria use here: exact values and nesting."""
    for key, expected in pattern.items():
        value = record.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not _matches(expected, value):
                return False
        elif value not in expected:
            return False
    return True


def _sequence_number(record: Record) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _lambda_record(record: Record, stream_arn: str) -> Record:
    """A stream record as Lambda's event carries it: the source ARN added, the creation time in epoch seconds."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):  # boto3 parses it; Lambda sends the number
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


@dataclass(frozen=True)
class StreamInvocation:
    """One call of the function with one batch, and where Lambda resumes the batch from if it failed."""

    event: dict[str, Any]
    response: Any = None
    error: Exception | None = None  # what the handler raised, if it did
    retry_from: str | None = None  # sequence number the batch is retried from; None when it succeeded
    discarded: bool = False  # retries exhausted: the records from `retry_from` on were dropped, not retried

    @property
    def sequence_numbers(self) -> tuple[str, ...]:
        return tuple(_sequence_number(record) for record in self.event["Records"])

    @property
    def succeeded(self) -> bool:
        return self.retry_from is None

    def processed(self, record: Record) -> bool:
        """Whether Lambda counts this record of the batch as done: it comes before the checkpoint."""
        numbers = self.sequence_numbers
        return self.retry_from is None or numbers.index(_sequence_number(record)) < numbers.index(self.retry_from)


@dataclass
class StreamMapping:
    """One AWS::Lambda::EventSourceMapping from a DynamoDB stream to a function."""

    function: LocalFunction
    stream_arn: str
    batch_size: int
    filters: list[dict[str, Any]]
    report_batch_item_failures: bool = False
    bisect_on_function_error: bool = False
    maximum_retry_attempts: int | None = None  # None: retried until the records expire (Lambda's -1)
    on_failure_destination: str | None = None  # ARN of the queue discarded batches are described to
    _iterators: dict[str, str] = field(default_factory=dict)
    _pending: dict[str, list[Record]] = field(default_factory=dict)  # per shard: read, not yet behind the checkpoint
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_template(cls, cloud: Cloud, function: LocalFunction) -> StreamMapping:
        properties = cloud.template.event_source_mapping(function.name, "dynamodb")
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination and ":sqs:" not in destination:
            raise NotImplementedError(f"{function.logical_id}: only SQS on-failure destinations are delivered")
        retries = int(properties.get("MaximumRetryAttempts", -1))
        return cls(
            function=function,
            stream_arn=properties["EventSourceArn"],
            batch_size=int(properties.get("BatchSize", 100)),
            filters=[json.loads(item["Pattern"]) for item in properties.get("FilterCriteria", {}).get("Filters", [])],
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            bisect_on_function_error=bool(properties.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=None if retries < 0 else retries,
            on_failure_destination=destination,
        )

    # ---------------------------------------------------------------------------------------------------- reading

    def _read(self) -> dict[str, list[Record]]:
        """Per shard, every record written since the last read that the filters accept, in stream order."""
        streams = boto3.client("dynamodbstreams")
        shards: dict[str, list[Record]] = {}
        for shard in streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            iterator = (
                self._iterators.get(shard_id)
                or streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            page = streams.get_records(ShardIterator=iterator)
            self._iterators[shard_id] = page["NextShardIterator"]
            records = [_lambda_record(dict(record), self.stream_arn) for record in page["Records"]]
            shards[shard_id] = [record for record in records if self._accepts(record)]
        return shards

    def _accepts(self, record: Record) -> bool:
        # Lambda drops what the filters reject before batching: those records count as processed.
        return not self.filters or any(_matches(pattern, record) for pattern in self.filters)

    def poll(self) -> list[Record]:
        """Every record written since the last poll that the filters accept, in stream order (not delivered)."""
        with self._lock:
            return [record for records in self._read().values() for record in records]

    # -------------------------------------------------------------------------------------------------- delivering

    def deliver(self) -> list[Any]:
        """Read and deliver the stream; returns each invocation's response (None where the handler raised)."""
        return [invocation.response for invocation in self.deliver_invocations()]

    def deliver_invocations(self) -> list[StreamInvocation]:
        """Read and deliver the stream; returns every invocation, in order. Serialised, like `QueueMapping`."""
        with self._lock:
            for shard_id, records in self._read().items():
                self._pending.setdefault(shard_id, []).extend(records)
            invocations: list[StreamInvocation] = []
            for shard_id, pending in self._pending.items():
                while pending:
                    batch = pending[: self.batch_size]
                    checkpointed = self._deliver_batch(shard_id, batch, invocations)
                    del pending[:checkpointed]
                    if checkpointed < len(batch):
                        break  # retried until the records expire: the shard waits for the next delivery
            return invocations

    def _deliver_batch(
        self, shard_id: str, batch: list[Record], invocations: list[StreamInvocation], retries: int = 0
    ) -> int:
        """Deliver one batch until it succeeds or is discarded; returns how many of its records are done."""
        done, invoke_count = 0, 0
        while True:
            remaining = batch[done:]
            invocation = self._invoke(remaining)
            invocations.append(invocation)
            invoke_count += 1
            if invocation.succeeded:
                return len(batch)
            if invocation.error is not None and self.bisect_on_function_error and len(remaining) > 1:
                return done + self._deliver_halves(shard_id, remaining, invocations, retries)
            done += invocation.sequence_numbers.index(str(invocation.retry_from))  # the records before it succeeded
            if self.maximum_retry_attempts is None:
                return done
            if retries >= self.maximum_retry_attempts:
                self._discard(shard_id, batch[done:], invocation, invoke_count)
                invocations[-1] = replace(invocation, discarded=True)
                return len(batch)
            retries += 1

    def _deliver_halves(
        self, shard_id: str, batch: list[Record], invocations: list[StreamInvocation], retries: int
    ) -> int:
        """BisectBatchOnFunctionError: each half on its own, in order, with the retries the batch had left."""
        half = len(batch) // 2
        first = self._deliver_batch(shard_id, batch[:half], invocations, retries)
        if first < half:
            return first
        return half + self._deliver_batch(shard_id, batch[half:], invocations, retries)

    def _invoke(self, records: list[Record]) -> StreamInvocation:
        event = {"Records": records}
        try:
            response = self.function.invoke(event)
        except Exception as error:  # a function error fails the whole batch
            return StreamInvocation(event, error=error, retry_from=_sequence_number(records[0]))
        return StreamInvocation(event, response=response, retry_from=self._retry_from(response, records))

    def _retry_from(self, response: Any, records: list[Record]) -> str | None:
        """Where a response makes Lambda resume the batch, read as Lambda reads it.

        No response, or an empty or null list, is complete success; a response that is not an object,
        or an identifier that is missing, empty or not in the batch, fails the whole batch; otherwise
        the lowest reported sequence number is the checkpoint.
        """
        numbers = [_sequence_number(record) for record in records]
        if not self.report_batch_item_failures or not response:
            return None
        if not isinstance(response, dict):
            return numbers[0]
        items = response.get("batchItemFailures")
        if not items:
            return None
        if not isinstance(items, list):
            return numbers[0]
        positions = []
        for item in items:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or identifier not in numbers:
                return numbers[0]
            positions.append(numbers.index(identifier))
        return numbers[min(positions)]

    def _discard(self, shard_id: str, records: list[Record], invocation: StreamInvocation, invoke_count: int) -> None:
        """Retries exhausted: the batch's description (not its records) goes to the on-failure destination."""
        if self.on_failure_destination is None:
            logger.warning("%s: discarded %d stream record(s) with no destination", self.function.name, len(records))
            return
        arrivals = [record["dynamodb"].get("ApproximateCreationDateTime", 0) for record in records]
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if invocation.error is not None:
            response_context["functionError"] = "Unhandled"
        invocation_record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": _function_arn(self.stream_arn, self.function.name),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invoke_count,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": _sequence_number(records[0]),
                "endSequenceNumber": _sequence_number(records[-1]),
                "approximateArrivalOfFirstRecord": _iso(arrivals[0]),
                "approximateArrivalOfLastRecord": _iso(arrivals[-1]),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        _, _, _, _, account, queue_name = self.on_failure_destination.split(":")
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(invocation_record))


def _function_arn(stream_arn: str, function_name: str) -> str:
    _, partition, _, region, account, _ = stream_arn.split(":", 5)
    return f"arn:{partition}:lambda:{region}:{account}:function:{function_name}"


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
