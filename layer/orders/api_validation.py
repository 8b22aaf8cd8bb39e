"""Checks a request against the JSON Schema the API's pydantic models generate, without importing pydantic.

`make openapi` writes api_schemas.json beside this module from orders.api_models and orders.webhook_models
(tools/openapi.py); importing pydantic at run time would cost every cold start more than Powertools does.
The checker knows exactly the keywords those models generate, and `unknown_keywords` names any other, so
the generator refuses a model this module would not check in full. Each offending value is reported, in
pydantic's words, with its place (`body.items.0.quantity`): a caller fixes every fault in one round trip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS_PATH = Path(__file__).with_name("api_schemas.json")

# What the checker enforces; ANNOTATIONS only describe. A schema with any other keyword is refused.
CHECKED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "anyOf",
        "$ref",
        "items",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "default",
    }
)
ANNOTATIONS = frozenset({"title", "description", "examples"})
TYPES = frozenset({"string", "integer", "boolean", "array", "object", "null"})
_REF_PREFIX = "#/$defs/"
# A query or header value is text: an integer one is read as pydantic's lax mode reads it ("+5", " 5 ", "1_0", "5.0").
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")

Problem = dict[str, str]
# A value of the wrong type, as pydantic words it (integers have their own rules: _integer_fault).
_TYPE_FAULTS: dict[str, tuple[type, str]] = {
    "string": (str, "Input should be a valid string"),
    "boolean": (bool, "Input should be a valid boolean"),
    "array": (list, "Input should be a valid list"),
    "object": (dict, "Input should be a valid dictionary or object to extract fields from"),
}


def _integer(text: str) -> int:
    """The integer of a text _INTEGER_TEXT matches."""
    return int(text.strip().replace("_", "").split(".", 1)[0])


class SchemaNotChecked(ValueError):
    """A schema uses a keyword, a type or a form this checker does not enforce."""


def _subschemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from schema.get("properties", {}).values()
    yield from schema.get("anyOf", [])
    if isinstance(schema.get("items"), Mapping):
        yield schema["items"]


def unknown_keywords(schema: Mapping[str, Any], where: str = "#") -> list[str]:
    """Every place in `schema` the checker would not enforce in full, e.g. `#/properties/price: multipleOf`."""
    found = [f"{where}: {keyword}" for keyword in sorted(set(schema) - CHECKED - ANNOTATIONS)]
    kind = schema.get("type")
    if kind is not None and kind not in TYPES:
        found.append(f"{where}: type {kind!r}")
    if schema.get("additionalProperties", False) is not False:
        found.append(f"{where}: additionalProperties other than false")
    branches = schema.get("anyOf")
    if branches is not None and (len(branches) != 2 or [branch.get("type") for branch in branches].count("null") != 1):
        found.append(f"{where}: anyOf other than one schema or null")
    if "$ref" in schema and not str(schema["$ref"]).startswith(_REF_PREFIX):
        found.append(f"{where}: $ref outside {_REF_PREFIX}")
    for name, part in schema.get("properties", {}).items():
        found += unknown_keywords(part, f"{where}/properties/{name}")
    for index, part in enumerate(branches or []):
        found += unknown_keywords(part, f"{where}/anyOf/{index}")
    if isinstance(schema.get("items"), Mapping):
        found += unknown_keywords(schema["items"], f"{where}/items")
    return found


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _choices(values: list[Any]) -> str:
    quoted = [repr(value) for value in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _anchored(pattern: str) -> re.Pattern[str]:
    """JSON Schema's `$` ends the text (as pydantic's regex engine reads it); Python's also takes a final newline."""
    if pattern.endswith("$") and not pattern.endswith(r"\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_compiled = cache(_anchored)


class Checker:
    """Checks values against schemas whose `$ref`s name `definitions` (the generated file's `$defs`)."""

    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]) -> None:
        self.definitions = definitions

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            schema = self.definitions[str(schema["$ref"]).removeprefix(_REF_PREFIX)]
        return schema

    def problems(self, value: Any, schema: Mapping[str, Any], place: str, *, text: bool = False) -> list[Problem]:
        """Every fault of `value`, one per offending place; `text` reads integers from strings (query, header)."""
        found: list[Problem] = []
        self._check(value, self.resolve(schema), place, text, found)
        return found

    def read(self, value: Any, schema: Mapping[str, Any], *, text: bool = False) -> Any:
        """`value` as its model would hold it, once `problems` found none.

        Each declared property, its default where absent; no undeclared one; an integer's text becomes the integer.
        """
        schema = self._non_null(self.resolve(schema), value)
        if value is None:
            return None
        if schema.get("type") == "object" and "properties" in schema:
            return {
                name: self.read(value[name], part, text=text) if name in value else part["default"]
                for name, part in schema["properties"].items()
                if name in value or "default" in part
            }
        if schema.get("type") == "array":
            return [self.read(item, schema.get("items", {}), text=text) for item in value]
        if text and schema.get("type") == "integer" and isinstance(value, str):
            return _integer(value)
        return value

    def _non_null(self, schema: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
        """The optional's schema for a value that is not null (the only anyOf the models generate)."""
        branches = schema.get("anyOf")
        if branches is None or value is None:
            return schema
        return self.resolve(next(branch for branch in branches if branch.get("type") != "null"))

    def _check(self, value: Any, schema: Mapping[str, Any], place: str, text: bool, found: list[Problem]) -> None:
        if "anyOf" in schema:
            if value is None:
                return
            schema = self._non_null(schema, value)
        message = self._fault(value, schema, text)
        if message is not None:
            found.append({"field": place, "message": message})
            return
        if schema.get("type") == "object":
            self._check_object(value, schema, place, text, found)
        elif schema.get("type") == "array":
            self._check_array(value, schema, place, text, found)

    def _check_object(
        self, value: dict[str, Any], schema: Mapping[str, Any], place: str, text: bool, found: list[Problem]
    ) -> None:
        properties: Mapping[str, Mapping[str, Any]] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        for name, part in properties.items():
            if name in value:
                self._check(value[name], self.resolve(part), f"{place}.{name}", text, found)
            elif name in required:
                found.append({"field": f"{place}.{name}", "message": "Field required"})
        if schema.get("additionalProperties", True) is False:
            found += [
                {"field": f"{place}.{name}", "message": "Extra inputs are not permitted"}
                for name in value
                if name not in properties
            ]

    def _check_array(
        self, value: list[Any], schema: Mapping[str, Any], place: str, text: bool, found: list[Problem]
    ) -> None:
        # pydantic's order: too many items is the one fault; else each item's; else too few.
        most, least = schema.get("maxItems"), schema.get("minItems")
        if most is not None and len(value) > most:
            found.append(
                {
                    "field": place,
                    "message": f"List should have at most {_plural(most, 'item')} after validation, not {len(value)}",
                }
            )
            return
        before = len(found)
        item_schema = self.resolve(schema.get("items", {}))
        for index, item in enumerate(value):
            self._check(item, item_schema, f"{place}.{index}", text, found)
        if len(found) == before and least is not None and len(value) < least:
            found.append(
                {
                    "field": place,
                    "message": f"List should have at least {_plural(least, 'item')} after validation, not {len(value)}",
                }
            )

    def _fault(self, value: Any, schema: Mapping[str, Any], text: bool) -> str | None:
        """The first fault of `value` itself (not of its items or properties), as pydantic words it."""
        if "enum" in schema and value not in schema["enum"]:
            return f"Input should be {_choices(schema['enum'])}"
        kind = schema.get("type")
        if kind == "integer":
            return self._integer_fault(value, schema, text)
        if kind in _TYPE_FAULTS:
            expected, message = _TYPE_FAULTS[kind]
            if not isinstance(value, expected):
                return message
        return self._string_fault(value, schema) if kind == "string" else None

    @staticmethod
    def _string_fault(value: str, schema: Mapping[str, Any]) -> str | None:
        if "minLength" in schema and len(value) < schema["minLength"]:
            return f"String should have at least {_plural(schema['minLength'], 'character')}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"String should have at most {_plural(schema['maxLength'], 'character')}"
        if "pattern" in schema and not _compiled(schema["pattern"]).search(value):
            return f"String should match pattern '{schema['pattern']}'"
        return None

    @staticmethod
    def _integer_fault(value: Any, schema: Mapping[str, Any], text: bool) -> str | None:
        if text and isinstance(value, str):
            if not _INTEGER_TEXT.fullmatch(value.strip()):
                return "Input should be a valid integer, unable to parse string as an integer"
            value = _integer(value)
        # JSON's true is no quantity, nor is 1.0: a body's integers are strict, as the models declare them.
        if not isinstance(value, int) or isinstance(value, bool):
            return "Input should be a valid integer"
        if "minimum" in schema and value < schema["minimum"]:
            return f"Input should be greater than or equal to {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"Input should be less than or equal to {schema['maximum']}"
        return None

    def shape(self, value: Any, schema: Mapping[str, Any]) -> Any:
        """An answer as its response model serialises it: each declared property, null when absent, no other."""
        schema = self._non_null(self.resolve(schema), value)
        if value is None:
            return None
        if schema.get("type") == "object" and "properties" in schema:
            return {name: self.shape(value.get(name), part) for name, part in schema["properties"].items()}
        if schema.get("type") == "array":
            return [self.shape(item, schema.get("items", {})) for item in value]
        return value


@cache
def checker() -> Checker:
    """The checker of the generated schemas (read once per container)."""
    document: dict[str, Any] = json.loads(SCHEMAS_PATH.read_text())
    return Checker(document["$defs"])
