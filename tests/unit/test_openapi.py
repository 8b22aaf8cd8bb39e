"""openapi.json is the API's contract: it must say what the code serves and the template routes.

openapi.json and layer/orders/api_schemas.json are both generated from the pydantic models (tools/openapi.py);
the functions route orders.api_operations and check requests against api_schemas.json, without pydantic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from local_cloud.api_gateway.routes import routes_in_template
from local_cloud.functions import LocalFunction
from local_cloud.template import Template
from orders import api_models, api_operations
from orders.api_operations import OPERATIONS, Answer, Operation
from orders.api_validation import SCHEMAS_PATH, SchemaNotChecked
from tools import openapi
from tools.openapi import OPENAPI_PATH, generate, generate_schemas, render


def test_openapi_json_is_what_the_models_generate() -> None:
    assert OPENAPI_PATH.read_text() == render(generate()), "run `make openapi` and commit openapi.json"


def test_the_schemas_the_functions_check_are_what_the_models_generate() -> None:
    assert SCHEMAS_PATH.read_text() == render(generate_schemas()), "run `make openapi` and commit api_schemas.json"


def test_openapi_json_describes_exactly_the_routes_the_template_serves() -> None:
    described = {
        (path, method)
        for path, operations in json.loads(OPENAPI_PATH.read_text())["paths"].items()
        for method in operations
    }
    assert described == set(routes_in_template(Template.load()))


def test_the_functions_route_exactly_the_operations_openapi_json_describes(
    function: Callable[[str], LocalFunction],
) -> None:
    """Each operation is declared once (orders.api_operations): what the resolvers route is what the contract says."""
    described = {
        (path, method, operation["operationId"])
        for path, operations in json.loads(OPENAPI_PATH.read_text())["paths"].items()
        for method, operation in operations.items()
    }
    routed: set[tuple[str, str, str]] = set()
    for logical_id in set(routes_in_template(Template.load()).values()):
        app = function(logical_id).module.app
        served = {(operation.path, operation.method.lower(), operation.operation_id) for operation in app.operations}
        # Each is routed, not only listed: a request API Gateway matched to it reaches a route (its answer may
        # refuse the bare request, but it is no "no resource" 404).
        for path, method, _ in served:
            bare = {"httpMethod": method.upper(), "resource": path, "path": path, "headers": {}}
            answer = app.resolve(bare, None)
            assert json.loads(answer["body"]).get("message") != f"no resource at {path}", (logical_id, method, path)
        routed |= served
    assert routed == described


def test_every_link_names_an_operation_and_every_model_is_one() -> None:
    ids = {operation.operation_id for operation in OPERATIONS}
    named = openapi.models()
    for operation in OPERATIONS:
        assert set(operation.answer.then) <= ids, operation.operation_id
        for model in (operation.path_model, operation.query_model, operation.header_model, operation.body_model):
            assert model is None or model in named, (operation.operation_id, model)
        assert operation.answer.model in named


def test_openapi_json_says_how_each_route_is_authenticated_as_the_template_does() -> None:
    """A route the template leaves open to the provider (Auth NONE) is signed; every other one needs Cognito."""
    document = json.loads(OPENAPI_PATH.read_text())
    api = Template.load().properties("OrdersApi")["Body"]
    for path, operations in api["paths"].items():
        for method, operation in operations.items():
            described = document["paths"][path][method].get("security", document["security"])
            expected: list[dict[str, list[str]]] = (
                [{"webhookSignature": []}] if operation["security"] == [{"NONE": []}] else [{"cognito": []}]
            )
            assert described == expected, (method, path)


class Discounted(api_models.ApiModel):
    """A model with a keyword the checker does not enforce: its generation must fail, not go unchecked."""

    model_config = ConfigDict(extra="forbid")
    price: float = Field(multiple_of=0.5)


def test_a_model_with_a_keyword_the_checker_does_not_enforce_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    every_model = openapi.models()
    monkeypatch.setattr(openapi, "models", lambda: {**every_model, "Discounted": Discounted})
    operation = Operation(
        method="POST",
        path="/discounts",
        operation_id="discount",
        summary="Discount",
        answer=Answer(HTTPStatus.OK, "Discounted", "OrderResponse"),
        body_model="Discounted",
    )
    monkeypatch.setattr(openapi, "OPERATIONS", (*api_operations.OPERATIONS, operation))

    with pytest.raises(SchemaNotChecked) as refused:
        generate_schemas()

    assert "Discounted/properties/price: multipleOf" in str(refused.value)
    assert "Discounted/properties/price: type 'number'" in str(refused.value)


def test_every_body_integer_is_strict_as_the_checker_reads_it() -> None:
    """The checker takes no "1", 1.0 or true for a body's integer; a lax int field in a body model would differ."""

    def integers(model: type[BaseModel], at: str) -> list[tuple[str, Any]]:
        found = []
        for name, field in model.model_fields.items():
            arguments = [field.annotation, *getattr(field.annotation, "__args__", ())]
            for argument in arguments:
                for inner in [argument, *getattr(argument, "__args__", ())]:
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        found += integers(inner, f"{at}.{name}")
            if int in arguments:
                found.append((f"{at}.{name}", field))
        return found

    for operation in OPERATIONS:
        if operation.body_model is None:
            continue
        for place, field in integers(openapi.models()[operation.body_model], operation.body_model):
            assert any(getattr(rule, "strict", False) for rule in field.metadata), f"{place} is not strict"
