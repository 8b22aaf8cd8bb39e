"""Records on the wire, checked without pydantic: field rules, camelCase names and the reader.

A record is a frozen dataclass whose fields may carry a `Rule` (`Annotated[str, Rule(min_length=1)]`).
`read` builds one from JSON-shaped data and raises `ContractViolation` naming the field; the same
classes are what orders.event_schemas turns into the schema registry's JSON Schemas, so the reader and
the published contract cannot drift apart. Unknown keys are ignored (a tolerant reader): a producer may
add a field without failing its consumers. No pydantic here: every consumer of the bus imports this.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
from dataclasses import dataclass
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


def _bare(hint: Any) -> tuple[Any, Rule]:
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
        kind, rule = _bare(hints[field.name])
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


def check(rule: Rule, value: str | int, path: str) -> None:
    """Hold one more rule to a value already read (a string or an integer), e.g. a type's own envelope rule."""
    _checked(type(value), rule, value, path)


def _checked(kind: Any, rule: Rule, value: object, path: str) -> Any:
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        if not isinstance(value, list):
            raise ContractViolation(f"{path} is not an array")
        _within(len(value), rule.min_items, rule.max_items, f"{path} has {len(value)} items")
        return [_checked(item, Rule(), element, f"{path}[{index}]") for index, element in enumerate(value)]
    if get_origin(kind) is dict:
        if not isinstance(value, dict):
            raise ContractViolation(f"{path} is not an object")
        return dict(value)
    if dataclasses.is_dataclass(kind):
        return read(kind, value, path)  # type: ignore[arg-type]  # is_dataclass narrows to instance-or-class
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            raise ContractViolation(f"{path} is not one of {[member.value for member in kind]}") from None
    if kind is str:
        if not isinstance(value, str):
            raise ContractViolation(f"{path} is not a string")
        _within(len(value), rule.min_length, rule.max_length, f"{path} has {len(value)} characters")
        if rule.pattern is not None and not re.search(rule.pattern, value):
            raise ContractViolation(f"{path} does not match {rule.pattern}")
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ContractViolation(f"{path} is not an integer")
        _within(value, rule.minimum, rule.maximum, f"{path} is {value}")
        return value
    raise TypeError(f"{kind!r} is not a type a record on the wire may hold")


def _within(size: int, low: int | None, high: int | None, what: str) -> None:
    if low is not None and size < low:
        raise ContractViolation(f"{what}: the least allowed is {low}")
    if high is not None and size > high:
        raise ContractViolation(f"{what}: the most allowed is {high}")
