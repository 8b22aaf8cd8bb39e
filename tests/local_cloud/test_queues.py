"""The local SQS event source mapping: Lambda's event shape, deletes, retries, FIFO order and the DLQ."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel
from moto import mock_aws

from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.queues import QueueMapping
from tests.support import failed_with

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

Records = list[dict[str, Any]]


def succeed(_records: Records) -> Any:
    return {"batchItemFailures": []}


@dataclass
class Handler:
    """A handler that records every batch it gets and answers with `answer(records)`."""

    answer: Callable[[Records], Any] = succeed
    batches: list[Records] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], _context: Any) -> Any:
        self.batches.append(event["Records"])
        return self.answer(event["Records"])

    @property
    def bodies(self) -> list[list[str]]:
        return [[record["body"] for record in batch] for batch in self.batches]


def fail_first_time(*bodies: str) -> Callable[[Records], Any]:
    """Reports the records carrying `bodies` as failed the first time each is seen."""
    seen: set[str] = set()

    def answer(records: Records) -> Any:
        failed = [r["messageId"] for r in records if r["body"] in bodies and r["body"] not in seen]
        seen.update(r["body"] for r in records)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    return answer


def raise_first_time() -> Callable[[Records], Any]:
    calls = iter(range(1_000))

    def answer(_records: Records) -> Any:
        if next(calls) == 0:
            raise ConnectionError("a dependency is down")
        return None

    return answer


def always_raise(_records: Records) -> Any:
    raise ValueError("this batch cannot be processed")


@pytest.fixture
def sqs() -> Iterator[SQSClient]:
    with mock_aws():
        yield boto3.client("sqs")


def make_queue(sqs: SQSClient, name: str, *, fifo: bool = False, max_receive_count: int | None = None) -> str:
    """A queue (with a dead-letter queue when `max_receive_count` is given); returns its ARN."""
    attributes: dict[QueueAttributeNameType, str] = {"FifoQueue": "true"} if fifo else {}
    suffix = ".fifo" if fifo else ""
    if max_receive_count is not None:
        dead = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=dict(attributes))["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receive_count}
        )
    url = sqs.create_queue(QueueName=f"{name}{suffix}", Attributes=attributes)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def mapping(
    handler: Handler, queue_arn: str, *, batch_size: int = 10, report_batch_item_failures: bool = True
) -> QueueMapping:
    module = ModuleType("recorder")
    setattr(module, "handler", handler)  # noqa: B010 - a module built at run time has no attribute to name statically
    function = LocalFunction.of_module("Recorder", module, "handler")
    return QueueMapping.of_queue(function, queue_arn, batch_size, report_batch_item_failures)


def send(sqs: SQSClient, queue: QueueMapping, *bodies: str, group: str | None = None) -> list[str]:
    """Sends each body; to a FIFO queue in `group`, deduplicated by the body itself."""
    ids = []
    for body in bodies:
        if group:
            sent = sqs.send_message(
                QueueUrl=queue.queue_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
            )
        else:
            sent = sqs.send_message(QueueUrl=queue.queue_url, MessageBody=body)
        ids.append(sent["MessageId"])
    return ids


def dead_letters(sqs: SQSClient, queue: QueueMapping) -> list[str]:
    """The bodies in the queue's dead-letter queue (the target of its redrive policy)."""
    redrive = sqs.get_queue_attributes(QueueUrl=queue.queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    dead_name = json.loads(redrive["RedrivePolicy"])["deadLetterTargetArn"].split(":")[-1]
    url = sqs.get_queue_url(QueueName=dead_name)["QueueUrl"]
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def waiting(sqs: SQSClient, queue: QueueMapping) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


# ------------------------------------------------------------------ the event


def test_the_event_is_the_one_lambda_sends(sqs: SQSClient) -> None:
    handler = Handler()
    queue = mapping(handler, make_queue(sqs, "shape"))
    message_id = sqs.send_message(
        QueueUrl=queue.queue_url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "origin": {"DataType": "String", "StringValue": "test"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )["MessageId"]

    queue.deliver()

    ((record,),) = handler.batches
    SqsModel.model_validate({"Records": [record]})  # Powertools' model of Lambda's SQS event
    assert record["messageId"] == message_id
    assert record["body"] == '{"hello": "world"}'
    assert record["md5OfBody"] == hashlib.md5(b'{"hello": "world"}').hexdigest()  # noqa: S324 - SQS's checksum
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        queue.queue_arn,
        "us-east-1",
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "origin": {"stringValue": "test", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert "md5OfMessageAttributes" in record


def test_batches_are_no_larger_than_the_batch_size(sqs: SQSClient) -> None:
    handler = Handler()
    queue = mapping(handler, make_queue(sqs, "sizes"), batch_size=12)
    send(sqs, queue, *(f"message {i}" for i in range(25)))

    invocations = queue.deliver()

    assert [len(batch) for batch in handler.batches] == [12, 12, 1]
    assert [len(invocation.message_ids) for invocation in invocations] == [12, 12, 1]
    assert waiting(sqs, queue) == 0


# ------------------------------------------------------------------ the batching window


@dataclass
class Clock:
    """Stands in for time passing: the mapping's `clock`, moved on by the test, never slept."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def windowed(handler: Handler, queue_arn: str, clock: Clock, *, batch_size: int = 10) -> QueueMapping:
    queue = mapping(handler, queue_arn, batch_size=batch_size)
    queue.batching_window_seconds, queue.wait_for_batching_window, queue.clock = 5, True, clock
    return queue


def test_a_batch_short_of_its_size_waits_for_its_batching_window(sqs: SQSClient) -> None:
    clock = Clock()
    handler = Handler()
    queue = windowed(handler, make_queue(sqs, "window"), clock)
    send(sqs, queue, "a")

    assert queue.deliver() == [], "one message, well before MaximumBatchingWindowInSeconds"
    clock.now += 2
    send(sqs, queue, "b")
    assert queue.deliver() == [], "two messages, 2 s into a 5 s window"
    assert queue.gathering

    clock.now += 3
    queue.deliver()

    assert handler.bodies == [["a", "b"]], "the window is counted from the first message received, not the last"
    assert not queue.gathering
    assert waiting(sqs, queue) == 0


def test_a_full_batch_goes_at_once_and_the_rest_waits(sqs: SQSClient) -> None:
    clock = Clock()
    handler = Handler()
    queue = windowed(handler, make_queue(sqs, "full"), clock, batch_size=3)
    send(sqs, queue, "a", "b", "c", "d")

    queue.deliver()

    assert handler.bodies == [["a", "b", "c"]], "a full batch does not wait; the fourth message does"
    clock.now += queue.batching_window_seconds
    queue.deliver()
    assert handler.bodies == [["a", "b", "c"], ["d"]]


def test_a_waiting_batch_is_held_in_flight_not_received_again(sqs: SQSClient) -> None:
    """Put back on the queue instead, each wait would count as a receive and retire it to the DLQ."""
    clock = Clock()
    handler = Handler()
    queue = windowed(handler, make_queue(sqs, "held", max_receive_count=1), clock)
    send(sqs, queue, "a")

    for _ in range(3):
        assert queue.deliver() == []
        clock.now += 1
    clock.now += 2
    queue.deliver()

    assert handler.bodies == [["a"]]
    assert handler.batches[0][0]["attributes"]["ApproximateReceiveCount"] == "1"
    assert dead_letters(sqs, queue) == []


def test_without_waiting_a_batch_goes_at_once_whatever_its_window(sqs: SQSClient) -> None:
    handler = Handler()
    queue = windowed(handler, make_queue(sqs, "at-once"), Clock())
    queue.wait_for_batching_window = False
    send(sqs, queue, "a")

    queue.deliver()

    assert handler.bodies == [["a"]]


# ------------------------------------------------------------------ what is deleted, what is retried


def test_only_the_reported_failures_are_delivered_again(sqs: SQSClient) -> None:
    handler = Handler(fail_first_time("b"))
    queue = mapping(handler, make_queue(sqs, "partial", max_receive_count=3))
    _, b_id, _ = send(sqs, queue, "a", "b", "c")

    invocations = queue.deliver()

    assert handler.bodies == [["a", "b", "c"], ["b"]]
    assert [invocation.failed for invocation in invocations] == [(b_id,), ()]
    assert handler.batches[1][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert waiting(sqs, queue) == 0


def test_a_function_error_keeps_the_whole_batch(sqs: SQSClient) -> None:
    handler = Handler(raise_first_time())
    queue = mapping(handler, make_queue(sqs, "raises", max_receive_count=3))
    ids = send(sqs, queue, "a", "b")

    invocations = queue.deliver()

    assert failed_with(invocations[0].error, ConnectionError)
    assert invocations[0].failed == tuple(ids)
    assert handler.bodies == [["a", "b"], ["a", "b"]]
    assert waiting(sqs, queue) == 0


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"messageId": "a bad key"}]},
        {"batchItemFailures": "not a list"},
        "not an object",
    ],
)
def test_a_response_lambda_cannot_read_fails_the_whole_batch(sqs: SQSClient, answer: Any) -> None:
    calls: list[int] = []

    def once_unreadable(_records: Records) -> Any:
        calls.append(1)
        return answer if len(calls) == 1 else None

    handler = Handler(once_unreadable)
    queue = mapping(handler, make_queue(sqs, "unreadable", max_receive_count=3))
    send(sqs, queue, "a", "b")

    queue.deliver()

    assert handler.bodies == [["a", "b"], ["a", "b"]]


@pytest.mark.parametrize("answer", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_an_empty_response_is_complete_success(sqs: SQSClient, answer: Any) -> None:
    handler = Handler(lambda _records: answer)
    queue = mapping(handler, make_queue(sqs, "empty", max_receive_count=3))
    send(sqs, queue, "a", "b")

    invocations = queue.deliver()

    assert [invocation.failed for invocation in invocations] == [()]
    assert waiting(sqs, queue) == 0


def test_without_report_batch_item_failures_a_returned_list_is_ignored(sqs: SQSClient) -> None:
    handler = Handler(fail_first_time("a"))
    queue = mapping(handler, make_queue(sqs, "no-partial"), report_batch_item_failures=False)
    send(sqs, queue, "a", "b")

    invocations = queue.deliver()

    assert [invocation.failed for invocation in invocations] == [()]
    assert waiting(sqs, queue) == 0


def test_a_message_that_keeps_failing_moves_to_the_dead_letter_queue_after_max_receive_count(sqs: SQSClient) -> None:
    handler = Handler(always_raise)
    arn = make_queue(sqs, "poison", max_receive_count=2)
    queue = mapping(handler, arn)
    send(sqs, queue, "poison")

    invocations = queue.deliver()

    assert len(invocations) == 2
    assert [batch[0]["attributes"]["ApproximateReceiveCount"] for batch in handler.batches] == ["1", "2"]
    assert dead_letters(sqs, queue) == ["poison"]
    assert waiting(sqs, queue) == 0


def test_without_a_dead_letter_queue_a_failing_message_is_tried_once_per_delivery(sqs: SQSClient) -> None:
    handler = Handler(always_raise)
    queue = mapping(handler, make_queue(sqs, "no-dlq"))
    send(sqs, queue, "stuck")

    first, again = queue.deliver(), queue.deliver()

    assert (len(first), len(again)) == (1, 1)
    assert handler.batches[1][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert waiting(sqs, queue) == 1  # kept, not lost, until someone fixes the function


# ------------------------------------------------------------------ FIFO


def test_fifo_records_carry_their_group_and_a_failed_message_holds_its_group_back(sqs: SQSClient) -> None:
    handler = Handler(fail_first_time("a1"))
    arn = make_queue(sqs, "payments", fifo=True, max_receive_count=3)
    queue = mapping(handler, arn, batch_size=1)
    send(sqs, queue, "a1", "a2", group="order-a")
    send(sqs, queue, "b1", group="order-b")

    queue.deliver()

    # a2 waits for a1 to succeed; order-b is not held up by order-a's failure.
    assert handler.bodies == [["a1"], ["b1"], ["a1"], ["a2"]]
    attributes = handler.batches[0][0]["attributes"]
    assert (attributes["MessageGroupId"], attributes["MessageDeduplicationId"]) == ("order-a", "a1")
    assert "SequenceNumber" in attributes
    assert waiting(sqs, queue) == 0


def test_a_fifo_message_that_keeps_failing_moves_to_the_dead_letter_queue_and_frees_its_group(sqs: SQSClient) -> None:
    def fail_a1(records: Records) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "a1"]}

    handler = Handler(fail_a1)
    arn = make_queue(sqs, "orders", fifo=True, max_receive_count=2)
    queue = mapping(handler, arn, batch_size=1)
    send(sqs, queue, "a1", "a2", group="order-a")

    queue.deliver()

    assert handler.bodies == [["a1"], ["a1"], ["a2"]]
    assert dead_letters(sqs, queue) == ["a1"]


# ------------------------------------------------------------------ template and threads


def test_the_mapping_comes_from_the_template(cloud: Cloud, function: Callable[[str], LocalFunction]) -> None:
    notifications = QueueMapping.from_template(cloud, function("SendNotificationsFunction"))
    properties = cloud.template.event_source_mapping(notifications.function.name, "sqs")
    redrive = cloud.template.properties("NotificationsQueue")["RedrivePolicy"]

    assert notifications.queue_url == cloud.physical_id("NotificationsQueue")
    assert (notifications.batch_size, notifications.report_batch_item_failures) == (properties["BatchSize"], True)
    assert notifications.max_receive_count == redrive["maxReceiveCount"]
    assert notifications.batching_window_seconds == properties["MaximumBatchingWindowInSeconds"] > 0
    # Read for the poller that will run batches side by side (one invocation runs at a time today).
    assert notifications.maximum_concurrency == properties["ScalingConfig"]["MaximumConcurrency"]
    assert not notifications.wait_for_batching_window, "tests and make local deliver at once unless asked"
    with pytest.raises(LookupError, match="has no sqs mapping"):
        QueueMapping.from_template(cloud, function("GetOrderFunction"))


def test_deliveries_from_several_threads_hand_each_message_over_once(sqs: SQSClient) -> None:
    handler = Handler()
    queue = mapping(handler, make_queue(sqs, "threads"), batch_size=3)
    send(sqs, queue, *(f"message {i}" for i in range(30)))

    threads = [threading.Thread(target=queue.deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    delivered = [body for batch in handler.bodies for body in batch]
    assert sorted(delivered) == sorted(f"message {i}" for i in range(30))
    assert waiting(sqs, queue) == 0
