"""API Gateway for the template's one REST API: route, authorize, invoke the function and answer.

403 for an unknown route or method, 401 for a missing, invalid or expired token, 431 for a request line and
headers over 10,240 bytes, 413 for a body over 10 MB (local_cloud.api_gateway.http_server), 502 for a failing
function. Like `sam local start-api`, URLs carry no stage prefix: http://127.0.0.1:3000/orders.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from local_cloud.api_gateway.authorizer import TokenExpired, Unauthorized, verify_id_token
from local_cloud.api_gateway.http_server import RequestHandler
from local_cloud.api_gateway.proxy import (
    REQUEST_LINE_AND_HEADERS_LIMIT,
    HttpRequest,
    HttpResponse,
    gateway_response,
    header,
    proxy_event,
    proxy_response,
    request_line_and_header_values,
)
from local_cloud.api_gateway.routes import ANY_METHOD, CognitoAuthorizer, Route, only_rest_api, routes_of, stage_name
from local_cloud.cloud import Cloud
from local_cloud.listening import LoopbackHTTPServer

logger = logging.getLogger("local_cloud.api_gateway")  # the package's: one logger for the whole gateway

_BINARY_MEDIA_TYPES = "x-amazon-apigateway-binary-media-types"  # where SAM puts an Api's BinaryMediaTypes


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
        self.api_logical_id = only_rest_api(cloud.template)
        self.stage = stage_name(cloud, self.api_logical_id)
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
        self._server = LoopbackHTTPServer((host, port), partial(RequestHandler, answer=self._handle_now))
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

    def _handle_now(self, request: HttpRequest) -> HttpResponse:
        # `handle` looked up per request, so a wrapper set on this gateway later (the fuzz's counter) sees each one.
        return self.handle(request)

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
        if request_line_and_header_values(request) > REQUEST_LINE_AND_HEADERS_LIMIT:
            return gateway_response(431, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.phrase)
        path = urlsplit(request.target).path
        matched = self._route(request.method, path)
        if matched is None:
            # API Gateway's answer to a path or method it does not have (TRACE included), whatever the caller's token.
            return gateway_response(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        route, path_parameters = matched
        claims = None
        if route.authorizer is not None:
            try:
                claims = self._authorize(route.authorizer, request)
            except TokenExpired as error:
                return gateway_response(401, str(error), "UnauthorizedException")
            except Unauthorized:
                return gateway_response(401, "Unauthorized", "UnauthorizedException")
        event = proxy_event(
            request, route, path_parameters, claims, self.api_id, self.stage, self.url.removeprefix("http://")
        )
        try:
            result = self.cloud.functions.get(route.function).invoke(event)
            return proxy_response(result, route.function)
        except Exception:
            # API Gateway only says 502; the traceback is for whoever runs the local cloud.
            logger.exception("%s %s: %s failed", request.method, path, route.function)
            failed = gateway_response(502, "Internal server error", "InternalServerErrorException")
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
        token = header(request, authorizer.header)
        if not token:
            raise Unauthorized(f"no {authorizer.header} header")
        # The bare token is the documented form; a Cognito authorizer also takes it after "Bearer ".
        return verify_id_token(self.cloud, token.removeprefix("Bearer "), authorizer.user_pool_arns)
