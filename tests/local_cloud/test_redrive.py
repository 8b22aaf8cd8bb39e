"""Redriving a dead-letter queue with SQS calls, as SQS's message move task does (moto has no StartMessageMoveTask)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from drivers.redrive import NotADeadLetterQueue, redrive

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType


@pytest.fixture
def sqs() -> Iterator[SQSClient]:
    with mock_aws():
        yield boto3.client("sqs")


def queue_with_dlq(sqs: SQSClient, name: str, fifo: bool = False) -> tuple[str, str]:
    suffix = ".fifo" if fifo else ""
    fifo_attributes: dict[QueueAttributeNameType, str] = {"FifoQueue": "true"} if fifo else {}
    dead = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=fifo_attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive_policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    source = sqs.create_queue(
        QueueName=f"{name}{suffix}", Attributes={**fifo_attributes, "RedrivePolicy": redrive_policy}
    )["QueueUrl"]
    return source, dead


def fail_once(sqs: SQSClient, source: str) -> None:
    """Receive without deleting until the queue is empty: past maxReceiveCount (1), a receive dead-letters."""
    for _ in range(10):  # a FIFO queue hands out one group at a time
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0)
        if depth(sqs, source) == 0:
            return
    raise AssertionError(f"{source} kept {depth(sqs, source)} message(s)")


def depth(sqs: SQSClient, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_fifo_dlq_is_moved_back_to_its_source_with_groups_bodies_and_attributes(sqs: SQSClient) -> None:
    source, dead = queue_with_dlq(sqs, "payments", fifo=True)
    for number, group in enumerate(["order-a", "order-b", "order-a"]):
        sqs.send_message(
            QueueUrl=source,
            MessageBody=f"event {number}",
            MessageGroupId=group,
            MessageDeduplicationId=f"event-{number}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": f"kind-{number}"}},
        )
    fail_once(sqs, source)
    assert depth(sqs, dead) == 3

    move = redrive(sqs, dead)

    assert (move.to_move, move.moved, move.destination_url) == (3, 3, source)
    assert depth(sqs, dead) == 0
    back = sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    moved = {
        (m["Body"], m["Attributes"]["MessageGroupId"], m["MessageAttributes"]["kind"]["StringValue"]) for m in back
    }
    # The original deduplication ids are still in the source's 5-minute window: kept, they would drop the moves.
    assert moved == {
        ("event 0", "order-a", "kind-0"),
        ("event 1", "order-b", "kind-1"),
        ("event 2", "order-a", "kind-2"),
    }


def test_only_the_messages_waiting_when_it_starts_are_moved(sqs: SQSClient) -> None:
    source, dead = queue_with_dlq(sqs, "notifications")
    for body in ("poison 1", "poison 2"):
        sqs.send_message(QueueUrl=source, MessageBody=body)
    fail_once(sqs, source)

    class FailingAgainAtOnce:
        """SQS, where each moved message fails again and is back in the DLQ before the move goes on."""

        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def send_message(self, **send: Any) -> Any:
            sent = sqs.send_message(**send)
            sqs.send_message(QueueUrl=dead, MessageBody=f"back: {send['MessageBody']}")
            return sent

    move = redrive(FailingAgainAtOnce(), dead)  # type: ignore[arg-type]  # the SQS client, one call observed

    assert (move.to_move, move.moved) == (2, 2)  # the task ends: what came back waits for the next redrive
    assert depth(sqs, source) == 2
    assert sorted(m["Body"] for m in sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10)["Messages"]) == [
        "back: poison 1",
        "back: poison 2",
    ]


def test_a_queue_no_sqs_queue_dead_letters_to_cannot_be_redriven(sqs: SQSClient) -> None:
    rule_dlq = sqs.create_queue(QueueName="rule-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=rule_dlq, MessageBody="an event EventBridge could not deliver")

    with pytest.raises(NotADeadLetterQueue, match="dead-letter queue of 0 SQS queues"):
        redrive(sqs, rule_dlq)

    assert depth(sqs, rule_dlq) == 1


def test_a_named_destination_is_where_the_messages_go(sqs: SQSClient) -> None:
    source, dead = queue_with_dlq(sqs, "analytics")
    elsewhere = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    sqs.send_message(QueueUrl=source, MessageBody="counted later")
    fail_once(sqs, source)

    move = redrive(sqs, dead, elsewhere)

    assert move.moved == 1
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=elsewhere)["Messages"]] == ["counted later"]
    assert depth(sqs, source) == 0
