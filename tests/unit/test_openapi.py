"""openapi.json is the API's contract: it must say what the code serves and the template routes."""

from __future__ import annotations

import json

from local_cloud.api_gateway.routes import routes_in_template
from local_cloud.template import Template
from scripts.openapi import OPENAPI_PATH, generate, render


def test_openapi_json_is_what_the_resolvers_generate() -> None:
    assert OPENAPI_PATH.read_text() == render(generate()), "run `make openapi` and commit openapi.json"


def test_openapi_json_describes_exactly_the_routes_the_template_serves() -> None:
    described = {
        (path, method)
        for path, operations in json.loads(OPENAPI_PATH.read_text())["paths"].items()
        for method in operations
    }
    assert described == set(routes_in_template(Template.load()))


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
