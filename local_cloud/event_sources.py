"""Every event source mapping of the template (DynamoDB and Kinesis streams, SQS queues), delivered in-process.

`settle` is how a flow runs to its end locally: it keeps delivering what streams and queues
hold while state machine executions work in their own threads, until the condition holds and
a last round finds nothing left to deliver. `make local` calls `deliver` in a loop instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from local_cloud.cloud import Cloud
from local_cloud.queues import Invocation, QueueMapping
from local_cloud.streams import StreamInvocation, StreamMapping

POLL_SECONDS = 0.05

# Told of every invocation a mapping makes: the mapping's function and what it was given and answered.
Observer = Callable[[str, StreamInvocation | Invocation], None]


class EventSources:
    def __init__(self, cloud: Cloud, observe: Observer | None = None) -> None:
        self.streams: list[StreamMapping] = []
        self.queues: list[QueueMapping] = []
        self.delivering: str | None = None  # "<function> <- its stream|queue" while `deliver` is at it
        self._observe = observe
        for spec in cloud.template.of_type("AWS::Lambda::EventSourceMapping").values():
            properties = cloud.template.resolve(spec["Properties"])
            function = cloud.functions.by_name(str(properties["FunctionName"]))
            if function is None:
                continue
            if ":dynamodb:" in properties["EventSourceArn"] or ":kinesis:" in properties["EventSourceArn"]:
                self.streams.append(StreamMapping.from_template(cloud, function))
            elif ":sqs:" in properties["EventSourceArn"]:
                self.queues.append(QueueMapping.from_template(cloud, function))

    def deliver(self) -> int:
        """One pass over every mapping; returns how many invocations it made."""
        made: list[tuple[str, StreamInvocation | Invocation]] = []
        for stream in self.streams:
            self.delivering = f"{stream.function.logical_id} <- its stream"
            made.extend((stream.function.logical_id, invocation) for invocation in stream.deliver_invocations())
        for queue in self.queues:
            self.delivering = f"{queue.function.logical_id} <- its queue"
            made.extend((queue.function.logical_id, invocation) for invocation in queue.deliver())
        self.delivering = None
        if self._observe is not None:
            for function, invocation in made:
                self._observe(function, invocation)
        return len(made)

    def settle(self, until: Callable[[], Any] = lambda: True, timeout_seconds: float = 30) -> None:
        """Deliver until `until()` is true and nothing is left to deliver; TimeoutError past the deadline."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            # Checked before delivering: what was written before the condition held is then delivered
            # in this pass, so a step finishing mid-pass cannot leave its last events behind.
            done = until()
            delivered = self.deliver()
            if done and not delivered:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not settled after {timeout_seconds}s (waiting for {until.__name__})")
            if not delivered:
                time.sleep(POLL_SECONDS)
