"""One request as API Gateway hands it to a function, and the function's answer as API Gateway returns it.

Each request becomes the Lambda proxy (v1) event API Gateway would send, and the function's answer becomes
the HTTP response; API Gateway's own refusals (gateway responses) are in its JSON shape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_cloud.api_gateway.routes import Route
from local_cloud.template import PSEUDO_PARAMETERS

_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# API Gateway's REST API quotas: "total combined size of request line and header values" and the payload size.
REQUEST_LINE_AND_HEADERS_LIMIT = 10_240  # bytes
PAYLOAD_LIMIT = 10 * 1024 * 1024  # bytes


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query string, as on the request line
    headers: list[tuple[str, str]]  # in order, names as sent, repeats kept
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    function: str | None = None


def gateway_response(status: int, message: str, error_type: str | None = None) -> HttpResponse:
    """One of API Gateway's own answers (a gateway response), in its default shape."""
    headers = [("Content-Type", "application/json")] + ([("x-amzn-ErrorType", error_type)] if error_type else [])
    return HttpResponse(status, headers, json.dumps({"message": message}).encode())


def request_line_and_header_values(request: HttpRequest) -> int:
    """The bytes API Gateway counts against its 10,240-byte quota (http.server decodes headers as Latin-1)."""
    sizes = [f"{request.method} {request.target} {request.protocol}", *(value for _, value in request.headers)]
    return sum(len(text.encode("latin-1", "replace")) for text in sizes)


def _claims_as_api_gateway_gives_them(claims: dict[str, Any]) -> dict[str, str]:
    """Every claim a string, the way a REST API hands Cognito claims on: dates as Java prints them."""

    def text(name: str, value: Any) -> str:
        if name in ("exp", "iat"):
            return datetime.fromtimestamp(int(value), UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list):
            return ",".join(str(item) for item in value)
        return str(value)

    return {name: text(name, value) for name, value in claims.items()}


def _query(query_string: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """queryStringParameters (last value wins) and multiValueQueryStringParameters, URL-decoded; None when none."""
    multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        multi.setdefault(name, []).append(value)
    if not multi:
        return None, None
    return {name: values[-1] for name, values in multi.items()}, multi


def _body(raw: bytes) -> str | None:
    """The event's body as a REST API without binary media types passes it: UTF-8 text, isBase64Encoded false.

    API Gateway's table of content type conversions: with no binaryMediaTypes, a request payload goes to the
    integration as a UTF-8 string whatever its Content-Type; bytes that are not UTF-8 become U+FFFD.
    """
    return raw.decode("utf-8", "replace") if raw else None


def header(request: HttpRequest, name: str) -> str | None:
    values = [value for header, value in request.headers if header.lower() == name.lower()]
    return values[-1] if values else None


class MalformedProxyResponse(Exception):
    """What a function returned is not a Lambda proxy response; API Gateway answers 502."""


def proxy_response(result: Any, function: str) -> HttpResponse:
    """The HTTP response a function's proxy result stands for, checked as strictly as API Gateway does."""
    try:
        # What crosses from Lambda to API Gateway is JSON: an enum status becomes its number, an object fails.
        result = json.loads(json.dumps(result))
    except (TypeError, ValueError) as error:
        raise MalformedProxyResponse(f"{function} returned something Lambda cannot serialize: {error}") from error
    if not isinstance(result, dict) or not set(result) <= _PROXY_RESPONSE_KEYS:
        raise MalformedProxyResponse(f"{function} returned {type(result).__name__} {str(result)[:200]}")
    status, body = result.get("statusCode"), result.get("body")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"{function} returned statusCode {status!r}")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse(f"{function} returned a body of type {type(body).__name__}, not a string")
    headers: list[tuple[str, str]] = []
    multi_value = result.get("multiValueHeaders") or {}
    for name, values in multi_value.items():
        headers += [(str(name), str(value)) for value in values]
    for name, value in (result.get("headers") or {}).items():
        if name not in multi_value:
            headers.append((str(name), str(value)))
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default for a proxy response
    try:
        payload = (
            base64.b64decode(body or "", validate=True) if result.get("isBase64Encoded") else (body or "").encode()
        )
    except binascii.Error as error:
        raise MalformedProxyResponse(f"{function} returned isBase64Encoded with a body that is not base64") from error
    return HttpResponse(status, headers, payload, function)


def proxy_event(  # noqa: PLR0917 - the request and what routing and authorizing found out about it
    request: HttpRequest,
    route: Route,
    path_parameters: dict[str, str],
    claims: dict[str, Any] | None,
    api_id: str,
    stage: str,
    domain: str,
) -> dict[str, Any]:
    """The Lambda proxy (v1) event API Gateway `api_id` sends for this request; `domain` when it has no Host."""
    path = unquote(urlsplit(request.target).path)
    query, multi_query = _query(urlsplit(request.target).query)
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    now = datetime.now(UTC)
    request_context: dict[str, Any] = {
        "accountId": PSEUDO_PARAMETERS["AWS::AccountId"],
        "apiId": api_id,
        "domainName": header(request, "Host") or domain,
        "domainPrefix": api_id,
        "extendedRequestId": uuid.uuid4().hex[:16],
        "httpMethod": request.method,
        "identity": {
            **dict.fromkeys(
                (
                    "accessKey",
                    "accountId",
                    "caller",
                    "cognitoAuthenticationProvider",
                    "cognitoAuthenticationType",
                    "cognitoIdentityId",
                    "cognitoIdentityPoolId",
                    "principalOrgId",
                    "user",
                    "userArn",
                )
            ),
            "sourceIp": request.source_ip,
            "userAgent": header(request, "User-Agent"),
        },
        "path": f"/{stage}{path}",
        "protocol": request.protocol,
        "requestId": str(uuid.uuid4()),
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
        "resourcePath": route.resource,
        "stage": stage,
    }
    if claims is not None:
        request_context["authorizer"] = {"claims": _claims_as_api_gateway_gives_them(claims)}
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": _body(request.body),
        "isBase64Encoded": False,
    }
