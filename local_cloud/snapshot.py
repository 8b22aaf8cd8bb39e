"""moto's whole state, copied once a template is provisioned and put back for each later cloud of that template.

Provisioning the template is a hundred-odd API calls through botocore and moto (about 0.3 s of CPU);
copying moto's backends back is a few milliseconds. A snapshot holds a deep copy of every backend's
attributes (tables, queues, keys, pools, state machines, rules...) as provisioning left them, and
`restore` gives each backend a fresh deep copy of those, so nothing one cloud wrote (an item, a message,
an execution) is in the next: the backends are as a new moto makes them, then provisioned.

All backends are copied in one pass, so an object two backends share stays shared in the copy, and a
reference to a backend itself stays a reference to that (live) backend, never a second copy of it.
Locks cannot be copied: each lock an SQS queue holds (or any model a backend keeps in a collection)
becomes a new, unheld one. Backends a cloud created that the snapshot does not hold (moto makes one
on first use, e.g. Lambda's when a state machine invokes a function) are reset as moto's own reset does.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import AccountSpecificBackend, BackendDict, BaseBackend

# Where a backend lives: its service's BackendDict, the account, the region (or partition, for global services).
Place = tuple[BackendDict[Any], str, str]

_LOCK_TYPES: dict[type, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
    threading.Condition: threading.Condition,
    threading.Event: threading.Event,
    threading.Semaphore: threading.Semaphore,
}


@dataclass(frozen=True)
class MotoSnapshot:
    """The backends as they were (the live objects, kept so their ids stay valid) and copies of their state."""

    backends: dict[Place, BaseBackend]
    accounts: dict[tuple[BackendDict[Any], str], AccountSpecificBackend[Any]]
    states: dict[Place, dict[str, Any]]


def _in_use() -> list[BackendDict[Any]]:
    """moto's own list of the services with a backend made (what its reset goes through)."""
    return BackendDict._instances  # type: ignore[misc]  # moto's class-level list; it types it the same way


def _places() -> Iterator[tuple[Place, AccountSpecificBackend[Any], BaseBackend]]:
    for service in list(_in_use()):
        for account_id, account in list(service.items()):
            for region, backend in list(account.items()):
                yield (service, account_id, region), account, backend


def _fresh_locks(states: dict[Place, dict[str, Any]]) -> dict[int, Any]:
    """A deepcopy memo that gives every lock a model holds (one level into a backend's collections) a new one."""
    memo: dict[int, Any] = {}
    for state in states.values():
        for collection in state.values():
            if not isinstance(collection, dict):
                continue
            for model in collection.values():
                for value in getattr(model, "__dict__", {}).values():
                    if type(value) in _LOCK_TYPES:
                        memo[id(value)] = _LOCK_TYPES[type(value)]()
    return memo


def _copy(states: dict[Place, dict[str, Any]], backends: dict[Place, BaseBackend]) -> dict[Place, dict[str, Any]]:
    memo = _fresh_locks(states)
    for backend in backends.values():
        memo[id(backend)] = backend  # a reference to a backend is to the live one
    copied: dict[Place, dict[str, Any]] = copy.deepcopy(states, memo)
    return copied


def take() -> MotoSnapshot:
    """A copy of every backend moto holds now."""
    backends: dict[Place, BaseBackend] = {}
    accounts: dict[tuple[BackendDict[Any], str], AccountSpecificBackend[Any]] = {}
    for (service, account_id, region), account, backend in _places():
        backends[(service, account_id, region)] = backend
        accounts[(service, account_id)] = account
    states = {place: backend.__dict__ for place, backend in backends.items()}
    return MotoSnapshot(backends, accounts, _copy(states, backends))


def restore(snapshot: MotoSnapshot) -> None:
    """Put moto back as it was when the snapshot was taken; everything since is gone."""
    for place, account, backend in _places():
        if place not in snapshot.backends:
            backend.reset()
            del account[place[2]]
    for service in list(_in_use()):
        for account_id in [account_id for account_id in service if (service, account_id) not in snapshot.accounts]:
            del service[account_id]
    _in_use()[:] = [service for service in _in_use() if service.keys()]
    for (service, account_id), account in snapshot.accounts.items():
        dict.__setitem__(service, account_id, account)  # the snapshot's own objects, wherever moto dropped them
        if service not in _in_use():
            _in_use().append(service)
    states = _copy(snapshot.states, snapshot.backends)
    for place, backend in snapshot.backends.items():
        service, account_id, region = place
        dict.__setitem__(snapshot.accounts[(service, account_id)], region, backend)
        backend.__dict__ = states[place]
