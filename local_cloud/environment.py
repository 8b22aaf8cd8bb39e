"""Process environment changes that undo themselves, touching only the variables they name."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def temporary_environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) these variables until the block ends, then put back what they were.

    Only these keys are restored: clearing the whole environment would leave other threads
    (moto's executions, the servers) a moment with no region and undo what they set meanwhile.
    """
    previous = {name: os.environ.get(name) for name in changes}
    _apply(changes)
    try:
        yield
    finally:
        _apply(previous)


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
