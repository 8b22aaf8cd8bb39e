"""The template's REST API served on localhost, as API Gateway serves it, with its Cognito authorizer enforced.

Routes, integrations and authorizers come from the API definition SAM generates (the RestApi's
`Body`). Each request becomes the Lambda proxy (v1) event API Gateway would send, and the
function's answer becomes the HTTP response, including API Gateway's own refusals, all in its JSON shape:
403 for an unknown route or method, 401 for a missing, invalid or expired token, 431 for a request line and
headers over 10,240 bytes, 413 for a body over 10 MB, 502 for a failing function.
Like `sam local start-api`, URLs carry no stage prefix: http://127.0.0.1:3000/orders.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_cloud.cognito import TokenExpired, Unauthorized, verify_id_token
from local_cloud.listening import LoopbackHTTPServer
from local_cloud.provision import Cloud
from local_cloud.template import PSEUDO_PARAMETERS

logger = logging.getLogger(__name__)

REST_API_TYPE = "AWS::ApiGateway::RestApi"
ANY_METHOD = "ANY"  # a SAM event's `Method: any`
_INTEGRATED_FUNCTION = re.compile(r"/functions/(?P<arn>arn:[^/]+)/invocations$")
_BINARY_MEDIA_TYPES = "x-amazon-apigateway-binary-media-types"  # where SAM puts an Api's BinaryMediaTypes
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# API Gateway's REST API quotas: "total combined size of request line and header values" and the payload size.
REQUEST_LINE_AND_HEADERS_LIMIT = 10_240  # bytes
PAYLOAD_LIMIT = 10 * 1024 * 1024  # bytes


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as `observe` sees it: a line of a timeline."""

    method: str
    path: str  # as requested, query string included
    status: int
    request_body: str
    response_body: str
    duration_ms: float
    function: str | None  # the logical id of the function that answered, None when API Gateway answered itself


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


def _json_response(status: int, message: str, error_type: str | None = None) -> HttpResponse:
    """One of API Gateway's own answers (a gateway response), in its default shape."""
    headers = [("Content-Type", "application/json")] + ([("x-amzn-ErrorType", error_type)] if error_type else [])
    return HttpResponse(status, headers, json.dumps({"message": message}).encode())


def _request_line_and_header_values(request: HttpRequest) -> int:
    """The bytes API Gateway counts against its 10,240-byte quota (http.server decodes headers as Latin-1)."""
    sizes = [f"{request.method} {request.target} {request.protocol}", *(value for _, value in request.headers)]
    return sum(len(text.encode("latin-1", "replace")) for text in sizes)


# ---------------------------------------------------------------- the API, as the template defines it


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


def _only_rest_api(cloud: Cloud) -> str:
    apis = sorted(cloud.template.of_type(REST_API_TYPE))
    if len(apis) != 1:
        raise LookupError(f"expected one {REST_API_TYPE} in the template, found {apis or 'none'}")
    return apis[0]


def _stage_name(cloud: Cloud, api_id: str) -> str:
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


# ---------------------------------------------------------------- request -> proxy event -> response


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


def _header(request: HttpRequest, name: str) -> str | None:
    values = [value for header, value in request.headers if header.lower() == name.lower()]
    return values[-1] if values else None


class MalformedProxyResponse(Exception):
    """What a function returned is not a Lambda proxy response; API Gateway answers 502."""


def _proxy_response(result: Any, function: str) -> HttpResponse:
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


class ApiGateway:
    """The template's one REST API on http://host:port, invoking the template's functions in-process.

    The socket is bound on construction (port 0 takes any free port: see `port` and `url`);
    `start` serves from a background thread, `stop` closes. Usable as a context manager.
    `observe` is called with an Exchange for every request, from the thread serving it, just before the
    answer is sent: whoever holds an answer can count on its exchange having been observed.
    """

    def __init__(
        self,
        cloud: Cloud,
        host: str = "127.0.0.1",
        port: int = 3000,
        observe: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.cloud = cloud
        self.api_logical_id = _only_rest_api(cloud)
        self.stage = _stage_name(cloud, self.api_logical_id)
        # Resolving the definition needs the authorizer's user pool provisioned (local_cloud.cognito).
        definition = cloud.template.resolve(cloud.template.properties(self.api_logical_id)["Body"])
        if definition.get(_BINARY_MEDIA_TYPES) or cloud.template.properties(self.api_logical_id).get(
            "BinaryMediaTypes"
        ):
            raise NotImplementedError(
                f"{self.api_logical_id} declares binary media types: they are not emulated locally"
            )
        self.routes = routes_of(cloud, definition)
        # API Gateway's ids look like this; a stable one keeps events comparable from run to run.
        self.api_id = hashlib.sha256(self.api_logical_id.encode()).hexdigest()[:10]
        self._observe = observe
        self._host = host
        self._server = LoopbackHTTPServer((host, port), partial(_RequestHandler, gateway=self))
        self._thread: threading.Thread | None = None
        self._answering: dict[int, str] = {}  # requests being answered, by a token of each: "METHOD target"
        self._answering_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def answering(self) -> list[str]:
        """The requests being answered now ("POST /orders"): what a stop would cut short."""
        with self._answering_lock:
            return list(self._answering.values())

    def start(self) -> ApiGateway:
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"api-gateway:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting connections; requests already being answered go on in their own threads."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ApiGateway:
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ one request

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Route, authorize, invoke and answer, as API Gateway does for one request; reports the exchange."""
        started = time.perf_counter()
        token = id(request)
        with self._answering_lock:
            self._answering[token] = f"{request.method} {request.target}"
        try:
            response = self._answer(request)
        finally:
            with self._answering_lock:
                del self._answering[token]
        if self._observe is not None:
            self._observe(
                Exchange(
                    method=request.method,
                    path=request.target,
                    status=response.status,
                    request_body=request.body.decode("utf-8", "replace"),
                    response_body=response.body.decode("utf-8", "replace"),
                    duration_ms=(time.perf_counter() - started) * 1000,
                    function=response.function,
                )
            )
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        if _request_line_and_header_values(request) > REQUEST_LINE_AND_HEADERS_LIMIT:
            return _json_response(431, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.phrase)
        path = urlsplit(request.target).path
        matched = self._route(request.method, path)
        if matched is None:
            # API Gateway's answer to a path or method it does not have (TRACE included), whatever the caller's token.
            return _json_response(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        route, path_parameters = matched
        claims = None
        if route.authorizer is not None:
            try:
                claims = self._authorize(route.authorizer, request)
            except TokenExpired as error:
                return _json_response(401, str(error), "UnauthorizedException")
            except Unauthorized:
                return _json_response(401, "Unauthorized", "UnauthorizedException")
        event = self._event(request, route, path_parameters, claims)
        try:
            result = self.cloud.functions.get(route.function).invoke(event)
            return _proxy_response(result, route.function)
        except Exception:
            # API Gateway only says 502; the traceback is for whoever runs the local cloud.
            logger.exception("%s %s: %s failed", request.method, path, route.function)
            failed = _json_response(502, "Internal server error", "InternalServerErrorException")
            return replace(failed, function=route.function)

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        candidates = [
            (route, parameters)
            for route in self.routes
            if route.method in (method, ANY_METHOD) and (parameters := route.path_parameters(path)) is not None
        ]
        # The most specific resource; on one resource, its own method before ANY.
        return max(
            candidates, key=lambda candidate: (candidate[0].specificity, candidate[0].method == method), default=None
        )

    def _authorize(self, authorizer: CognitoAuthorizer, request: HttpRequest) -> dict[str, Any]:
        token = _header(request, authorizer.header)
        if not token:
            raise Unauthorized(f"no {authorizer.header} header")
        # The bare token is the documented form; a Cognito authorizer also takes it after "Bearer ".
        return verify_id_token(self.cloud, token.removeprefix("Bearer "), authorizer.user_pool_arns)

    def _event(
        self, request: HttpRequest, route: Route, path_parameters: dict[str, str], claims: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The Lambda proxy (v1) event API Gateway sends for this request."""
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
            "apiId": self.api_id,
            "domainName": _header(request, "Host") or self.url.removeprefix("http://"),
            "domainPrefix": self.api_id,
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
                "userAgent": _header(request, "User-Agent"),
            },
            "path": f"/{self.stage}{path}",
            "protocol": request.protocol,
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
            "resourcePath": route.resource,
            "stage": self.stage,
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


class _RequestHandler(BaseHTTPRequestHandler):
    """HTTP in and out; everything API Gateway decides is in ApiGateway.handle."""

    protocol_version = "HTTP/1.1"

    def __init__(self, *args: Any, gateway: ApiGateway, **kwargs: Any) -> None:
        self.gateway = gateway  # set first: the base class serves the request from its constructor
        super().__init__(*args, **kwargs)

    def __getattr__(self, name: str) -> Callable[[], None]:
        """do_GET, do_TRACE, do_QUERY...: http.server calls do_<METHOD>, and would answer 501 in HTML where none is.

        Every method goes to the gateway instead, which answers 403 to those the API does not declare.
        """
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, a line over 64 KiB, over 100 headers) as JSON, not HTML."""
        del message, explain  # they fill in http.server's HTML page; the message here is the status phrase, tersely
        body = json.dumps({"message": HTTPStatus(code).phrase}).encode()
        self.request_version = self.protocol_version  # a line http.server took for HTTP/0.9 still gets a status line
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True  # what follows on the connection cannot be trusted to be a request
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body_length(self) -> int | None:
        """Content-Length, or None after answering a value that is not one or a body over API Gateway's quota."""
        text = self.headers.get("Content-Length") or "0"
        if not text.isdigit() or not text.isascii():
            self.send_error(HTTPStatus.BAD_REQUEST)
            return None
        if int(text) > PAYLOAD_LIMIT:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)  # the body is not read: the connection closes
            return None
        return int(text)

    def _serve(self) -> None:
        length = self._body_length()
        if length is None:
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response = self.gateway.handle(request)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `observe` reports every request, the way the caller wants it printed."""
