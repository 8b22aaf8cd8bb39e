"""Records on the wire, checked without pydantic: field rules, camelCase names and the one reader.

Every message the functions hand each other is read here: bus events, queue bodies (a queued webhook),
stream records, a tumbling window's state, a schedule's input. A record is a dataclass whose fields may
carry a `Rule` (`Annotated[str, Rule(min_length=1)]`). `read` builds one from JSON-shaped data (`read_json`
from JSON text) and raises `ContractViolation` naming the field; the event records are also what
orders.event_schemas turns into the schema registry's JSON Schemas, so the reader and the published
contract cannot drift apart. Unknown keys are ignored (a tolerant reader): a producer may add a field
without failing its consumers. No pydantic here: it would add about a fifth to a consumer's cold start
(`make bench`); it stays with the API functions, whose requests openapi.json describes.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import re
import types
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints


@dataclass(frozen=True)
class Rule:
    """What a field's value must satisfy, in JSON Schema's terms (draft 4), plus what it means."""

    description: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_items: int | None = None
    max_items: int | None = None


class ContractViolation(ValueError):
    """Data that breaks its record's contract; the message names the field, e.g. `data.items[0].sku`."""


@dataclass(frozen=True)
class Field:
    """One field of a record as the wire sees it."""

    name: str  # the attribute: snake_case
    wire_name: str  # the JSON key: camelCase
    kind: Any  # str, int, an enum, list[...], dict[...] or another record
    rule: Rule
    required: bool  # False only for `X | None = None`


_FIELDS: dict[type, tuple[Field, ...]] = {}


def camel(name: str) -> str:
    """snake_case -> camelCase: `correlation_id` -> `correlationId`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def bare(hint: Any) -> tuple[Any, Rule]:
    """The type under `X | None` and `Annotated[X, Rule(...)]`, and the field's rule."""
    if get_origin(hint) in (Union, types.UnionType):
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
    if get_origin(hint) is Annotated:
        hint, *extras = get_args(hint)
        return hint, next((extra for extra in extras if isinstance(extra, Rule)), Rule())
    return hint, Rule()


def fields_of(record: type) -> tuple[Field, ...]:
    """The record's fields in declaration order; resolved once per class (first read), not at import."""
    if record in _FIELDS:
        return _FIELDS[record]
    hints = get_type_hints(record, include_extras=True)
    found = []
    for field in dataclasses.fields(record):
        kind, rule = bare(hints[field.name])
        # On the wire only `X | None = None` may be absent; a default factory (a new event's id) is for writers.
        required = field.default is not None
        found.append(Field(field.name, camel(field.name), kind, rule, required))
    _FIELDS[record] = tuple(found)
    return _FIELDS[record]


def read[Record](record: type[Record], value: object, where: str = "") -> Record:
    """`record` built from `value` (a JSON object), every field checked against its rule."""
    if not isinstance(value, dict):
        raise ContractViolation(f"{where or 'the body'} is not an object")
    values: dict[str, Any] = {}
    for field in fields_of(record):
        path = f"{where}.{field.wire_name}" if where else field.wire_name
        if field.wire_name not in value:
            if field.required:
                raise ContractViolation(f"{path} is missing")
            continue
        values[field.name] = _checked(field.kind, field.rule, value[field.wire_name], path)
    return record(**values)


def read_json[Record](record: type[Record], text: str | bytes) -> Record:
    """`read` of a JSON text (an SQS body, a Kinesis record); text that is no JSON is a violation too."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ContractViolation(f"the message is not JSON: {error}") from None
    return read(record, value)


def check(rule: Rule, value: str | int, path: str) -> None:
    """Hold one more rule to a value already read (a string or an integer), e.g. a type's own envelope rule."""
    _checked(type(value), rule, value, path)


def _checked(kind: Any, rule: Rule, value: object, path: str) -> Any:
    if get_origin(kind) is list:
        return _list(get_args(kind)[0], rule, value, path)
    if get_origin(kind) is dict:
        return _mapping(get_args(kind)[1], value, path)
    if dataclasses.is_dataclass(kind):
        return read(kind, value, path)  # type: ignore[arg-type]  # is_dataclass narrows to instance-or-class
    return _scalar(kind, rule, value, path)


def _list(item: Any, rule: Rule, value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ContractViolation(f"{path} is not an array")
    _within(len(value), rule.min_items, rule.max_items, f"{path} has {len(value)} items")
    kind, item_rule = bare(item)
    return [_checked(kind, item_rule, element, f"{path}[{index}]") for index, element in enumerate(value)]


def _mapping(entry: Any, value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ContractViolation(f"{path} is not an object")
    kind, rule = bare(entry)
    if kind is Any:
        return dict(value)  # read later, by whoever knows its record (an event's data)
    return {str(key): _checked(kind, rule, element, f"{path}.{key}") for key, element in value.items()}


def _scalar(kind: Any, rule: Rule, value: object, path: str) -> Any:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            raise ContractViolation(f"{path} is not one of {[member.value for member in kind]}") from None
    if kind is str or kind is datetime:
        if not isinstance(value, str):
            raise ContractViolation(f"{path} is not a string")
        _within(len(value), rule.min_length, rule.max_length, f"{path} has {len(value)} characters")
        if rule.pattern is not None and not _pattern(rule.pattern).search(value):
            raise ContractViolation(f"{path} does not match {rule.pattern}")
        return value if kind is str else _instant(value, path)
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ContractViolation(f"{path} is not an integer")
        _within(value, rule.minimum, rule.maximum, f"{path} is {value}")
        return value
    raise TypeError(f"{kind!r} is not a type a record on the wire may hold")


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    """A rule's pattern as JSON Schema means it: a final `$` is the end of the text.

    Python's `$` also matches before a final newline, which would let "USD\\n" through `^[A-Z]{3}$`.
    """
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern)


def _instant(text: str, path: str) -> datetime:
    """An ISO 8601 time with its offset (`Z` or `+02:00`): a time without one is no instant."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ContractViolation(f"{path} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise ContractViolation(f"{path} carries no time zone")
    return moment


def _within(size: int, low: int | None, high: int | None, what: str) -> None:
    if low is not None and size < low:
        raise ContractViolation(f"{what}: the least allowed is {low}")
    if high is not None and size > high:
        raise ContractViolation(f"{what}: the most allowed is {high}")
