"""DynamoDB Streams and Kinesis Data Streams -> Lambda, as an event source mapping delivers them.

Reads the stream from moto, keeps records the mapping's filter accepts (DynamoDB only), and hands
them to the function in batches of the mapping's size, shard by shard in stream order, shaped as
Lambda receives them. With a ParallelizationFactor above 1, each shard's records are split by
partition key (Kinesis) or item key (DynamoDB) into that many lanes, each with its own batches,
checkpoint and order, as Lambda's concurrent batches per shard are (delivered one after another
here). A batch that fails is handled as the mapping says:

- with ReportBatchItemFailures, the records before the lowest reported sequence number are
  done and the batch is retried from that record; an unreadable response fails the whole batch;
- a function error fails the whole batch; with BisectBatchOnFunctionError the batch is split
  in two and each half delivered on its own (splitting uses up no retry);
- after MaximumRetryAttempts retries the batch is discarded: its description goes to the
  on-failure destination and the shard moves on. With no limit (-1, the default) Lambda
  retries until the records expire; locally the shard stops there, and the next `deliver()`
  retries it.

Records behind a failing batch wait for it, as on a shard. Retries happen at once, within one
`deliver()`; a record older than MaximumRecordAgeInSeconds when its batch is formed (by the
mapping's `clock`) is discarded to the on-failure destination without an invocation.

MaximumBatchingWindowInSeconds only delays a batch, so by default a batch goes at once; with
`wait_for_batching_window` a lane's batch waits until it is full or its first record has waited
the window.

TumblingWindowInSeconds: batches never span two windows (by record arrival time); each invocation
carries the window, its `state` as the last successful or partly successful invocation returned it
(a function error leaves it as it was), `shardId` and `isFinalInvokeForWindow`. A response without
`state` fails the batch. Once the clock passes a window's end and its records are checkpointed, a
last invocation with no records and `isFinalInvokeForWindow: true` closes it; until that one
succeeds, the lane waits (Lambda suspends the shard the same way).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3

from local_cloud.batching import keeps_gathering
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.moto_state import stream_position, stream_shards

Record = dict[str, Any]
Lane = tuple[str, int]  # shard id, and which of its ParallelizationFactor lanes
PAGE_RECORDS = 1000  # a GetRecords page's limit (DynamoDB Streams' largest): fewer means the shard was read to its end
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
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


def _arrival(record: Record) -> float:
    """When the record reached the stream, in epoch seconds."""
    if "kinesis" in record:
        return float(record["kinesis"]["approximateArrivalTimestamp"])
    return float(record["dynamodb"].get("ApproximateCreationDateTime", 0))


def _partition_key(record: Record) -> str:
    if "kinesis" in record:
        return str(record["kinesis"]["partitionKey"])
    return json.dumps(record["dynamodb"].get("Keys", {}), sort_keys=True)


def _kinesis_lambda_record(record: Record, stream_arn: str, shard_id: str, role_arn: str) -> Record:
    """A Kinesis record as Lambda's event carries it: data base64-encoded, arrival in epoch seconds."""
    arrival = record["ApproximateArrivalTimestamp"]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrival.timestamp() if isinstance(arrival, datetime) else float(arrival),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": stream_arn.split(":")[3],
        "eventSourceARN": stream_arn,
    }


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
    window_not_closed: bool = False  # a window's final invocation failed: it is made again

    @property
    def sequence_numbers(self) -> tuple[str, ...]:
        return tuple(_sequence_number(record) for record in self.event["Records"])

    @property
    def succeeded(self) -> bool:
        return self.retry_from is None and not self.window_not_closed

    @property
    def closes_window(self) -> bool:
        return bool(self.event.get("isFinalInvokeForWindow"))

    def processed(self, record: Record) -> bool:
        """Whether Lambda counts this record of the batch as done: it comes before the checkpoint."""
        numbers = self.sequence_numbers
        return self.retry_from is None or numbers.index(_sequence_number(record)) < numbers.index(self.retry_from)


@dataclass
class _Window:
    """A lane's open tumbling window: where it starts (epoch seconds) and the state the function keeps in it."""

    start: float
    state: Any = field(default_factory=dict)


@dataclass
class StreamMapping:
    """One AWS::Lambda::EventSourceMapping from a DynamoDB stream or a Kinesis stream to a function."""

    function: LocalFunction
    stream_arn: str
    batch_size: int
    filters: list[dict[str, Any]]
    report_batch_item_failures: bool = False
    bisect_on_function_error: bool = False
    maximum_retry_attempts: int | None = None  # None: retried until the records expire (Lambda's -1)
    maximum_record_age_seconds: int | None = None  # None: records never expire by age (Lambda's -1)
    on_failure_destination: str | None = None  # ARN of the queue discarded batches are described to
    parallelization_factor: int = 1
    tumbling_window_seconds: int = 0  # 0: no tumbling window
    batching_window_seconds: int = 0
    starting_position: str = "TRIM_HORIZON"
    wait_for_batching_window: bool = False  # see the module's docstring
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _iterators: dict[str, str] = field(default_factory=dict)
    _read_at: Any = None  # the stream's position (local_cloud.moto_state) when last read; None: read next time
    _client: Any = field(default=None, repr=False)  # the stream's client, made at the first read and kept
    _read_full: bool = False  # whether a page of the last read was full (more may wait behind it)
    _pending: dict[Lane, list[Record]] = field(default_factory=dict)  # per lane: read, not yet behind the checkpoint
    _windows: dict[Lane, _Window] = field(default_factory=dict)  # per lane: its open tumbling window
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_template(cls, cloud: Cloud, function: LocalFunction) -> StreamMapping:
        try:
            properties = cloud.template.event_source_mapping(function.name, "dynamodb")
        except LookupError:
            properties = cloud.template.event_source_mapping(function.name, "kinesis")
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination and ":sqs:" not in destination:
            raise NotImplementedError(f"{function.logical_id}: only SQS on-failure destinations are delivered")
        filters = [json.loads(item["Pattern"]) for item in properties.get("FilterCriteria", {}).get("Filters", [])]
        if filters and ":kinesis:" in properties["EventSourceArn"]:
            raise NotImplementedError(f"{function.logical_id}: filters on Kinesis records' data are not delivered")
        retries = int(properties.get("MaximumRetryAttempts", -1))
        age = int(properties.get("MaximumRecordAgeInSeconds", -1))
        return cls(
            function=function,
            stream_arn=properties["EventSourceArn"],
            batch_size=int(properties.get("BatchSize", 100)),
            filters=filters,
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            bisect_on_function_error=bool(properties.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=None if retries < 0 else retries,
            maximum_record_age_seconds=None if age < 0 else age,
            on_failure_destination=destination,
            parallelization_factor=int(properties.get("ParallelizationFactor", 1)),
            tumbling_window_seconds=int(properties.get("TumblingWindowInSeconds", 0)),
            batching_window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=str(properties.get("StartingPosition", "TRIM_HORIZON")),
        )

    @property
    def _kinesis(self) -> bool:
        return ":kinesis:" in self.stream_arn

    # ---------------------------------------------------------------------------------------------------- reading

    def _read(self) -> dict[str, list[Record]]:
        """Per shard, every record written since the last read that the filters accept, in stream order.

        Nothing, without a request, when moto's stream has had no record since the last read.
        """
        position = stream_position(self.stream_arn)
        if position is not None and position == self._read_at:
            return {}
        if self._client is None:
            self._client = boto3.client("kinesis" if self._kinesis else "dynamodbstreams")
        self._read_full = False
        shards = self._read_kinesis() if self._kinesis else self._read_dynamodb()
        # Only a full page may leave records behind it: then read again without waiting for a new record.
        self._read_at = None if self._read_full else position
        return shards

    def _shard_ids(self) -> list[str]:
        """The stream's shards, from moto's state when it is in this process (a request each read cost the cloud's
        process as much as the read itself), else as DescribeStream or ListShards answers."""
        known = stream_shards(self.stream_arn)
        if known is not None:
            return known
        if self._kinesis:
            return [shard["ShardId"] for shard in self._client.list_shards(StreamARN=self.stream_arn)["Shards"]]
        description = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def _read_dynamodb(self) -> dict[str, list[Record]]:
        streams = self._client
        shards: dict[str, list[Record]] = {}
        for shard_id in self._shard_ids():
            iterator = (
                self._iterators.get(shard_id)
                or streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            page = streams.get_records(ShardIterator=iterator, Limit=PAGE_RECORDS)
            self._iterators[shard_id] = page["NextShardIterator"]
            self._read_full |= len(page["Records"]) >= PAGE_RECORDS
            records = [_lambda_record(dict(record), self.stream_arn) for record in page["Records"]]
            shards[shard_id] = [record for record in records if self._accepts(record)]
        return shards

    def _read_kinesis(self) -> dict[str, list[Record]]:
        kinesis = self._client
        role_arn = _arn(self.stream_arn, "iam", f"role/{self.function.logical_id}Role")
        shards: dict[str, list[Record]] = {}
        for shard_id in self._shard_ids():
            iterator = (
                self._iterators.get(shard_id)
                or kinesis.get_shard_iterator(
                    StreamARN=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.starting_position,
                )["ShardIterator"]
            )
            page = kinesis.get_records(ShardIterator=iterator, StreamARN=self.stream_arn, Limit=PAGE_RECORDS)
            self._iterators[shard_id] = page["NextShardIterator"]
            self._read_full |= len(page["Records"]) >= PAGE_RECORDS
            shards[shard_id] = [
                _kinesis_lambda_record(dict(record), self.stream_arn, shard_id, role_arn) for record in page["Records"]
            ]
        return shards

    def _lane(self, shard_id: str, record: Record) -> Lane:
        """Records with one partition key always share a lane, so they stay in order."""
        return shard_id, zlib.crc32(_partition_key(record).encode()) % self.parallelization_factor

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
                for record in records:
                    self._pending.setdefault(self._lane(shard_id, record), []).append(record)
            invocations: list[StreamInvocation] = []
            for lane in sorted(set(self._pending) | set(self._windows)):
                self._deliver_lane(lane, self._pending.setdefault(lane, []), invocations)
            return invocations

    def _deliver_lane(self, lane: Lane, pending: list[Record], invocations: list[StreamInvocation]) -> None:
        while pending:
            if expired := self._expired(pending):
                self._discard(lane[0], expired, None, 0, condition="RecordAgeExceeded")
                del pending[: len(expired)]
                continue
            batch = self._next_batch(pending)
            if not batch:
                return  # waiting for its batching window
            if self.tumbling_window_seconds and not self._open_window(lane, batch[0], invocations):
                return  # the shard waits until its window closes
            checkpointed = self._deliver_batch(lane, batch, invocations)
            del pending[:checkpointed]
            if checkpointed < len(batch):
                return  # retried until the records expire: the shard waits for the next delivery
        window = self._windows.get(lane)
        if window is not None and self.clock() >= window.start + self.tumbling_window_seconds:
            self._close_window(lane, invocations)

    def _open_window(self, lane: Lane, first: Record, invocations: list[StreamInvocation]) -> bool:
        """Make the window `first` arrived in the lane's open one, closing the previous; False if that failed."""
        window = self._windows.get(lane)
        start = self._window_start(first)
        if window is not None and window.start != start and not self._close_window(lane, invocations):
            return False
        self._windows.setdefault(lane, _Window(start))
        return True

    def _expired(self, pending: list[Record]) -> list[Record]:
        """The records at the head of the lane older than MaximumRecordAgeInSeconds."""
        if self.maximum_record_age_seconds is None:
            return []
        oldest_kept = self.clock() - self.maximum_record_age_seconds
        expired: list[Record] = []
        for record in pending:
            if _arrival(record) >= oldest_kept:
                break
            expired.append(record)
        return expired

    def _next_batch(self, pending: list[Record]) -> list[Record]:
        """The lane's next batch: up to the batch size, within one tumbling window; empty while it waits."""
        start = self._window_start(pending[0])
        in_window = next((i for i, record in enumerate(pending) if self._window_start(record) != start), len(pending))
        batch = pending[: min(self.batch_size, in_window)]
        if keeps_gathering(
            wait=self.wait_for_batching_window,
            size=len(batch),
            batch_size=self.batch_size,
            gathered_seconds=self.clock() - _arrival(batch[0]),  # a shard's records are there to read on arrival
            window_seconds=self.batching_window_seconds,
        ):
            return []
        return batch

    def _window_start(self, record: Record) -> float:
        if not self.tumbling_window_seconds:
            return 0.0
        arrival = _arrival(record)
        return arrival - arrival % self.tumbling_window_seconds

    def _close_window(self, lane: Lane, invocations: list[StreamInvocation]) -> bool:
        """The window's final invocation (no records); whether it succeeded, which ends the window."""
        window = self._windows[lane]
        event = self._event([], lane, final=True)
        try:
            response = self.function.invoke(event)
        except Exception as error:  # the final invocation is retried until it succeeds
            invocations.append(StreamInvocation(event, error=error, window_not_closed=True))
            return False
        closed = isinstance(response, dict) and "state" in response
        invocations.append(StreamInvocation(event, response=response, window_not_closed=not closed))
        if closed:
            del self._windows[lane]
        else:
            logger.warning("%s: the final invocation of window %s answered no state", self.function.name, window)
        return closed

    def _event(self, records: list[Record], lane: Lane, final: bool = False) -> dict[str, Any]:
        """What the function is given: the records, plus the window and its state with tumbling windows."""
        event: dict[str, Any] = {"Records": records}
        if self.tumbling_window_seconds:
            window = self._windows[lane]
            event |= {
                "window": {"start": _iso(window.start), "end": _iso(window.start + self.tumbling_window_seconds)},
                "state": json.loads(json.dumps(window.state)),  # the function must not change ours
                "shardId": lane[0],
                "eventSourceARN": self.stream_arn,
                "isFinalInvokeForWindow": final,
                "isWindowTerminatedEarly": False,
            }
        return event

    def _deliver_batch(
        self, lane: Lane, batch: list[Record], invocations: list[StreamInvocation], retries: int = 0
    ) -> int:
        """Deliver one batch until it succeeds or is discarded; returns how many of its records are done."""
        done, invoke_count = 0, 0
        while True:
            remaining = batch[done:]
            invocation = self._invoke(remaining, lane)
            invocations.append(invocation)
            invoke_count += 1
            if invocation.succeeded:
                return len(batch)
            if invocation.error is not None and self.bisect_on_function_error and len(remaining) > 1:
                return done + self._deliver_halves(lane, remaining, invocations, retries)
            done += invocation.sequence_numbers.index(str(invocation.retry_from))  # the records before it succeeded
            if self.maximum_retry_attempts is None:
                return done
            if retries >= self.maximum_retry_attempts:
                self._discard(lane[0], batch[done:], invocation, invoke_count)
                invocations[-1] = replace(invocation, discarded=True)
                return len(batch)
            retries += 1

    def _deliver_halves(
        self, lane: Lane, batch: list[Record], invocations: list[StreamInvocation], retries: int
    ) -> int:
        """BisectBatchOnFunctionError: each half on its own, in order, with the retries the batch had left."""
        half = len(batch) // 2
        first = self._deliver_batch(lane, batch[:half], invocations, retries)
        if first < half:
            return first
        return half + self._deliver_batch(lane, batch[half:], invocations, retries)

    def _invoke(self, records: list[Record], lane: Lane) -> StreamInvocation:
        event = self._event(records, lane)
        try:
            response = self.function.invoke(event)
        except Exception as error:  # a function error fails the whole batch, and leaves the window's state
            return StreamInvocation(event, error=error, retry_from=_sequence_number(records[0]))
        if self.tumbling_window_seconds:
            if not isinstance(response, dict) or "state" not in response:
                return StreamInvocation(event, response=response, retry_from=_sequence_number(records[0]))
            self._windows[lane].state = response["state"]  # kept with the checkpoint, also when partly failed
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

    def _discard(
        self,
        shard_id: str,
        records: list[Record],
        invocation: StreamInvocation | None,
        invoke_count: int,
        condition: str = "RetryAttemptsExhausted",
    ) -> None:
        """Retries exhausted or records too old: the batch's description (not its records) goes to the destination."""
        if self.on_failure_destination is None:
            logger.warning("%s: discarded %d stream record(s) with no destination", self.function.name, len(records))
            return
        arrivals = [_arrival(record) for record in records]
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if invocation is not None and invocation.error is not None:
            response_context["functionError"] = "Unhandled"
        invocation_record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": _arn(self.stream_arn, "lambda", f"function:{self.function.name}"),
                "condition": condition,
                "approximateInvokeCount": invoke_count,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "KinesisBatchInfo" if self._kinesis else "DDBStreamBatchInfo": {
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


def _arn(stream_arn: str, service: str, resource: str) -> str:
    """An ARN of `service` in the stream's partition, region (none for IAM) and account."""
    _, partition, _, region, account, _ = stream_arn.split(":", 5)
    return f"arn:{partition}:{service}:{'' if service == 'iam' else region}:{account}:{resource}"


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
