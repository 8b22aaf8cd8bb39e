"""The template's REST API as API Gateway reads it: its routes, each with its function and its authorizer.

Routes, integrations and authorizers come from the API definition SAM generates (the RestApi's `Body`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local_cloud.cloud import Cloud
from local_cloud.template import Template

REST_API_TYPE = "AWS::ApiGateway::RestApi"
ANY_METHOD = "ANY"  # a SAM event's `Method: any`
_INTEGRATED_FUNCTION = re.compile(r"/functions/(?P<arn>arn:[^/]+)/invocations$")
_FUNCTION_IN_URI = re.compile(r"\$\{(\w+?)(?:\.Arn)?\}/invocations")  # unresolved: a function's ARN or its alias's


@dataclass(frozen=True)
class CognitoAuthorizer:
    name: str
    header: str  # the identity source: which request header carries the token
    user_pool_arns: tuple[str, ...]


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _is_greedy(segment: str) -> bool:
    """{proxy+}: the rest of the path, one segment or more."""
    return _is_parameter(segment) and segment.endswith("+}")


@dataclass(frozen=True)
class Route:
    """One method on one resource, integrated with one of the template's functions (aws_proxy)."""

    resource: str  # the path template, e.g. /orders/{orderId}
    method: str
    function: str  # logical id
    authorizer: CognitoAuthorizer | None

    def path_parameters(self, path: str) -> dict[str, str] | None:
        """The values `path` gives this resource's parameters (URL-decoded), or None if it is another resource.

        Matched on the path as sent, segment by segment, so an encoded slash stays inside its parameter.
        """
        wanted, given = self.resource.strip("/").split("/"), path.strip("/").split("/")
        parameters: dict[str, str] = {}
        for position, segment in enumerate(wanted):
            if _is_greedy(segment):
                rest = given[position:]
                if not any(rest):
                    return None
                parameters[segment[1:-2]] = unquote("/".join(rest))
                return parameters
            if position >= len(given):
                return None
            if _is_parameter(segment) and given[position]:
                parameters[segment[1:-1]] = unquote(given[position])
            elif segment != given[position]:
                return None
        return parameters if len(given) == len(wanted) else None

    @property
    def specificity(self) -> tuple[int, ...]:
        """API Gateway prefers a literal segment to a parameter, and a parameter to a greedy one."""
        return tuple(
            0 if _is_greedy(segment) else 1 if _is_parameter(segment) else 2
            for segment in self.resource.strip("/").split("/")
        )


def only_rest_api(template: Template) -> str:
    apis = sorted(template.of_type(REST_API_TYPE))
    if len(apis) != 1:
        raise LookupError(f"expected one {REST_API_TYPE} in the template, found {apis or 'none'}")
    return apis[0]


def routes_in_template(template: Template) -> dict[tuple[str, str], str]:
    """(path, method) -> function logical id, read from the API definition SAM generates from the events.

    Before provisioning, from the template alone (the OpenAPI generator and the tests use it); `routes_of`
    reads the provisioned definition, whose URIs are resolved to function names.
    """
    routes = {}
    for path, operations in template.properties(only_rest_api(template))["Body"]["paths"].items():
        for method, operation in operations.items():
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            match = _FUNCTION_IN_URI.search(uri)
            if match is None:
                raise ValueError(f"{method.upper()} {path} is not integrated with a function of this template")
            target = template.resources.get(match.group(1), {})
            if target.get("Type") == "AWS::Lambda::Alias":  # AutoPublishAlias: the route invokes `live`
                routes[(path, method)] = str(target["Properties"]["FunctionName"]["Ref"])
            else:
                routes[(path, method)] = match.group(1)
    return routes


def stage_name(cloud: Cloud, api_id: str) -> str:
    for stage in cloud.template.of_type("AWS::ApiGateway::Stage").values():
        if stage["Properties"].get("RestApiId") == {"Ref": api_id}:
            return str(cloud.template.resolve(stage["Properties"]["StageName"]))
    raise LookupError(f"{api_id} has no AWS::ApiGateway::Stage in the template")


def _authorizers(definition: dict[str, Any]) -> dict[str, CognitoAuthorizer]:
    """The definition's Cognito user pool authorizers by name; other kinds are not emulated."""
    authorizers = {}
    for name, scheme in definition.get("securityDefinitions", {}).items():
        authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
        if authorizer.get("type") == "cognito_user_pools":
            authorizers[name] = CognitoAuthorizer(
                name, scheme.get("name", "Authorization"), tuple(authorizer["providerARNs"])
            )
    return authorizers


def _route_authorizer(
    resource: str, method: str, operation: dict[str, Any], authorizers: dict[str, CognitoAuthorizer]
) -> CognitoAuthorizer | None:
    names = [name for requirement in operation.get("security", []) for name in requirement]
    for name in names:
        if name in authorizers:
            return authorizers[name]
        if name != "NONE":
            raise NotImplementedError(f"{method} {resource}: authorizer {name} is not emulated locally")
    return None


def _integrated_function_name(operation: dict[str, Any]) -> str | None:
    """The name of the function an aws_proxy integration invokes, read from its (resolved) URI."""
    integration = operation.get("x-amazon-apigateway-integration", {})
    match = _INTEGRATED_FUNCTION.search(str(integration.get("uri", "")))
    if integration.get("type") != "aws_proxy" or match is None:
        return None
    return match["arn"].split(":function:", 1)[-1].split(":", 1)[0]  # a name, without any qualifier


def routes_of(cloud: Cloud, definition: dict[str, Any]) -> list[Route]:
    """Every method of the (resolved) API definition, with the function its Lambda proxy integration calls."""
    logical_id_of = {
        str(cloud.physical_id(function)): function for function in cloud.template.of_type("AWS::Lambda::Function")
    }
    authorizers = _authorizers(definition)
    routes = []
    for resource, operations in definition["paths"].items():
        for method, operation in operations.items():
            function = logical_id_of.get(_integrated_function_name(operation) or "")
            if function is None:
                raise NotImplementedError(
                    f"{method.upper()} {resource}: only Lambda proxy integrations with the template's functions"
                    " are emulated"
                )
            method_name = ANY_METHOD if method == "x-amazon-apigateway-any-method" else method.upper()
            authorizer = _route_authorizer(resource, method_name, operation, authorizers)
            routes.append(Route(resource, method_name, function, authorizer))
    return routes
