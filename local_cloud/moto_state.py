"""A look at moto's state in this process, without a request: whether a queue or stream has anything new, its shards.

Lambda's pollers ask their queues and streams several times a second; the local cloud's ask moto over
HTTP, and most of those asks, on a cloud waiting for its next order, find nothing. Each costs the cloud's
process a request's handling and a response's serialisation (the GIL the API and moto share), so a poller
first looks here and asks only when something may be there. Only a look: what is delivered is always what
the request answers. Where moto's state is not in this process (or not found), the answer is "maybe".
"""

from __future__ import annotations

from typing import Any, cast

from moto.dynamodb.models import dynamodb_backends
from moto.kinesis.models import kinesis_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.backend.execution import Execution as RunExecution
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


def _kinesis_stream(stream_arn: str) -> Any:
    """moto's Kinesis stream of the ARN, or None."""
    region, account, resource = _parts(stream_arn)
    return kinesis_backends[account][region].streams.get(resource.removeprefix("stream/"))


def _streamed_table(stream_arn: str) -> Any:
    """moto's table whose DynamoDB stream the ARN (table/<name>/stream/<label>) names, if it has a stream, or None."""
    region, account, resource = _parts(stream_arn)
    table = dynamodb_backends[account][region].tables.get(resource.split("/")[1])
    return None if table is None or table.stream_shard is None else table


def stream_position(stream_arn: str) -> Any:
    """Something that changes whenever the stream gets a record (None when it cannot tell)."""
    if ":kinesis:" in stream_arn:
        stream = _kinesis_stream(stream_arn)
        if stream is None:
            return None
        return tuple((shard_id, len(shard.records)) for shard_id, shard in stream.shards.items())
    table = _streamed_table(stream_arn)
    if table is None:
        return None
    return table.latest_stream_label, len(table.stream_shard.items)


def stream_shards(stream_arn: str) -> list[str] | None:
    """The stream's shard ids in moto's order (as ListShards and DescribeStream list them); None when it cannot tell."""
    if ":kinesis:" in stream_arn:
        stream = _kinesis_stream(stream_arn)
        return None if stream is None else list(stream.shards)
    table = _streamed_table(stream_arn)
    if table is None or table.latest_stream_label != stream_arn.rsplit("/", 1)[-1]:
        return None  # a stream enabled again since: its new shard is not this ARN's
    return [table.stream_shard.id]


def execution_takes_a_stop(execution_arn: str) -> bool:
    """Whether StopExecution would take: moto's execution has entered its first state (or ended).

    Before its thread has parsed the definition the stop raises AttributeError; from then until the first state
    moto drops it silently.
    """
    region, account, _ = _parts(execution_arn)
    # The local cloud runs state machines, so this is the interpreter's Execution, which moto types as the other one.
    execution = cast("RunExecution", stepfunctions_backend(account, region).describe_execution(execution_arn))
    environment = getattr(execution.exec_worker, "env", None)  # set by the thread once the definition is parsed
    return environment is not None and environment.program_state() is not None


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    """An execution's history events as GetExecutionHistory lists them, read from moto without a request."""
    region, account, _ = _parts(execution_arn)
    return list(stepfunctions_backend(account, region).get_execution_history(execution_arn)["events"])
