"""What moto keeps forever that AWS does not keep at all, or keeps for a while: kept here as AWS keeps it.

Found by sizing each of the local cloud's stores before and after `make bench`'s soak (scripts/bench_memory.py):

- Every instance of every moto model is appended to its class's `instances_tracked` list, for moto's
  dashboard (/moto-api/): each item written, and each copy of an item a Query, a GetItem or a
  transaction makes to answer (60 an order), each message, record, rule copy. Nothing leaves the list
  but a reset, so it held every answer's copies. Here the list holds its instances weakly: the dashboard
  still shows every instance alive (the items in the tables, the queues' messages), not the garbage.
- A queue keeps every receipt handle of every message it deleted (so that a second DeleteMessage of the
  same handle succeeds): here for the queue's visibility timeout after the deletion (a consumer repeats
  a delete within the visibility timeout it received the message under).
- A topic keeps every notification it published, for moto's own test helpers: SNS keeps none; here the
  last MAX_SENT_NOTIFICATIONS.
- DynamoDB Streams keeps every shard iterator it handed out (one per GetRecords): an iterator expires
  after SHARD_ITERATOR_SECONDS on AWS, and here.
- Step Functions appends every thread it starts (an execution's, each Task state's: six an order) to a
  module's TMP_THREADS list, which nothing reads or empties: here the list forgets a thread once it has
  ended, as AWS keeps no threads at all. Found by a census of what no store reaches after the soak.

What AWS keeps too (items, stream records for 24 hours, executions and their histories, the archive,
metrics) is left as it is.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from moto.core.common_models import BaseModel
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.sns.models import Topic
from moto.sqs.models import Queue
from moto.stepfunctions.parser import models as _stepfunctions_models  # noqa: F401 - imports each thread starter
from moto.stepfunctions.parser import utils as stepfunctions_utils

from local_cloud.patching import patched

MAX_SENT_NOTIFICATIONS = 100
SHARD_ITERATOR_SECONDS = 15 * 60  # DynamoDB Streams: "a shard iterator expires 15 minutes after it is returned"
MIN_DELETED_HANDLE_SECONDS = 30  # SQS's default visibility timeout, for a queue that sets none


def _now() -> float:
    return time.monotonic()


class LiveInstances:
    """`instances_tracked` that holds its instances weakly: appended to, iterated, as moto does with the list.

    Dead references are dropped whenever the list has doubled since the last sweep, so appending stays cheap.
    An instance that cannot be referenced weakly (a class with __slots__) is held as before.
    """

    def __init__(self, instances: Iterable[Any] = ()) -> None:
        self._refs: list[Callable[[], Any]] = []
        self._swept_at = 0
        self._lock = threading.Lock()  # a sweep replaces the list: an append meanwhile must not go to the old one
        for instance in instances:
            self.append(instance)

    def append(self, instance: Any) -> None:
        ref: Callable[[], Any]
        try:
            ref = weakref.ref(instance)
        except TypeError:  # held strongly, behind the same call as a weak reference
            ref = functools.partial(_itself, instance)
        with self._lock:
            self._refs.append(ref)
            if len(self._refs) > 2 * self._swept_at + 64:
                self._refs = [ref for ref in self._refs if ref() is not None]
                self._swept_at = len(self._refs)

    def __iter__(self) -> Iterator[Any]:
        return (instance for ref in list(self._refs) if (instance := ref()) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _itself(instance: Any) -> Any:
    return instance


def _tracked_weakly(cls: type, *args: Any, **kwargs: Any) -> Any:
    """BaseModel.__new__, appending to a LiveInstances instead of a list."""
    del args, kwargs  # as moto's: object.__new__ takes none
    instance = super(BaseModel, cls).__new__(cls)  # type: ignore[misc]  # moto's own call, for any model class
    tracked = vars(cls).get("instances_tracked")
    if not isinstance(tracked, LiveInstances):  # first instance since the class was made, or since a reset
        tracked = LiveInstances(tracked or ())
        cls.instances_tracked = tracked  # type: ignore[attr-defined]  # moto's metaclass sets it on every model class
    tracked.append(instance)
    return instance


class RecentlyDeleted:
    """A queue's `deleted_messages`: receipt handles for `seconds` after their message's deletion."""

    def __init__(self, handles: Iterable[str], seconds: float) -> None:
        self._seconds = seconds
        self._deleted: OrderedDict[str, float] = OrderedDict((handle, _now()) for handle in handles)

    def update(self, handles: Iterable[str | None]) -> None:
        now = _now()
        for handle in handles:
            if handle is not None:
                self._deleted[handle] = now
                self._deleted.move_to_end(handle)
        while self._deleted and next(iter(self._deleted.values())) < now - self._seconds:
            self._deleted.popitem(last=False)

    def __contains__(self, handle: object) -> bool:
        return handle in self._deleted

    def __len__(self) -> int:
        return len(self._deleted)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._deleted))


def _forgetting_deletions(delete_message: Callable[..., Any]) -> Callable[..., Any]:
    def deleting(queue: Queue, receipt_handle: str) -> Any:
        if not isinstance(queue.deleted_messages, RecentlyDeleted):
            visibility = getattr(queue, "visibility_timeout", None)  # set from the queue's attributes
            seconds = max(float(visibility or 0), MIN_DELETED_HANDLE_SECONDS)
            queue.deleted_messages = RecentlyDeleted(queue.deleted_messages, seconds)  # type: ignore[assignment]
        return delete_message(queue, receipt_handle)

    return deleting


def _keeping_last_notifications(publish: Callable[..., Any]) -> Callable[..., Any]:
    def publishing(topic: Topic, *args: Any, **kwargs: Any) -> Any:
        message_id = publish(topic, *args, **kwargs)
        del topic.sent_notifications[:-MAX_SENT_NOTIFICATIONS]
        return message_id

    return publishing


class ExpiringIterators(dict[str, Any]):
    """A DynamoDB Streams backend's `shard_iterators`: each for SHARD_ITERATOR_SECONDS after it was handed out."""

    def __init__(self, iterators: dict[str, Any]) -> None:
        super().__init__(iterators)
        self._issued: OrderedDict[str, float] = OrderedDict((arn, _now()) for arn in iterators)

    def __setitem__(self, arn: str, iterator: Any) -> None:
        now = _now()
        super().__setitem__(arn, iterator)
        self._issued[arn] = now
        self._issued.move_to_end(arn)
        while self._issued and next(iter(self._issued.values())) < now - SHARD_ITERATOR_SECONDS:
            expired, _ = self._issued.popitem(last=False)
            self.pop(expired, None)


def _expiring_iterators(get_shard_iterator: Callable[..., Any]) -> Callable[..., Any]:
    def getting(backend: DynamoDBStreamsBackend, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(backend.shard_iterators, ExpiringIterators):
            backend.shard_iterators = ExpiringIterators(backend.shard_iterators)
        return get_shard_iterator(backend, *args, **kwargs)

    return getting


class RunningThreads(list[threading.Thread]):
    """moto's TMP_THREADS: the threads it started that have not ended (each append drops those that have)."""

    def append(self, thread: threading.Thread) -> None:
        # A thread is appended before it starts: one not started yet (no ident) is kept. (Two appends at once
        # may lose one of them from the list: nothing reads it.)
        self[:] = [kept for kept in self if kept.ident is None or kept.is_alive()]
        super().append(thread)


@contextmanager
def _forgetting_ended_threads() -> Iterator[None]:
    """Each Step Functions module that imported TMP_THREADS holds its own name for the one list: each gets one."""
    running = RunningThreads(thread for thread in stepfunctions_utils.TMP_THREADS if thread.is_alive())
    holders = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.") and vars(module).get("TMP_THREADS") is stepfunctions_utils.TMP_THREADS
    ]
    with ExitStack() as stack:
        for module in holders:
            stack.enter_context(patched(module, "TMP_THREADS", running))
        yield


@contextmanager
def kept_as_aws_keeps() -> Iterator[None]:
    """Every bound of this module, while the block runs."""
    with ExitStack() as stack:
        stack.enter_context(patched(BaseModel, "__new__", staticmethod(_tracked_weakly)))
        stack.enter_context(patched(Queue, "delete_message", _forgetting_deletions(Queue.delete_message)))
        stack.enter_context(patched(Topic, "publish", _keeping_last_notifications(Topic.publish)))
        getting = _expiring_iterators(DynamoDBStreamsBackend.get_shard_iterator)
        stack.enter_context(patched(DynamoDBStreamsBackend, "get_shard_iterator", getting))
        stack.enter_context(_forgetting_ended_threads())
        yield
