"""The one reader of the functions' messages: each rule holds, and a violation names the field at fault."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jsonschema
import pytest

from orders.event_schemas import field_schema
from orders.wire import ContractViolation, Rule, read, read_json


@dataclass(frozen=True)
class Totals:
    orders: Annotated[int, Rule(minimum=0)]


@dataclass(frozen=True)
class Message:
    code: Annotated[str, Rule(pattern=r"^[A-Z]{3}$")]
    at: datetime
    tags: list[Annotated[str, Rule(min_length=1)]] = field(default_factory=list)
    totals: dict[str, Totals] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


GOOD: dict[str, Any] = {
    "code": "USD",
    "at": "2026-12-01T02:00:00Z",
    "tags": ["a"],
    "totals": {"2026-12-01#USD": {"orders": 2}},
    "extra": {"anything": [1, "x"]},
}


def test_a_good_message_is_read_into_its_record() -> None:
    message = read(Message, GOOD)
    assert message == Message(
        code="USD",
        at=datetime(2026, 12, 1, 2, tzinfo=UTC),
        tags=["a"],
        totals={"2026-12-01#USD": Totals(orders=2)},
        extra={"anything": [1, "x"]},
    )
    assert read_json(Message, json.dumps(GOOD)) == message


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"code": "USD\n"}, "code does not match"),  # Python's `$` would let a final newline through
        ({"code": "usd"}, "code does not match"),
        ({"at": "2026-12-01T02:00:00"}, "at carries no time zone"),
        ({"at": "yesterday"}, "at is not an ISO 8601 time"),
        ({"at": 5}, "at is not a string"),
        ({"tags": [""]}, "tags[0] has 0 characters"),
        ({"totals": {"k": {"orders": -1}}}, "totals.k.orders is -1"),
        ({"totals": {"k": {"orders": True}}}, "totals.k.orders is not an integer"),
        ({"totals": {"k": []}}, "totals.k is not an object"),
        ({"tags": None}, "tags is not an array"),
    ],
)
def test_each_broken_rule_is_refused_naming_its_field(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ContractViolation, match=named.replace("[", r"\[").replace("]", r"\]")):
        read(Message, GOOD | change)


def test_a_missing_field_is_refused_unless_it_may_be_absent() -> None:
    with pytest.raises(ContractViolation, match="tags is missing"):
        read(Message, {key: value for key, value in GOOD.items() if key != "tags"})
    assert read(Message, GOOD).note is None


def test_text_that_is_no_json_is_a_violation() -> None:
    for text in ("{", b"\xff", "[" * 100_000):
        with pytest.raises(ContractViolation, match="not JSON"):
            read_json(Message, text)


def test_an_instant_keeps_its_offset() -> None:
    message = read(Message, GOOD | {"at": "2026-12-01T03:00:00+01:00"})
    assert message.at.utcoffset() == timedelta(hours=1)
    assert message.at == datetime(2026, 12, 1, 2, tzinfo=UTC)


def test_the_registry_schema_of_each_kind_agrees_with_the_reader() -> None:
    """A dict of records, an instant and a list of ruled items have schemas too, should an event carry one."""
    schema = field_schema(dict[str, Totals], Rule())
    assert schema == {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "required": ["orders"],
            "properties": {"orders": {"type": "integer", "minimum": 0}},
        },
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"k": {"orders": -1}}, schema)
    jsonschema.validate({"k": {"orders": 1}}, schema)
    assert field_schema(datetime, Rule()) == {"type": "string", "format": "date-time"}
    assert field_schema(list[Annotated[str, Rule(min_length=1)]], Rule())["items"] == {"type": "string", "minLength": 1}
