"""What every API function shares: the resolver, its checked routes, the caller's identity and the one error mapping.

Each route is one of orders.api_operations; its request is checked against the schemas the pydantic models
generate (orders.api_validation) before the function's handler runs, and its answer has its model's shape.
Neither pydantic nor Powertools' validation is imported here: each costs every cold start more than the
resolver itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, NamedTuple

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import snapstart
from orders.api_operations import Operation
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


JSON_MEDIA_TYPE = content_types.APPLICATION_JSON
# A REST API without binary media types hands every body on as UTF-8 text, with each byte sequence that
# is not UTF-8 turned into U+FFFD: a body holding one is refused rather than stored mangled.
_NOT_UTF8 = "\ufffd"


def error_body(message: str, errors: list[dict[str, str]] | None = None) -> str:
    """The one error shape (ErrorResponse): a message for the caller and, when it helps, the fields at fault."""
    body: dict[str, object] = {"message": message}
    if errors:
        body["errors"] = errors
    return json.dumps(body)


def error_response(status: HTTPStatus, message: str, errors: list[dict[str, str]] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=JSON_MEDIA_TYPE, body=error_body(message, errors))


def _respond_with(status: HTTPStatus) -> Callable[[Exception], Response[str]]:
    return lambda error: error_response(status, str(error))


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


def _invalid_request(error: RequestRefused) -> Response[str]:
    """Name each offending field, e.g. `body.items.0.quantity: Input should be greater than or equal to 1`.

    A missing or malformed header (Idempotency-Key) is a 400; a body, path or query the schemas refuse, a 422.
    """
    if all(problem["field"].startswith("header.") for problem in error.problems):
        return error_response(HTTPStatus.BAD_REQUEST, "a required header is missing or invalid", error.problems)
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "the request is invalid", error.problems)


def _unsupported_media_type(media_type: str) -> Response[str]:
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


def _media_type(headers: Mapping[str, Any]) -> str:
    """The Content-Type's media type, lower case; JSON when the header is absent."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    return lowered.get("content-type", JSON_MEDIA_TYPE).split(";", 1)[0].strip().lower()


def _unreadable_body(event: Mapping[str, Any]) -> Response[str] | None:
    """Why a request's body is no JSON text, decided before any route reads it (or checks a signature on it)."""
    body = event.get("body")
    if not body:
        return None
    media_type = _media_type(event.get("headers") or {})
    if media_type != JSON_MEDIA_TYPE:
        return _unsupported_media_type(media_type)
    try:
        text = base64.b64decode(body, validate=True).decode() if event.get("isBase64Encoded") else str(body)
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


def _body(event: APIGatewayProxyEvent, model: str, problems: list[Problem]) -> dict[str, Any] | None:
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


def checked_body(event: APIGatewayProxyEvent, operation: Operation) -> dict[str, Any]:
    """The body of a signed operation, read by its function once the signature holds; RequestRefused if invalid."""
    problems: list[Problem] = []
    body = _body(event, str(operation.body_model), problems)
    if body is None:
        raise RequestRefused(problems)
    return body


def checked_request(event: APIGatewayProxyEvent, operation: Operation) -> CheckedRequest:
    """The request's path, query, headers and body as its operation declares them; RequestRefused naming every fault.

    A signed operation's headers and body are its function's to read, after the signature check.
    """
    problems: list[Problem] = []
    path = _parameters(operation.path_model, event.path_parameters or {}, "path", problems)
    query = _parameters(operation.query_model, event.query_string_parameters or {}, "query", problems)
    headers: dict[str, Any] = {}
    body = None
    if not operation.signed:
        lowered = {str(name).lower(): value for name, value in (event.headers or {}).items()}
        headers = _parameters(operation.header_model, lowered, "header", problems)
        if operation.body_model is not None:
            media_type = _media_type(event.headers or {})
            if media_type not in {JSON_MEDIA_TYPE, ""}:  # an empty Content-Type says nothing: read as JSON
                raise UnsupportedMediaType(media_type)
            body = _body(event, operation.body_model, problems)
    if problems:
        raise RequestRefused(problems)
    return CheckedRequest(path=path, query=query, headers=headers, body=body)


Handler = Callable[[CheckedRequest], Any]


class OrdersResolver(APIGatewayRestResolver):
    """Powertools' REST resolver, but a body that is no JSON text is refused before any route sees it,
    and each route serves one of orders.api_operations with its request checked and its answer shaped."""

    def __init__(self) -> None:
        super().__init__(json_body_deserializer=_json_object)
        self.operations: list[Operation] = []

    def serve(self, operation: Operation) -> Callable[[Handler], Handler]:
        """Route `operation` to the decorated handler, which gets the checked request and returns the answer's body."""

        def register(handler: Handler) -> Handler:
            def checked(**_path_parameters: str) -> Response[Any]:
                answer = handler(checked_request(self.current_event, operation))
                shaped = checker().shape(answer, {"$ref": f"#/$defs/{operation.answer.model}"})
                return Response(operation.answer.status, JSON_MEDIA_TYPE, shaped)

            self.route(operation.rule, operation.method)(checked)
            self.operations.append(operation)
            return handler

        return register

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        refusal = _unreadable_body(event)
        if refusal is None:
            return super().resolve(event, context)
        return {
            "statusCode": int(refusal.status_code),
            "headers": {"Content-Type": JSON_MEDIA_TYPE},
            "body": refusal.body,
            "isBase64Encoded": False,
        }


def create_resolver() -> OrdersResolver:
    snapstart.register_after_restore_hooks()  # the API functions run under SnapStart
    app = OrdersResolver()
    for error_type, status in _STATUS_OF.items():
        app.exception_handler(error_type)(_respond_with(status))
    app.exception_handler(RequestRefused)(_invalid_request)
    app.exception_handler(UnsupportedMediaType)(lambda error: _unsupported_media_type(error.media_type))

    def not_routed(_error: NotFoundError) -> Response[str]:
        # API Gateway routed the request to a resource with these parameters: only their characters can have
        # failed Powertools' own route match (it takes no NUL, no U+FFFD...). An invalid path parameter.
        parameters = app.current_event.path_parameters or {}
        if parameters:
            errors = [
                {"field": f"path.{name}", "message": "holds characters this route does not take"} for name in parameters
            ]
            return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "the request is invalid", errors)
        return error_response(HTTPStatus.NOT_FOUND, f"no resource at {app.current_event.path}")

    app.exception_handler(NotFoundError)(not_routed)
    return app


def caller_id(event: APIGatewayProxyEvent) -> str:
    """The customer id: the Cognito token's `sub`, never a value from the body."""
    subject = (event.request_context.authorizer.claims or {}).get("sub")
    if subject:
        return str(subject)
    local_customer = event.headers.get(LOCAL_CUSTOMER_HEADER)
    if local_customer and running_in_sam_local():
        return local_customer
    raise Unauthenticated("the request carries no authenticated customer")


def correlation_id(event: APIGatewayProxyEvent) -> str:
    return event.headers.get(CORRELATION_HEADER) or event.request_context.request_id or "unknown"
