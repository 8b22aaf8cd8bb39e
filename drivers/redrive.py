"""Redrive a dead-letter queue to its source queue, as SQS's message move task does.

moto (5.2) has no StartMessageMoveTask, so the move is made of the calls a move task makes:
ReceiveMessage from the dead-letter queue, SendMessage to the source, DeleteMessage from the
dead-letter queue once the send succeeded. What it keeps of the task's semantics:

- the source is a dead-letter queue of SQS queues (ListDeadLetterSourceQueues); the destination
  defaults to that source queue when there is one, and must be named when there are several;
- it moves the messages that were there when it started (the task's ApproximateNumberOfMessagesToMove),
  so a message that fails again and comes back is not moved round in a loop;
- body, message attributes and, for FIFO queues, the message group are kept; the deduplication id
  is the dead-letter message's id, so a move retried after a crash between send and delete is not
  delivered twice, and the original id (likely still inside the source's 5-minute window) does not
  get the moved message dropped as a duplicate.

It talks only to the SQS API, so it runs against the local cloud's moto and against AWS alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

_RECEIVE_BATCH = 10
_IN_FLIGHT_SECONDS = 30  # long enough for one batch to be sent on and deleted


class NotADeadLetterQueue(ValueError):
    """The queue is no SQS queue's dead-letter queue, or is so for several and no destination was named."""


@dataclass(frozen=True)
class Move:
    source_url: str
    destination_url: str
    to_move: int  # messages in the dead-letter queue when the move started
    moved: int

    def __str__(self) -> str:
        return f"moved {self.moved} of {self.to_move} message(s) from {self.source_url} to {self.destination_url}"


def destination_of(sqs: SQSClient, dead_letter_url: str) -> str:
    """The queue a dead-letter queue's messages came from, when exactly one queue names it."""
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dead_letter_url).get("queueUrls", [])
    if len(sources) != 1:
        raise NotADeadLetterQueue(
            f"{dead_letter_url} is the dead-letter queue of {len(sources)} SQS queues"
            + ("; name the destination" if sources else " (a move task takes only SQS queues' dead-letter queues)")
        )
    return sources[0]


def redrive(sqs: SQSClient, dead_letter_url: str, destination_url: str | None = None) -> Move:
    """Move the messages waiting in `dead_letter_url` to `destination_url` (default: its source queue)."""
    destination = destination_url or destination_of(sqs, dead_letter_url)
    waiting = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"])
    to_move = int(waiting["Attributes"]["ApproximateNumberOfMessages"])
    fifo = destination.endswith(".fifo")
    moved = 0
    while moved < to_move:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url,
            MaxNumberOfMessages=min(_RECEIVE_BATCH, to_move - moved),
            VisibilityTimeout=_IN_FLIGHT_SECONDS,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(**_resent(message, destination, fifo))
            sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return Move(dead_letter_url, destination, to_move, moved)


def _resent(message: MessageTypeDef, destination: str, fifo: bool) -> dict[str, Any]:
    send: dict[str, Any] = {"QueueUrl": destination, "MessageBody": message["Body"]}
    attributes = {  # only the keys SendMessage takes (ReceiveMessage adds empty list values)
        name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
        for name, value in message.get("MessageAttributes", {}).items()
    }
    if attributes:
        send["MessageAttributes"] = attributes
    if fifo:
        send["MessageGroupId"] = message.get("Attributes", {})["MessageGroupId"]
        send["MessageDeduplicationId"] = message["MessageId"]
    return send
