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
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

_ORDER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NO_ORDER = "-" * 36  # the column's width, for lines about no one order
# How deep `orderId` is looked for: it sits a few levels down in every message of ours. A client's body can
# nest 10,000 deep; looking further would only cost time (and, recursively, the stack).
SEARCH_DEPTH = 16


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
    """The order a message is about: its shallowest `orderId` field (JSON in strings too), else an id in its text."""
    for text in texts:
        if text is None:
            continue
        found = _order_id_field(text if not isinstance(text, str) else parsed_json(text))
        if found:
            return found
        match = _ORDER_ID.search(text if isinstance(text, str) else _as_text(text))
        if match:
            return match.group(0)
    return None


def parsed_json(text: str) -> Any:
    """The JSON value of `text`; None if it is not JSON, or nests deeper than the parser goes (RecursionError)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def json_field(text: str, name: str) -> str | None:
    """A top-level field of a JSON object, as text; None if `text` is no such object."""
    value = parsed_json(text)
    return str(value[name]) if isinstance(value, dict) and name in value else None


def _as_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return ""


def _order_id_field(value: Any) -> str | None:
    """Level by level, down to SEARCH_DEPTH: no recursion, so no depth of input can exhaust the stack."""
    level = [value]
    for _ in range(SEARCH_DEPTH):
        below: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                if isinstance(item.get("orderId"), str):
                    return str(item["orderId"])
                below += [parsed_json(v) if isinstance(v, str) and v[:1] == "{" else v for v in item.values()]
            elif isinstance(item, list):
                below += item
        if not below:
            return None
        level = below
    return None


MAX_ENTRIES = 20_000  # kept for the console and `entries`; older ones are printed but no longer kept


class Timeline:
    """Collects entries from every thread, prints each at once (when given a stream) and keeps the latest.

    Entries are kept in arrival order up to `max_entries` (so a long session's memory stays flat) and
    indexed by order, so one order's lines cost as many steps as it has lines, not as the session has.
    """

    def __init__(self, out: TextIO | None = sys.stdout, max_entries: int = MAX_ENTRIES) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._max_entries = max_entries
        self._of_order: dict[str | None, deque[Entry]] = {}

    def add(self, source: str, text: str, order_id: str | None = None, data: Any = None) -> None:
        entry = Entry(time.time(), order_id, source, text, data)
        with self._lock:
            self._entries.append(entry)
            self._of_order.setdefault(order_id, deque()).append(entry)
            if len(self._entries) > self._max_entries:
                self._forget(self._entries.popleft())
            if self._out is not None:
                print(entry.line(), file=self._out, flush=True)

    def _forget(self, oldest: Entry) -> None:
        """The oldest entry overall is the oldest of its order too."""
        of_order = self._of_order[oldest.order_id]
        of_order.popleft()
        if not of_order:
            del self._of_order[oldest.order_id]

    def entries(self, order_id: str | None = None) -> list[Entry]:
        """Every kept entry, oldest first; or one order's."""
        with self._lock:
            return list(self._entries if order_id is None else self._of_order.get(order_id, ()))

    def lines(self, order_id: str) -> Iterable[str]:
        return (entry.line() for entry in self.entries(order_id))
