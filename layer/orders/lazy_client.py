"""An AWS client made on its first use: for a client that only a rare path of a function calls.

A second boto3 client adds about 4% to a cold start (of make bench's baseline, boto3 and one client). A
function whose every invocation calls a service creates that client at init as usual: deferring it would
only move the cost into the first request. Making a client is no AWS call, so this keeps SnapStart's rule
either way (orders.snapstart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast


class _OnFirstUse:
    def __init__(self, create: Callable[[], object]) -> None:
        self._create = create
        self._client: object | None = None

    def __getattr__(self, name: str) -> Any:  # only names _OnFirstUse lacks: the client's
        if self._client is None:
            self._client = self._create()
        return getattr(self._client, name)


def lazy_client[Client](create: Callable[[], Client]) -> Client:
    """A stand-in for the client `create` makes, which it makes when one of the client's attributes is first used."""
    return cast("Client", _OnFirstUse(create))
