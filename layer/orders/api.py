"""What every API function shares: the resolver, its checked routes, the caller's identity and the one error mapping.

Each route is one of orders.api_operations; its request is checked against the schemas the pydantic models
generate (orders.api_validation) before the function's handler runs, and its answer has its model's shape.
Neither pydantic nor Powertools' event handler is imported here: with its resolver every API function's cold
start took about 50 ms more CPU (the event_handler package imports every resolver it has, asyncio and all
of data_classes with them), and API Gateway has already matched each request to its resource, so routing
is a lookup (docs/decisions.md).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, NamedTuple

from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import snapstart
from orders.api_operations import Operation
from orders.api_request import ApiRequest
from orders.api_validation import Problem, checker
from orders.config import running_in_sam_local
from orders.errors import (
    IdempotencyKeyReused,
    InvalidRequest,
    InvalidSignature,
    OrderConflict,
    OrderNotFound,
    RequestInProgress,
    Unauthenticated,
)

# Stands in for the Cognito token under `sam local start-api`, which has no authorizer.
LOCAL_CUSTOMER_HEADER = "X-Local-Customer-Id"
CORRELATION_HEADER = "X-Correlation-Id"

# Each domain error's message is written for the caller and becomes the response's message.
_STATUS_OF: dict[type[Exception], HTTPStatus] = {
    OrderNotFound: HTTPStatus.NOT_FOUND,
    OrderConflict: HTTPStatus.CONFLICT,
    InvalidRequest: HTTPStatus.BAD_REQUEST,
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    InvalidSignature: HTTPStatus.UNAUTHORIZED,
    IdempotencyKeyReused: HTTPStatus.UNPROCESSABLE_ENTITY,
    RequestInProgress: HTTPStatus.CONFLICT,
}


JSON_MEDIA_TYPE = "application/json"
# A REST API without binary media types hands every body on as UTF-8 text, with each byte sequence that
# is not UTF-8 turned into U+FFFD: a body holding one is refused rather than stored mangled.
_NOT_UTF8 = "\ufffd"


def error_body(message: str, errors: list[dict[str, str]] | None = None) -> str:
    """The one error shape (ErrorResponse): a message for the caller and, when it helps, the fields at fault."""
    body: dict[str, object] = {"message": message}
    if errors:
        body["errors"] = errors
    return json.dumps(body)


class Response(NamedTuple):
    """An answer: its status and its JSON body."""

    status: HTTPStatus
    body: str

    def proxy_result(self) -> dict[str, Any]:
        """The answer as the proxy integration hands it back to API Gateway."""
        return {
            "statusCode": int(self.status),
            "headers": {"Content-Type": JSON_MEDIA_TYPE},
            "body": self.body,
            "isBase64Encoded": False,
        }


def error_response(status: HTTPStatus, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    return Response(status, error_body(message, errors))


class UnsupportedMediaType(Exception):
    """A request to a route that reads a JSON body says its body is something else (even an empty one)."""

    def __init__(self, media_type: str) -> None:
        super().__init__(media_type)
        self.media_type = media_type


class RequestRefused(Exception):
    """A request its operation's schemas refuse: every offending place, in the one error shape."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


class NotRouted(Exception):
    """A request for a resource none of the function's routes serves: API Gateway sends none, a hand-made event may."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no resource at {path}")


def _invalid_request(error: RequestRefused) -> Response:
    """Name each offending field, e.g. `body.items.0.quantity: Input should be greater than or equal to 1`.

    A missing or malformed header (Idempotency-Key) is a 400; a body, path or query the schemas refuse, a 422.
    """
    if all(problem["field"].startswith("header.") for problem in error.problems):
        return error_response(HTTPStatus.BAD_REQUEST, "a required header is missing or invalid", error.problems)
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "the request is invalid", error.problems)


def _unsupported_media_type(media_type: str) -> Response:
    return error_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"the body must be {JSON_MEDIA_TYPE}",
        [
            {
                "field": "header.Content-Type",
                "message": f"{media_type or 'an empty media type'} is not {JSON_MEDIA_TYPE}",
            }
        ],
    )


def _media_type(headers: Mapping[str, str]) -> str:
    """The Content-Type's media type, lower case; JSON when the header is absent."""
    return headers.get("content-type", JSON_MEDIA_TYPE).split(";", 1)[0].strip().lower()


def _unreadable_body(request: ApiRequest) -> Response | None:
    """Why a request's body is no JSON text, decided before any route reads it (or checks a signature on it)."""
    if not request.event.get("body"):
        return None
    media_type = _media_type(request.headers)
    if media_type != JSON_MEDIA_TYPE:
        return _unsupported_media_type(media_type)
    try:
        text = request.decoded_body or ""
    except (binascii.Error, UnicodeDecodeError):
        text = _NOT_UTF8
    if _NOT_UTF8 in text:
        return error_response(
            HTTPStatus.BAD_REQUEST,
            "the body is not UTF-8 text",
            [{"field": "body", "message": "holds bytes that are not UTF-8 (or U+FFFD, which is what those become)"}],
        )
    return None


def _json_object(text: str) -> Any:
    """The body's JSON: a JSON object, nested no deeper than the parser goes; anything else is invalid JSON."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
    if not isinstance(value, dict):
        raise json.JSONDecodeError("the body must be a JSON object", text, 0)
    return value


class CheckedRequest(NamedTuple):
    """A request its operation's schemas let through: each place's declared values, typed, defaults filled in."""

    path: dict[str, Any]
    query: dict[str, Any]
    headers: dict[str, Any]
    body: dict[str, Any] | None


def _parameters(model: str | None, values: Mapping[str, Any], place: str, problems: list[Problem]) -> dict[str, Any]:
    if model is None:
        return {}
    schema = {"$ref": f"#/$defs/{model}"}
    found = checker().problems(dict(values), schema, place, text=True)
    problems += found
    return {} if found else dict(checker().read(dict(values), schema, text=True))


def _without_nulls(value: Any) -> Any:
    """A body as its model dumps it without unset optionals (pydantic's exclude_none)."""
    if isinstance(value, dict):
        return {name: _without_nulls(item) for name, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _body(event: ApiRequest, model: str, problems: list[Problem]) -> dict[str, Any] | None:
    text = event.decoded_body
    if not text:
        problems.append({"field": "body", "message": "Field required"})
        return None
    try:
        value = _json_object(text)
    except json.JSONDecodeError as error:
        problems.append({"field": f"body.{error.pos}", "message": f"JSON decode error: {error.msg}"})
        return None
    schema = {"$ref": f"#/$defs/{model}"}
    found = checker().problems(value, schema, "body")
    problems += found
    return None if found else dict(_without_nulls(checker().read(value, schema)))


def checked_body(event: ApiRequest, operation: Operation) -> dict[str, Any]:
    """The body of a signed operation, read by its function once the signature holds; RequestRefused if invalid."""
    problems: list[Problem] = []
    body = _body(event, str(operation.body_model), problems)
    if body is None:
        raise RequestRefused(problems)
    return body


def checked_request(event: ApiRequest, operation: Operation) -> CheckedRequest:
    """The request's path, query, headers and body as its operation declares them; RequestRefused naming every fault.

    A signed operation's headers and body are its function's to read, after the signature check.
    """
    problems: list[Problem] = []
    path = _parameters(operation.path_model, event.path_parameters, "path", problems)
    query = _parameters(operation.query_model, event.query_string_parameters, "query", problems)
    headers: dict[str, Any] = {}
    body = None
    if not operation.signed:
        headers = _parameters(operation.header_model, event.headers, "header", problems)  # names lower case
        if operation.body_model is not None:
            media_type = _media_type(event.headers)
            if media_type not in {JSON_MEDIA_TYPE, ""}:  # an empty Content-Type says nothing: read as JSON
                raise UnsupportedMediaType(media_type)
            body = _body(event, operation.body_model, problems)
    if problems:
        raise RequestRefused(problems)
    return CheckedRequest(path=path, query=query, headers=headers, body=body)


Handler = Callable[[CheckedRequest], Any]


def _refusal(error: Exception) -> Response | None:
    """The one error mapping: a domain error or a refused request as the caller's answer; None for anything else,
    which fails the invocation (API Gateway answers 502) and shows in the function's log as the bug it is."""
    if isinstance(error, RequestRefused):
        return _invalid_request(error)
    if isinstance(error, UnsupportedMediaType):
        return _unsupported_media_type(error.media_type)
    if isinstance(error, NotRouted):
        return error_response(HTTPStatus.NOT_FOUND, str(error))
    status = next((status for error_type, status in _STATUS_OF.items() if isinstance(error, error_type)), None)
    return None if status is None else error_response(status, str(error))


class OrdersResolver:
    """Routes each request to the operation API Gateway matched it to (its method and resource), with the request
    checked and the answer shaped; a body that is no JSON text is refused before any route sees it."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self._routes: dict[tuple[str, str], Callable[[ApiRequest], Response]] = {}
        self._current: ApiRequest | None = None

    @property
    def current_event(self) -> ApiRequest:
        """The request being resolved, for what the checked request leaves out: the caller, the raw body."""
        if self._current is None:
            raise RuntimeError("current_event is read only while a request is resolved")
        return self._current

    def serve(self, operation: Operation) -> Callable[[Handler], Handler]:
        """Route `operation` to the decorated handler, which gets the checked request and returns the answer's body."""

        def register(handler: Handler) -> Handler:
            def answer(request: ApiRequest) -> Response:
                value = handler(checked_request(request, operation))
                shaped = checker().shape(value, {"$ref": f"#/$defs/{operation.answer.model}"})
                return Response(operation.answer.status, json.dumps(shaped, separators=(",", ":")))

            self._routes[(operation.method, operation.path)] = answer
            self.operations.append(operation)
            return handler

        return register

    def resolve(self, event: Mapping[str, Any], _context: LambdaContext) -> dict[str, Any]:
        request = ApiRequest(event)
        refusal = _unreadable_body(request)
        if refusal is not None:
            return refusal.proxy_result()
        self._current = request
        try:
            route = self._routes.get((request.method, request.resource or ""))
            if route is None:
                raise NotRouted(request.path)
            return route(request).proxy_result()
        except Exception as error:
            answer = _refusal(error)
            if answer is None:
                raise
            return answer.proxy_result()
        finally:
            self._current = None


def create_resolver() -> OrdersResolver:
    snapstart.register_after_restore_hooks()  # the API functions run under SnapStart
    return OrdersResolver()


def caller_id(event: ApiRequest) -> str:
    """The customer id: the Cognito token's `sub`, never a value from the body."""
    subject = event.claims.get("sub")
    if subject:
        return str(subject)
    local_customer = event.headers.get(LOCAL_CUSTOMER_HEADER)
    if local_customer and running_in_sam_local():
        return local_customer
    raise Unauthenticated("the request carries no authenticated customer")


def correlation_id(event: ApiRequest) -> str:
    return event.headers.get(CORRELATION_HEADER) or event.request_id or "unknown"
