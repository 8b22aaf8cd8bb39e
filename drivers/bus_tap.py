"""A queue subscribed to everything on an EventBridge bus, to see what was published."""

from __future__ import annotations

import json
from typing import Any

import boto3


class BusTap:
    """Creates a catch-all rule on `bus_name` targeting a new queue; `drain()` returns what arrived."""

    def __init__(self, bus_name: str, name: str = "bus-tap") -> None:
        sqs, events = boto3.client("sqs"), boto3.client("events")
        self._queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # Every event has a source, so a prefix of "" matches them all.
        events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
        events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": arn}])

    def drain(self) -> list[dict[str, Any]]:
        """The events delivered since the last drain, as EventBridge delivers them to a target."""
        sqs = boto3.client("sqs")
        delivered: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", []):
            delivered.extend(json.loads(message["Body"]) for message in messages)
            sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return delivered
