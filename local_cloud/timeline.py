"""The local cloud's live timeline: one line per thing that happened, each with its order id.

Every source of the local cloud reports here: the API (request and answer), the bus (each event
and the rules it matched), executions (each state as it runs), stream and queue consumers (each
record and whether it failed) and dead-letter queues (each message that lands). `grep <order id>`
on the output follows one order from its request to its end.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

_ORDER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NO_ORDER = "-" * 36  # the column's width, for lines about no one order


@dataclass(frozen=True)
class Entry:
    at: float  # seconds since the epoch
    order_id: str | None
    source: str  # api, bus, saga, stream, queue, dlq, schedule, reload
    text: str
    data: Any = None  # what the line is about, for the console to show in full (a bus entry: the event)

    def line(self) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(self.at)) + f".{int(self.at % 1 * 1000):03d}"
        return f"{clock}  {self.order_id or NO_ORDER}  {self.source:<8} {self.text}"


def order_id_in(*texts: Any) -> str | None:
    """The order a message is about: its `orderId` field (at any depth of JSON), else an id in its text."""
    for text in texts:
        if text is None:
            continue
        found = _order_id_field(text if not isinstance(text, str) else _json_or_none(text))
        if found:
            return found
        match = _ORDER_ID.search(text if isinstance(text, str) else json.dumps(text))
        if match:
            return match.group(0)
    return None


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _order_id_field(value: Any) -> str | None:
    if isinstance(value, dict):
        if isinstance(value.get("orderId"), str):
            return str(value["orderId"])
        for item in value.values():
            nested = _order_id_field(_json_or_none(item) if isinstance(item, str) and item[:1] == "{" else item)
            if nested:
                return nested
    if isinstance(value, list):
        for item in value:
            nested = _order_id_field(item)
            if nested:
                return nested
    return None


class Timeline:
    """Collects entries from every thread, prints each at once (when given a stream) and keeps them."""

    def __init__(self, out: TextIO | None = sys.stdout) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._entries: list[Entry] = []

    def add(self, source: str, text: str, order_id: str | None = None, data: Any = None) -> None:
        entry = Entry(time.time(), order_id, source, text, data)
        with self._lock:
            self._entries.append(entry)
            if self._out is not None:
                print(entry.line(), file=self._out, flush=True)

    def entries(self, order_id: str | None = None) -> list[Entry]:
        with self._lock:
            return [entry for entry in self._entries if order_id is None or entry.order_id == order_id]

    def lines(self, order_id: str) -> Iterable[str]:
        return (entry.line() for entry in self.entries(order_id))
