"""orders.api_validation checks what the pydantic models would, in their words, every fault at once, without pydantic.

Each keyword the models generate is checked on its own; then the checker and pydantic judge the same corpus
of broken bodies and parameters and must name the same fields with the same messages, in the same order.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from orders.api_models import ListOrdersQuery, OrderPath, PlaceOrderHeaders, PlaceOrderRequest
from orders.api_validation import Checker, checker, unknown_keywords
from orders.webhook_models import PaymentWebhook
from tests.support import sample_event

DEFINITIONS: dict[str, Any] = {
    "Item": {
        "type": "object",
        "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "quantity": {"type": "integer", "minimum": 1, "maximum": 9},
        },
        "required": ["sku", "quantity"],
        "additionalProperties": False,
    },
    "Kind": {"type": "string", "enum": ["a.b", "c", "d"]},
    "Order": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1, "maxItems": 2},
            "name": {"type": "string", "minLength": 2, "maxLength": 3, "title": "Name", "description": "described"},
            "note": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}], "default": None},
            "kind": {"$ref": "#/$defs/Kind"},
            "gift": {"type": "boolean", "default": False},
        },
        "required": ["items", "name"],
        "additionalProperties": False,
    },
    "Query": {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1, "default": 20}}},
}
ORDER = {"$ref": "#/$defs/Order"}
VALID = {"items": [{"sku": "ABC", "quantity": 1}], "name": "Al"}


def faults(value: Any, schema: dict[str, Any] = ORDER, *, text: bool = False) -> list[tuple[str, str]]:
    found = Checker(DEFINITIONS).problems(value, schema, "body", text=text)
    return [(problem["field"], problem["message"]) for problem in found]


def test_a_valid_value_has_no_fault() -> None:
    assert faults(VALID) == []
    assert faults(VALID | {"note": None, "kind": "a.b", "gift": True}) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "Input should be a valid string"),
        (None, "Input should be a valid string"),
        ("A", "String should have at least 2 characters"),
        ("ABCD", "String should have at most 3 characters"),
    ],
)
def test_type_min_length_and_max_length_of_a_string(value: Any, message: str) -> None:
    assert faults(VALID | {"name": value}) == [("body.name", message)]


@pytest.mark.parametrize("value", ["AB", "abc", "ABCD", "ABC\n", " ABC"])
def test_pattern_is_searched_and_its_dollar_ends_the_text(value: str) -> None:
    """Python's `$` also matches before a final newline; JSON Schema's (and pydantic's) does not."""
    assert faults(VALID | {"items": [{"sku": value, "quantity": 1}]}) == [
        ("body.items.0.sku", "String should match pattern '^[A-Z]{3}$'")
    ]


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None, [1]])
def test_an_integer_is_strict_in_a_body_no_bool_float_or_text(value: Any) -> None:
    assert faults(VALID | {"items": [{"sku": "ABC", "quantity": value}]}) == [
        ("body.items.0.quantity", "Input should be a valid integer")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "Input should be greater than or equal to 1"), (10, "Input should be less than or equal to 9")],
)
def test_minimum_and_maximum(value: int, message: str) -> None:
    assert faults(VALID | {"items": [{"sku": "ABC", "quantity": value}]}) == [("body.items.0.quantity", message)]


def test_type_of_an_array_an_object_and_a_boolean() -> None:
    assert faults(VALID | {"items": {}, "gift": "yes"}) == [
        ("body.items", "Input should be a valid list"),
        ("body.gift", "Input should be a valid boolean"),
    ]
    assert faults(VALID | {"items": ["ABC"]}) == [
        ("body.items.0", "Input should be a valid dictionary or object to extract fields from")
    ]
    assert faults([VALID]) == [("body", "Input should be a valid dictionary or object to extract fields from")]


def test_min_items_and_max_items_as_pydantic_orders_them() -> None:
    """Too many items is the only fault reported; too few only when every item is valid."""
    assert faults(VALID | {"items": []}) == [("body.items", "List should have at least 1 item after validation, not 0")]
    too_many = [{"sku": "ABC", "quantity": 0}] * 3
    assert faults(VALID | {"items": too_many}) == [
        ("body.items", "List should have at most 2 items after validation, not 3")
    ]


def test_required_properties_and_additional_properties_false() -> None:
    assert faults({"name": "Al", "extra": 1, "items": [{"quantity": 1, "colour": "red"}]}) == [
        ("body.items.0.sku", "Field required"),
        ("body.items.0.colour", "Extra inputs are not permitted"),
        ("body.extra", "Extra inputs are not permitted"),
    ]


def test_an_optional_takes_null_or_its_schema() -> None:
    assert faults(VALID | {"note": None}) == []
    assert faults(VALID | {"note": ""}) == [("body.note", "String should have at least 1 character")]


def test_enum_through_a_ref() -> None:
    assert faults(VALID | {"kind": "e"}) == [("body.kind", "Input should be 'a.b', 'c' or 'd'")]
    assert faults(VALID | {"kind": 1}) == [("body.kind", "Input should be 'a.b', 'c' or 'd'")]


def test_every_fault_is_reported_at_once_in_the_order_of_the_schema() -> None:
    value = {"kind": "z", "name": "A", "items": [{"sku": "abc", "quantity": 0}, {"sku": "ABC"}], "x": None}

    assert faults(value) == [
        ("body.items.0.sku", "String should match pattern '^[A-Z]{3}$'"),
        ("body.items.0.quantity", "Input should be greater than or equal to 1"),
        ("body.items.1.quantity", "Field required"),
        ("body.name", "String should have at least 2 characters"),
        ("body.kind", "Input should be 'a.b', 'c' or 'd'"),
        ("body.x", "Extra inputs are not permitted"),
    ]


@pytest.mark.parametrize(("text", "read"), [("5", 5), (" +5 ", 5), ("1_0", 10), ("5.00", 5), ("007", 7)])
def test_a_query_or_header_integer_is_read_from_its_text(text: str, read: int) -> None:
    query = {"$ref": "#/$defs/Query"}

    assert faults({"limit": text}, query, text=True) == []
    assert Checker(DEFINITIONS).read({"limit": text}, query, text=True) == {"limit": read}


@pytest.mark.parametrize("text", ["", "five", "1.5", "1.", "1e2", "0x1", "_1", "1__0", "+-1", "\u0663"])
def test_a_text_that_is_no_integer_is_refused(text: str) -> None:
    assert faults({"limit": text}, {"$ref": "#/$defs/Query"}, text=True) == [
        ("body.limit", "Input should be a valid integer, unable to parse string as an integer")
    ]


def test_read_fills_defaults_and_drops_what_is_not_declared() -> None:
    assert Checker(DEFINITIONS).read({"items": [{"sku": "ABC", "quantity": 1}], "name": "Al"}, ORDER) == {
        "items": [{"sku": "ABC", "quantity": 1}],
        "name": "Al",
        "note": None,
        "gift": False,
    }
    assert Checker(DEFINITIONS).read({}, {"$ref": "#/$defs/Query"}) == {"limit": 20}


def test_an_answer_is_shaped_as_its_model_serialises_it() -> None:
    view = {"items": [{"sku": "ABC", "quantity": 1}], "name": "Al", "fulfilmentId": "internal"}

    assert Checker(DEFINITIONS).shape(view, ORDER) == {
        "items": [{"sku": "ABC", "quantity": 1}],
        "name": "Al",
        "note": None,
        "kind": None,
        "gift": None,
    }


@pytest.mark.parametrize(
    ("schema", "refused"),
    [
        ({"type": "number"}, "#: type 'number'"),
        ({"type": "string", "format": "email"}, "#: format"),
        ({"type": "array", "items": {"type": "integer", "multipleOf": 2}}, "#/items: multipleOf"),
        ({"type": "object", "properties": {"a": {"const": 1}}}, "#/properties/a: const"),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "#: additionalProperties other than false"),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "#: anyOf other than one schema or null"),
        ({"oneOf": [{"type": "string"}, {"type": "null"}]}, "#: oneOf"),
        ({"$ref": "#/components/schemas/Item"}, "#: $ref outside #/$defs/"),
        ({"anyOf": [{"type": "string", "uniqueItems": True}, {"type": "null"}]}, "#/anyOf/0: uniqueItems"),
    ],
)
def test_a_keyword_or_form_the_checker_does_not_enforce_is_named(schema: dict[str, Any], refused: str) -> None:
    assert refused in unknown_keywords(schema)


def test_every_keyword_of_the_fixture_and_of_the_generated_file_is_enforced() -> None:
    for name, schema in DEFINITIONS.items():
        assert unknown_keywords(schema, name) == []
    for name, schema in checker().definitions.items():
        assert unknown_keywords(schema, name) == []


# ------------------------------------------------------------------ the same verdicts as pydantic


def pydantic_faults(model: type[BaseModel], value: Any, place: str) -> list[tuple[str, str]]:
    """pydantic's verdict as Powertools' validation asked for it (validate_python, from_attributes)."""
    try:
        model.model_validate(value, from_attributes=True)
    except ValidationError as error:
        return [(".".join([place, *map(str, problem["loc"])]), problem["msg"]) for problem in error.errors()]
    return []


def checker_faults(model: type[BaseModel], value: Any, place: str, *, text: bool = False) -> list[tuple[str, str]]:
    found = checker().problems(value, {"$ref": f"#/$defs/{model.__name__}"}, place, text=text)
    return [(problem["field"], problem["message"]) for problem in found]


ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    1,
    -1,
    1.0,
    101,
    10**20,
    "",
    "x",
    "A" * 201,
    "1",
    "USD\n",
    [],
    {},
    [1],
    {"a": 1},
]


def places(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The place of every value inside `value` (not `value` itself)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        yield (*at, key)
        yield from places(child, (*at, key))


def changed(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    copied = copy.deepcopy(value)
    holder = copied
    for key in at[:-1]:
        holder = holder[key]
    if new is _DELETE:
        del holder[at[-1]]
    else:
        holder[at[-1]] = new
    return copied


_DELETE = object()


def broken(valid: dict[str, Any]) -> Iterator[Any]:
    """Every place of a valid body given each odd value, deleted, or beside an unknown field; then mixes of them."""
    every = list(places(valid))
    for at in every:
        for new in [*ODD_VALUES, _DELETE]:
            yield changed(valid, at, new)
    for at in [(), *every]:
        holder = valid
        for key in at:
            holder = holder[key]
        if isinstance(holder, dict):
            yield changed(valid, (*at, "unknownField"), 1)
    mixes = random.Random(14)  # noqa: S311 - seeded for the same mixes every run; nothing secret
    for _ in range(300):
        value = valid
        for at in mixes.sample(every, 3):
            try:
                value = changed(value, at, mixes.choice([*ODD_VALUES, _DELETE]))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed or replaced this place
        yield value


def valid_webhook() -> dict[str, Any]:
    return {
        "id": "evt_1",
        "type": "payment.failed",
        "created": 1,
        "data": {
            "orderId": "o-1",
            "paymentId": "pay_1",
            "amount": 100,
            "currency": "USD",
            "failureReason": "card declined",
        },
    }


@pytest.mark.parametrize(
    ("model", "valid"),
    [
        (PlaceOrderRequest, json.loads(sample_event("place_order/valid.json")["body"]) | {"paymentToken": "tok_visa"}),
        (PaymentWebhook, valid_webhook()),
    ],
    ids=["PlaceOrderRequest", "PaymentWebhook"],
)
def test_a_broken_body_gets_the_verdict_pydantic_gives(model: type[BaseModel], valid: dict[str, Any]) -> None:
    assert checker_faults(model, valid, "body") == pydantic_faults(model, valid, "body") == []
    compared = 0
    for value in broken(valid):
        assert checker_faults(model, value, "body") == pydantic_faults(model, value, "body"), value
        compared += 1
    assert compared > 400


TEXTS = [
    "",
    " ",
    "0",
    "1",
    "20",
    "100",
    "101",
    "-1",
    "+5",
    " 5 ",
    "1_0",
    "5.0",
    "5.5",
    "1e2",
    "abc",
    "x" * 129,
    "\u0663",
]


@pytest.mark.parametrize(
    ("model", "place", "name"),
    [
        (ListOrdersQuery, "query", "limit"),
        (ListOrdersQuery, "query", "nextToken"),
        (OrderPath, "path", "orderId"),
        (PlaceOrderHeaders, "header", "Idempotency-Key"),
    ],
)
def test_a_parameter_gets_the_verdict_pydantic_gives(model: type[BaseModel], place: str, name: str) -> None:
    """Parameters are text; pydantic reads them in lax mode. Header names are checked in lower case."""

    def as_checked(field: str) -> str:
        return field.lower() if place == "header" else field

    for value in [{name: text} for text in [*TEXTS, "x" * 1025]] + [{}]:
        expected = [(as_checked(field), message) for field, message in pydantic_faults(model, value, place)]
        lowered = {as_checked(key): text for key, text in value.items()}
        assert checker_faults(model, lowered, place, text=True) == expected, value
