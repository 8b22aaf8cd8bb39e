"""What the local cloud's process holds, store by store: the soak's memory per order, and which of it AWS keeps too.

Each store is a set of roots in this process (moto's backends, the timeline, the local cloud's own
bookkeeping), sized by walking what they reach: every object's size (tools.object_size: sys.getsizeof,
with an instance's inline attributes, which it leaves out), each object counted once, in the first store
that reaches it, and never through a module, a class, a function, a thread or a moto backend (what a
store points back at is not its content). The soak sizes every store before and after its orders; the
difference per order says where the memory goes.

Some of it is data AWS keeps as well: table items, stream records (24 hours), executions and their
histories (90 days), the bus's archive, metrics, queued messages. The rest is what the local cloud or
moto would keep and AWS would not; "flat" means that part does not grow.
"""

from __future__ import annotations

import gc
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.common_models import BaseModel

from tools.object_size import object_size

if TYPE_CHECKING:
    from local_cloud.server import LocalCloud

# Not walked into: code and its namespaces (shared by every store), threads and the backends themselves.
_NOT_CONTENT = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    threading.Thread,
    BaseBackend,
)


def _backends(service: str) -> Iterator[Any]:
    """Every backend of a moto service that exists in this process, each region of each account."""
    module = __import__(f"moto.{service}.models", fromlist=["_"])
    found = getattr(module, f"{service}_backends")
    assert isinstance(found, BackendDict)  # noqa: S101 - moto's convention: <service>_backends
    for regions in list(found.values()):
        yield from list(regions.values())


def _tables() -> Iterator[Any]:
    for backend in _backends("dynamodb"):
        yield from list(backend.tables.values())


def _executions() -> Iterator[Any]:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # noqa: PLC0415 - as moto does

    for regions in list(stepfunctions_parser_backends.values()):
        for backend in list(regions.values()):
            for machine in list(backend.state_machines):
                yield from list(machine.executions)


def _histories() -> Iterator[Any]:
    for execution in _executions():
        worker = execution.exec_worker
        if worker is not None and worker.env is not None:
            yield worker.env.event_manager._history_event_list
        yield execution.input_data, execution.output


def _queues() -> Iterator[Any]:
    for backend in _backends("sqs"):
        yield from list(backend.queues.values())


def _tracked() -> Iterator[Any]:
    """moto's list of every model instance it made (for its dashboard), class by class."""
    classes, seen = [BaseModel], set()
    while classes:
        model = classes.pop()
        if model in seen:
            continue
        seen.add(model)
        classes.extend(model.__subclasses__())
        if "instances_tracked" in vars(model):
            yield vars(model)["instances_tracked"]


def _watchers() -> list[Any]:
    """The delivery loop's watchers of executions and dead-letter queues, found through its thread."""
    for thread in threading.enumerate():
        loop = getattr(getattr(thread, "_target", None), "__self__", None)
        if thread.name == "local-cloud-delivery" and loop is not None:
            return [loop._executions, loop._dead_letters]
    return []


@dataclass(frozen=True)
class Store:
    name: str
    aws_keeps: bool  # AWS keeps this data too, for its retention
    roots: Callable[[LocalCloud], Iterable[Any]]


STORES = (
    Store("DynamoDB items", True, lambda _: (table.items for table in _tables())),
    Store(
        "DynamoDB stream records",
        True,
        lambda _: (table.stream_shard.items for table in _tables() if table.stream_shard is not None),
    ),
    Store(
        "Kinesis records",
        True,
        lambda _: (
            shard.records
            for backend in _backends("kinesis")
            for s in backend.streams.values()
            for shard in s.shards.values()
        ),
    ),
    Store("Step Functions histories", True, lambda _: _histories()),
    Store(
        "EventBridge archive",
        True,
        lambda _: (archive.events for backend in _backends("events") for archive in backend.archives.values()),
    ),
    Store(
        "CloudWatch metrics",
        True,
        lambda _: (
            store for backend in _backends("cloudwatch") for store in (backend.metric_data, backend.paged_metric_data)
        ),
    ),
    Store(
        "CloudWatch Logs events",
        True,
        lambda _: (
            stream.events
            for backend in _backends("logs")
            for g in backend.groups.values()
            for stream in g.streams.values()
        ),
    ),
    Store("SQS messages (queued)", True, lambda _: (queue._messages for queue in _queues())),
    Store("SQS deleted receipt handles", False, lambda _: (queue.deleted_messages for queue in _queues())),
    Store(
        "SNS sent notifications",
        False,
        lambda _: (topic.sent_notifications for backend in _backends("sns") for topic in backend.topics.values()),
    ),
    Store(
        "DynamoDB Streams shard iterators",
        False,
        lambda _: (backend.shard_iterators for backend in _backends("dynamodbstreams")),
    ),
    Store("Step Functions executions, beyond history", False, lambda _: _executions()),
    Store("moto's instance list (its dashboard)", False, lambda _: _tracked()),
    Store("timeline", False, lambda local: [local.timeline]),
    Store(
        "watchers, event sources, functions", False, lambda local: [*_watchers(), local.sources, local.cloud.functions]
    ),
)


def deep_size(roots: Iterable[Any], counted: set[int]) -> int:
    """Bytes of everything `roots` reach that `counted` does not hold yet (then it does)."""
    stack, total = list(roots), 0
    while stack:
        value = stack.pop()
        if id(value) in counted:
            continue
        counted.add(id(value))
        if isinstance(value, _NOT_CONTENT):
            continue
        referents = gc.get_referents(value)
        total += object_size(value, referents)
        stack.extend(referents)
    return total


def store_sizes(local: LocalCloud) -> dict[str, int]:
    """Bytes per store now, in STORES' order (an object two stores reach counts in the first)."""
    counted: set[int] = set()
    # Held while sizing: an id freed and reused meanwhile would be taken for one already counted.
    keep: list[Any] = []
    sizes: dict[str, int] = {}
    gc.collect()
    for store in STORES:
        roots = list(store.roots(local))
        keep.append(roots)
        sizes[store.name] = deep_size(roots, counted)
    return sizes
