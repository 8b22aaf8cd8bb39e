"""Reading the JSON messages the functions hand each other: queue bodies, stream records, window state.

The consumers read messages the system itself wrote (an event envelope, a webhook the API checked),
so they need no model library: a field that is missing or of the wrong kind raises MalformedMessage
naming it, and the batch utility reports that record failed (to its DLQ after the retries). Pydantic
stays with the API functions, where a caller's request is validated and described in openapi.json;
importing it would add about a fifth to a consumer's cold start (`make bench`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any


class MalformedMessage(ValueError):
    """A message is not what its producer writes: not JSON, or a field missing or of the wrong kind."""


class Fields:
    """One JSON object of a message; each read checks its field and names it (`data.amount`) when it fails."""

    def __init__(self, value: object, path: str = "") -> None:
        if not isinstance(value, Mapping):
            raise MalformedMessage(f"{path or 'the message'} must be a JSON object")
        self._value: Mapping[str, Any] = value
        self._path = path

    @classmethod
    def parse(cls, text: str | bytes) -> Fields:
        try:
            return cls(json.loads(text))
        except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            if isinstance(error, MalformedMessage):
                raise
            raise MalformedMessage(f"the message is not JSON: {error}") from None

    @property
    def raw(self) -> dict[str, Any]:
        return dict(self._value)

    def _name(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _get(self, name: str) -> object:
        if name not in self._value:
            raise MalformedMessage(f"{self._name(name)} is missing")
        return self._value[name]

    def text(self, name: str, pattern: re.Pattern[str] | None = None) -> str:
        """A non-empty string, matching `pattern` in full when one is given."""
        value = self._get(name)
        if not isinstance(value, str) or not value:
            raise MalformedMessage(f"{self._name(name)} must be a non-empty string")
        if pattern is not None and not pattern.fullmatch(value):
            raise MalformedMessage(f"{self._name(name)} must match {pattern.pattern}")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self._value.get(name) is None else self.text(name)

    def integer(self, name: str, minimum: int = 0, default: int | None = None) -> int:
        """A JSON integer (not "1", 1.0 or true) of at least `minimum`; `default` when missing, if given."""
        value = self._value.get(name, default) if default is not None else self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise MalformedMessage(f"{self._name(name)} must be an integer of at least {minimum}")
        return value

    def instant(self, name: str) -> datetime:
        """An ISO 8601 time with its offset (`Z` or `+02:00`): a time without one is no instant."""
        value = self.text(name)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise MalformedMessage(f"{self._name(name)} must be an ISO 8601 time") from None
        if moment.utcoffset() is None:
            raise MalformedMessage(f"{self._name(name)} must carry a time zone")
        return moment

    def object(self, name: str) -> Fields:
        return Fields(self._get(name), self._name(name))

    def texts(self, name: str) -> list[str]:
        """A list of non-empty strings; empty when missing."""
        values = self._value.get(name, [])
        if not isinstance(values, list) or not all(isinstance(value, str) and value for value in values):
            raise MalformedMessage(f"{self._name(name)} must be a list of non-empty strings")
        return list(values)

    def objects(self, name: str) -> dict[str, Fields]:
        """An object of objects, each read by its key; empty when missing."""
        values = self._value.get(name, {})
        if not isinstance(values, Mapping):
            raise MalformedMessage(f"{self._name(name)} must be a JSON object")
        return {str(key): Fields(value, f"{self._name(name)}.{key}") for key, value in values.items()}


CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217
