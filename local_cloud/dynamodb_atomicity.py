"""DynamoDB's item operations are atomic; moto's are not when requests run on several threads. Here they are.

moto's UpdateItem on a key with no item first stores an item holding the key alone, then applies the
update to it: a GetItem on another thread in between reads an order's view with no `customerId` (the
local cloud's server answers each request on a thread of its own, and sandboxes call it concurrently).
Two conditional writes on threads can also both pass their condition before either writes, which would
let two appends of one version into the event store. DynamoDB does neither: each item operation, and
each transaction, sees and leaves items whole. So every read and write of an item, a query, a scan and
each transaction holds one lock for the duration of moto's work on it. BatchWriteItem stays item by item
(as on DynamoDB, a batch is not atomic); TransactGetItems reads its items under the lock at once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

from local_cloud.patching import patched

# Re-entrant: a transaction's work goes through the item operations it is made of.
_ITEMS = threading.RLock()
_ITEM_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_write_items")


def _one_at_a_time(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _ITEMS:
            return operation(*args, **kwargs)

    return locked


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """moto's DynamoDB item operations one at a time, while the block runs."""
    with ExitStack() as stack:
        for name in _ITEM_OPERATIONS:
            stack.enter_context(patched(DynamoDBBackend, name, _one_at_a_time(vars(DynamoDBBackend)[name])))
        transact_get = _one_at_a_time(vars(DynamoHandler)["transact_get_items"])
        stack.enter_context(patched(DynamoHandler, "transact_get_items", transact_get))
        yield
