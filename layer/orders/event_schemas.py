"""Each event type's JSON Schema (draft 4, what the EventBridge schema registry takes), from its records.

Build and test time only: `make schemas` writes them into the registry's stack (stacks/event-catalogue.yaml)
and the tests validate emitted and sample events against them. No function imports this module.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from datetime import datetime
from typing import Any, get_args, get_origin

from orders.event_data import DATA_OF
from orders.events import ENVELOPE_RULES_OF, DomainEvent, EventType
from orders.wire import Rule, bare, fields_of

DRAFT_4 = "http://json-schema.org/draft-04/schema#"
# The envelope's keys in the order a reader expects them; the dataclass must list defaulted fields last.
ENVELOPE_ORDER = ("eventId", "type", "orderId", "version", "occurredAt", "correlationId", "data")

_KEYWORDS = {
    "min_length": "minLength",
    "max_length": "maxLength",
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "min_items": "minItems",
    "max_items": "maxItems",
    "description": "description",
}


def json_schema(event_type: EventType) -> dict[str, Any]:
    """The schema of the envelope of an `event_type` event, its data included."""
    record = DATA_OF[event_type]
    envelope = _object(DomainEvent, ENVELOPE_ORDER)
    kinds = {field.name: field for field in fields_of(DomainEvent)}
    for name, rule in ENVELOPE_RULES_OF.get(event_type, {}).items():
        envelope["properties"][kinds[name].wire_name] = field_schema(kinds[name].kind, rule)
    envelope["properties"]["type"] = {"type": "string", "enum": [event_type.value]}
    envelope["properties"]["data"] = _object(record)
    return {"$schema": DRAFT_4, "title": event_type.value, "description": inspect.cleandoc(record.__doc__ or "")} | (
        envelope
    )


def _object(record: type, order: tuple[str, ...] = ()) -> dict[str, Any]:
    fields = sorted(fields_of(record), key=lambda field: order.index(field.wire_name) if order else 0)
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [field.wire_name for field in fields if field.required],
        "properties": {field.wire_name: field_schema(field.kind, field.rule) for field in fields},
    }


def field_schema(kind: Any, rule: Rule) -> dict[str, Any]:
    """The JSON Schema of one field: its kind (a record, a list, an enum...) under its rule."""
    if get_origin(kind) is list:
        schema: dict[str, Any] = {"type": "array", **_rules(rule), "items": field_schema(*bare(get_args(kind)[0]))}
    elif get_origin(kind) is dict:
        entry = bare(get_args(kind)[1])
        schema = {"type": "object"} | ({} if entry[0] is Any else {"additionalProperties": field_schema(*entry)})
    elif dataclasses.is_dataclass(kind):
        schema = _object(kind)  # type: ignore[arg-type]  # is_dataclass narrows to instance-or-class
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        schema = {"type": "string", "enum": [member.value for member in kind]}
    elif kind is str:
        schema = {"type": "string"}
    elif kind is int:
        schema = {"type": "integer"}
    elif kind is datetime:
        schema = {"type": "string", "format": "date-time"}
    else:
        raise TypeError(f"{kind!r} has no JSON Schema here")
    if get_origin(kind) is not list:
        schema |= _rules(rule)
    return schema


def _rules(rule: Rule) -> dict[str, Any]:
    """The rule's set constraints as JSON Schema keywords, description last."""
    return {_KEYWORDS[name]: value for name, value in dataclasses.asdict(rule).items() if value is not None} | (
        {"description": rule.description} if rule.description else {}
    )
