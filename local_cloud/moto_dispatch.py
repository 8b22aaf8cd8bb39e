"""moto's server finds each request's service with a directory listing; the local cloud lists once.

For every request, moto's dispatcher asks whether the host names a service by listing moto's package
directory and testing each entry with `isdir` (about 150 system calls), and it does so holding the one
lock every request waits on. The package does not change while the cloud runs, so one listing serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache

from moto import backends


@contextmanager
def listed_once() -> Iterator[None]:
    """While the block runs, moto's list of its service modules is the one taken at the first request."""
    listing = backends.list_of_moto_modules

    @cache
    def modules() -> frozenset[str]:
        return frozenset(listing())

    def cached() -> Iterable[str]:
        return modules()

    backends.list_of_moto_modules = cached  # same answer, as a set, taken once
    try:
        yield
    finally:
        backends.list_of_moto_modules = listing
