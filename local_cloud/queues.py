"""SQS -> Lambda, as an event source mapping delivers messages.

Receives from the queue up to the mapping's batch size, invokes the function with the event
Lambda sends, and deletes the messages that succeeded: with ReportBatchItemFailures, all but
the ones the function lists; without it, all of them unless the function raised.

One acceleration over Lambda: a message that failed is made visible again at once
(ChangeMessageVisibility 0) instead of after the queue's visibility timeout, so its retries
happen within one `deliver()`. The queue's own redrive policy, which moto applies on receive,
then moves it to the dead-letter queue once it has been received maxReceiveCount times.

MaximumBatchingWindowInSeconds only delays a batch, so by default a batch goes as soon as it is
received; with `wait_for_batching_window` (local_cloud.batching) a batch short of the batch size
is held, its messages in flight as Lambda's poller holds them, and goes once it is full or the
mapping's `clock` says it has gathered for the window since its first message was received.
A function in sandboxes gets several batches at once, up to ScalingConfig.MaximumConcurrency (else its
own limit); a FIFO group still goes in order, as moto, like SQS, gives no message of a group with one in
flight. An in-process function gets one batch at a time. A queue moto holds no message in is not asked.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from local_cloud.batching import keeps_gathering
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.moto_state import queue_holds_messages

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

SQS_MAX_BATCH = 10  # most messages one ReceiveMessage, DeleteMessageBatch or ChangeMessageVisibilityBatch takes


@dataclass(frozen=True)
class Invocation:
    """One call of the function: the event it got and which of its messages stay on the queue."""

    event: dict[str, Any]
    failed: tuple[str, ...]  # message ids left for redelivery
    response: Any = None
    error: Exception | None = None  # what the handler raised, if it did

    @property
    def message_ids(self) -> tuple[str, ...]:
        return tuple(record["messageId"] for record in self.event["Records"])


def _chunks[T](items: Sequence[T], size: int = SQS_MAX_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _lambda_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    """A message attribute as Lambda spells it (camelCase, binaries base64-encoded)."""
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


@contextmanager
def _batch_runner(concurrency: int, name: str) -> Iterator[Callable[..., Future[Invocation]]]:
    """Runs a batch and gives its future: in a pool of `concurrency` threads, or, for one at a time, at once here."""
    if concurrency > 1:
        with ThreadPoolExecutor(concurrency, thread_name_prefix=name) as pool:
            yield pool.submit
        return

    def run_here(
        invoke: Callable[[list[MessageTypeDef]], Invocation], messages: list[MessageTypeDef]
    ) -> Future[Invocation]:
        future: Future[Invocation] = Future()
        try:
            future.set_result(invoke(messages))
        except Exception as error:  # as a pool's future would carry it
            future.set_exception(error)
        return future

    yield run_here


@dataclass
class QueueMapping:
    """One AWS::Lambda::EventSourceMapping from an SQS queue (standard or FIFO) to a function."""

    function: LocalFunction
    queue_arn: str
    queue_url: str
    batch_size: int
    report_batch_item_failures: bool
    max_receive_count: int | None  # from the queue's redrive policy; None when it has no dead-letter queue
    sqs: SQSClient = field(repr=False)
    batching_window_seconds: int = 0
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency; None: the function's own limit
    wait_for_batching_window: bool = False  # see the module's docstring
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _gathered: list[MessageTypeDef] = field(default_factory=list, repr=False)  # received, held for the window
    _gathering_since: float | None = None  # when the held batch's first message was received, by `clock`
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_template(cls, cloud: Cloud, function: LocalFunction) -> QueueMapping:
        properties = cloud.template.event_source_mapping(function.name, "sqs")
        if "FilterCriteria" in properties:
            # Lambda deletes the messages a filter rejects; delivering them instead would mislead.
            raise NotImplementedError(f"{function.logical_id}: SQS filter criteria are not delivered locally")
        concurrency = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
        return cls.of_queue(
            function,
            properties["EventSourceArn"],
            batch_size=int(properties.get("BatchSize", SQS_MAX_BATCH)),
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            batching_window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
            maximum_concurrency=None if concurrency is None else int(concurrency),
        )

    @classmethod
    def of_queue(
        cls,
        function: LocalFunction,
        queue_arn: str,
        batch_size: int,
        report_batch_item_failures: bool,
        *,
        batching_window_seconds: int = 0,
        maximum_concurrency: int | None = None,
    ) -> QueueMapping:
        """A mapping from the queue `queue_arn` names, with the redrive policy the queue has."""
        _, _, _, _, account, queue_name = queue_arn.split(":")
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        # A queue without the attribute answers with no Attributes at all.
        redrive = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        return cls(
            function=function,
            queue_arn=queue_arn,
            queue_url=url,
            batch_size=batch_size,
            report_batch_item_failures=report_batch_item_failures,
            max_receive_count=(
                int(json.loads(redrive["RedrivePolicy"])["maxReceiveCount"]) if "RedrivePolicy" in redrive else None
            ),
            sqs=sqs,
            batching_window_seconds=batching_window_seconds,
            maximum_concurrency=maximum_concurrency,
        )

    def deliver(self) -> list[Invocation]:
        """Deliver until the queue has no visible message, or its next batch waits for its batching window;
        returns every invocation, in order.

        Each round hands every visible message to the function, batch by batch, and keeps the
        failed ones invisible until the round ends (so a FIFO group waits behind its failed
        message), then makes them visible for the next round. Failing messages thus end in the
        dead-letter queue after maxReceiveCount rounds. A round in which every message failed
        ends the delivery when no redrive policy could retire them, or once every message had
        its maxReceiveCount: redelivering would only fail again. Serialised by a lock, so a
        polling loop may call it from another thread.
        """
        with self._lock:
            invocations: list[Invocation] = []
            rounds = 0
            while this_round := self._round():
                rounds += 1
                invocations.extend(this_round)
                self._make_visible([record for inv in this_round for record in self._failed_records(inv)])
                nothing_deleted = all(len(inv.failed) == len(inv.message_ids) for inv in this_round)
                if nothing_deleted and (self.max_receive_count is None or rounds > self.max_receive_count):
                    break
            return invocations

    def _round(self) -> list[Invocation]:
        """Up to the mapping's concurrency of batches in flight; a new batch is received as soon as one ends.

        With a concurrency of one (an in-process function) that is one batch after another, in this thread.
        """
        if not self._gathered and not queue_holds_messages(self.queue_arn):
            return []  # nothing to receive: no request made
        concurrency = min(self.maximum_concurrency or self.function.concurrency, self.function.concurrency)
        invocations: list[Invocation] = []
        with _batch_runner(concurrency, f"sqs-{self.function.logical_id}") as run:
            in_flight: set[Future[Invocation]] = set()
            while True:
                while len(in_flight) < concurrency and (messages := self._next_batch()):
                    in_flight.add(run(self._invoke, messages))
                if not in_flight:
                    return invocations
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                invocations.extend(future.result() for future in done)

    def _next_batch(self) -> list[MessageTypeDef]:
        """The held messages and what the queue has, up to the batch size; empty while the batch waits."""
        messages = self._gathered + self._receive(self.batch_size - len(self._gathered))
        since = self.clock() if self._gathering_since is None else self._gathering_since
        self._gathered, self._gathering_since = [], None
        if messages and keeps_gathering(
            wait=self.wait_for_batching_window,
            size=len(messages),
            batch_size=self.batch_size,
            gathered_seconds=self.clock() - since,
            window_seconds=self.batching_window_seconds,
        ):
            self._gathered, self._gathering_since = messages, since  # in flight, as Lambda's poller keeps them
            return []
        return messages

    @property
    def gathering(self) -> bool:
        """Whether a batch is held for its batching window (it goes on a later `deliver()`)."""
        return bool(self._gathered)

    def _receive(self, wanted: int) -> list[MessageTypeDef]:
        messages: list[MessageTypeDef] = []
        while len(messages) < wanted:
            page = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_BATCH, wanted - len(messages)),
                WaitTimeSeconds=0,  # the queue may long-poll; an empty queue ends the batch here at once
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not page:
                break
            messages.extend(page)
        return messages

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        """One message as Lambda's SQS event carries it."""
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _lambda_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.queue_arn.split(":")[3],
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _invoke(self, messages: list[MessageTypeDef]) -> Invocation:
        event = {"Records": [self._record(message) for message in messages]}
        ids = [record["messageId"] for record in event["Records"]]
        try:
            response = self.function.invoke(event)
        except Exception as error:  # a function error: Lambda keeps the whole batch for redelivery
            invocation = Invocation(event, failed=tuple(ids), error=error)
        else:
            failed = self._failed_ids(response, ids)
            invocation = Invocation(event, failed=tuple(i for i in ids if i in failed), response=response)
        done = [record for record in event["Records"] if record["messageId"] not in invocation.failed]
        for chunk in _chunks(done):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
        return invocation

    def _failed_ids(self, response: Any, ids: list[str]) -> set[str]:
        """The messages a response leaves on the queue, read as Lambda reads it.

        No response, or an empty or null list, is complete success; a response that is not an
        object, or an identifier that is missing, empty or not in the batch, fails the whole batch.
        """
        if not self.report_batch_item_failures or not response:
            return set()
        if not isinstance(response, dict):
            return set(ids)
        items = response.get("batchItemFailures")
        if not items:
            return set()
        if not isinstance(items, list):
            return set(ids)
        identifiers: set[str] = set()
        for item in items:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or identifier not in ids:
                return set(ids)
            identifiers.add(identifier)
        return identifiers

    def _failed_records(self, invocation: Invocation) -> list[dict[str, Any]]:
        return [record for record in invocation.event["Records"] if record["messageId"] in invocation.failed]

    def _make_visible(self, records: list[dict[str, Any]]) -> None:
        for chunk in _chunks(records):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0}
                    for i, r in enumerate(chunk)
                ],
            )
