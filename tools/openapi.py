"""openapi.json and layer/orders/api_schemas.json, both generated from the API's pydantic models.

orders.api_operations names each operation (method, path, id, answer) and, per place of its request,
the model that place follows; the functions route exactly those operations (orders.api.OrdersResolver.serve).
From the models come openapi.json (the contract the callers read) and api_schemas.json (the JSON Schemas
the functions check requests against without pydantic, and shape answers by). A model with a keyword
orders.api_validation does not enforce is refused here, so no field goes unchecked at run time.
tests/unit/test_openapi.py fails when either file is stale. Run: `make openapi`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from local_cloud.template import ROOT
from orders import api_models, webhook, webhook_models
from orders.api_operations import OPERATIONS, Operation
from orders.api_validation import ANNOTATIONS, SCHEMAS_PATH, SchemaNotChecked, unknown_keywords

OPENAPI_PATH = ROOT / "openapi.json"
COMPONENTS = "#/components/schemas/"
RUNTIME_REFS = "#/$defs/"
ERROR_MODEL = api_models.ErrorResponse.__name__

# What the functions answer on any route: a body that is no UTF-8 JSON, a request the schemas refuse.
ANY_ROUTE_ERRORS = (HTTPStatus.BAD_REQUEST, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, HTTPStatus.UNPROCESSABLE_ENTITY)
# What API Gateway answers on any route before a function runs: a body over 10 MB, and a request line
# with headers over its 10,240-byte quota (a long nextToken in the query is enough). 401 is on every
# route too: API Gateway's Cognito authorizer, or the webhook's signature check.
GATEWAY_ERRORS = (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

SECURITY_SCHEMES = {
    "cognito": {"type": "apiKey", "description": "Cognito ID token", "in": "header", "name": "Authorization"},
    "webhookSignature": {
        "type": "apiKey",
        "description": 'v1=<hex HMAC-SHA256 of "<Webhook-Timestamp>.<body>"> with the shared webhook secret',
        "in": "header",
        "name": webhook.SIGNATURE_HEADER,
    },
}
_SCHEMA_REF = re.compile(r'"#/components/schemas/([^"]+)"')


def models() -> dict[str, type[BaseModel]]:
    """The API's models by name, as orders.api_operations names them."""
    return {
        name: value
        for module in (api_models, webhook_models)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
    }


def _definitions(ref_template: str) -> dict[str, Any]:
    """Every model's JSON Schema (and each enum's), by name, its references made with `ref_template`."""
    _, document = models_json_schema(
        [(model, "validation") for model in models().values()], ref_template=ref_template + "{model}"
    )
    definitions: dict[str, Any] = document["$defs"]
    return definitions


def _named(operation: Operation) -> dict[str, str | None]:
    return {
        "path": operation.path_model,
        "query": operation.query_model,
        "header": operation.header_model,
        "body": operation.body_model,
        "answer": operation.answer.model,
    }


def _each_schema(schema: dict[str, Any], keep: Callable[[str, Any], bool]) -> dict[str, Any]:
    """`schema` and every schema inside it (properties, anyOf, items) with only the keywords `keep` keeps.

    Schema by schema, not key by key: a property may well be called `description` or `default`.
    """
    kept = {keyword: value for keyword, value in schema.items() if keep(keyword, value)}
    if "properties" in kept:
        kept["properties"] = {name: _each_schema(part, keep) for name, part in kept["properties"].items()}
    if "anyOf" in kept:
        kept["anyOf"] = [_each_schema(part, keep) for part in kept["anyOf"]]
    if isinstance(kept.get("items"), dict):
        kept["items"] = _each_schema(kept["items"], keep)
    return kept


def _without_null_defaults(definitions: dict[str, Any]) -> dict[str, Any]:
    """An optional's `default: null` says nothing a reader needs (and the contract never said it)."""
    return {
        name: _each_schema(schema, lambda keyword, value: not (keyword == "default" and value is None))
        for name, schema in definitions.items()
    }


def _header_names_lowered(schema: dict[str, Any]) -> dict[str, Any]:
    """Header names are case-insensitive: the functions and the contract both spell them in lower case."""
    return {
        **schema,
        "properties": {name.lower(): part for name, part in schema["properties"].items()},
        "required": [name.lower() for name in schema.get("required", [])],
    }


def _referenced(definitions: dict[str, Any], names: Iterable[str], prefix: str) -> list[str]:
    """`names` and every definition they refer to, however deep, in name order."""
    pattern = re.compile(f'"{re.escape(prefix)}([^"]+)"')
    used: set[str] = set()
    pending = set(names)
    while pending:
        name = pending.pop()
        used.add(name)
        pending |= set(pattern.findall(json.dumps(definitions[name]))) - used
    return sorted(used)


def _parameters(definitions: dict[str, Any], operation: Operation) -> list[dict[str, Any]]:
    parameters = []
    for place in ("path", "query", "header"):
        model = _named(operation)[place]
        if model is None:
            continue
        schema = definitions[model]
        if place == "header":
            schema = _header_names_lowered(schema)
        for name, part in schema["properties"].items():
            parameter = {"name": name, "in": place, "required": name in schema.get("required", [])}
            if "description" in part:
                parameter["description"] = part["description"]
            parameters.append(parameter | {"schema": part})
    return parameters


def _content(model: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"{COMPONENTS}{model}"}}}


def _responses(operation: Operation) -> dict[str, Any]:
    answer = operation.answer
    success: dict[str, Any] = {"description": answer.description, "content": _content(answer.model)}
    if answer.then:
        success["links"] = {
            target: {"operationId": target, "parameters": {"orderId": "$response.body#/orderId"}}
            for target in answer.then
        }
    errors = sorted({*operation.errors, *ANY_ROUTE_ERRORS, *GATEWAY_ERRORS, HTTPStatus.UNAUTHORIZED})
    return {
        str(answer.status.value): success,
        **{str(status.value): {"description": status.phrase, "content": _content(ERROR_MODEL)} for status in errors},
    }


def _operation(definitions: dict[str, Any], operation: Operation) -> dict[str, Any]:
    described: dict[str, Any] = {"summary": operation.summary}
    if operation.description:
        described["description"] = operation.description
    described["operationId"] = operation.operation_id
    if parameters := _parameters(definitions, operation):
        described["parameters"] = parameters
    if operation.body_model is not None:
        body: dict[str, Any] = {"content": _content(operation.body_model), "required": True}
        if operation.signed:
            body = {"description": "The provider's delivery, exactly the bytes it signed", **body}
        described["requestBody"] = body
    described["responses"] = _responses(operation)
    if operation.signed:
        described["security"] = [{"webhookSignature": []}]
    return described


def generate() -> dict[str, Any]:
    """openapi.json: every operation, its parameters, bodies and answers, from the models."""
    definitions = _without_null_defaults(_definitions(COMPONENTS))
    paths: dict[str, dict[str, Any]] = {}
    for operation in sorted(OPERATIONS, key=lambda operation: (operation.path, operation.method)):
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(definitions, operation)
    named_in_paths = set(_SCHEMA_REF.findall(json.dumps(paths)))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Orders API",
            "description": (
                "Place, cancel, read and list orders with a Cognito ID token; "
                "the payment provider's webhook is signed instead (see orders/webhook.py)."
            ),
            "version": "1.0.0",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {name: definitions[name] for name in _referenced(definitions, named_in_paths, COMPONENTS)},
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": [{"cognito": []}],
    }


def _checked_part(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema without what only describes (title, description, examples): the checker reads the rest."""
    return _each_schema(schema, lambda keyword, _value: keyword not in ANNOTATIONS)


def generate_schemas() -> dict[str, Any]:
    """api_schemas.json: the schema of each model an operation reads or answers with (and theirs), as checked."""
    definitions = _definitions(RUNTIME_REFS)
    for operation in OPERATIONS:
        if operation.header_model is not None:
            definitions[operation.header_model] = _header_names_lowered(definitions[operation.header_model])
    named = {model for operation in OPERATIONS for model in _named(operation).values() if model is not None}
    checked = {name: _checked_part(definitions[name]) for name in _referenced(definitions, named, RUNTIME_REFS)}
    unchecked = [problem for name, schema in checked.items() for problem in unknown_keywords(schema, name)]
    if unchecked:
        raise SchemaNotChecked(f"orders.api_validation does not enforce: {'; '.join(unchecked)}")
    return {
        "$comment": "Generated by `make openapi` from orders.api_models and orders.webhook_models: do not edit.",
        "$defs": checked,
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def write() -> list[str]:
    """Write both files; returns their paths, relative to the repository."""
    OPENAPI_PATH.write_text(render(generate()))
    SCHEMAS_PATH.write_text(render(generate_schemas()))
    return [str(path.relative_to(ROOT)) for path in (OPENAPI_PATH, SCHEMAS_PATH)]
