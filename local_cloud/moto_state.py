"""A look at moto's state in this process, without a request: whether a queue or stream has anything new, its shards.

Lambda's pollers ask their queues and streams several times a second; the local cloud's ask moto over
HTTP, and most of those asks, on a cloud waiting for its next order, find nothing. Each costs the cloud's
process a request's handling and a response's serialisation (the GIL the API and moto share), so a poller
first looks here and asks only when something may be there. Only a look: what is delivered is always what
the request answers. Where moto's state is not in this process (or not found), the answer is "maybe".
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.kinesis.models import kinesis_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.responses import get_backend as stepfunctions_backend


def _parts(arn: str) -> tuple[str, str, str]:
    """Region, account and resource of an ARN."""
    _, _, _, region, account, resource = arn.split(":", 5)
    return region, account, resource


def queue_holds_messages(queue_arn: str) -> bool:
    """Whether the queue holds any message (visible, in flight or delayed); True when it cannot tell."""
    region, account, name = _parts(queue_arn)
    queue = sqs_backends[account][region].queues.get(name)
    return queue is None or bool(queue._messages)


def stream_position(stream_arn: str) -> Any:
    """Something that changes whenever the stream gets a record (None when it cannot tell)."""
    region, account, resource = _parts(stream_arn)
    if ":kinesis:" in stream_arn:
        stream = kinesis_backends[account][region].streams.get(resource.removeprefix("stream/"))
        if stream is None:
            return None
        return tuple((shard_id, len(shard.records)) for shard_id, shard in stream.shards.items())
    table = dynamodb_backends[account][region].tables.get(resource.split("/")[1])
    if table is None or table.stream_shard is None:
        return None
    return table.latest_stream_label, len(table.stream_shard.items)


def stream_shards(stream_arn: str) -> list[str] | None:
    """The stream's shard ids in moto's order (as ListShards and DescribeStream list them); None when it cannot tell."""
    region, account, resource = _parts(stream_arn)
    if ":kinesis:" in stream_arn:
        stream = kinesis_backends[account][region].streams.get(resource.removeprefix("stream/"))
        return None if stream is None else list(stream.shards)
    table = dynamodb_backends[account][region].tables.get(resource.split("/")[1])
    if table is None or table.stream_shard is None or table.latest_stream_label != resource.split("/")[-1]:
        return None
    return [table.stream_shard.id]


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    """An execution's history events as GetExecutionHistory lists them, read from moto without a request."""
    region, account, _ = _parts(execution_arn)
    return list(stepfunctions_backend(account, region).get_execution_history(execution_arn)["events"])
