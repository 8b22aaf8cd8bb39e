"""openapi.json is the API's contract: it must say what the code serves and the template routes."""

from __future__ import annotations

import json

from local_cloud.template import Template
from scripts.openapi import OPENAPI_PATH, generate, render, routes_in_template


def test_openapi_json_is_what_the_resolvers_generate() -> None:
    assert OPENAPI_PATH.read_text() == render(generate()), "run `make openapi` and commit openapi.json"


def test_openapi_json_describes_exactly_the_routes_the_template_serves() -> None:
    described = {
        (path, method)
        for path, operations in json.loads(OPENAPI_PATH.read_text())["paths"].items()
        for method in operations
    }
    assert described == set(routes_in_template(Template.load()))
