"""What every API function shares: the resolver, the caller's identity and the one error-to-HTTP mapping."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from orders import snapstart
from orders.api_models import ErrorResponse
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
from orders.order import ORDER_ID_PATTERN

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


def _problem_message(problem: Mapping[str, Any]) -> str:
    message = str(problem.get("msg", problem["type"]))
    detail = (problem.get("ctx") or {}).get("error")
    return f"{message}: {detail}" if isinstance(detail, str) else message


def _invalid_request(error: RequestValidationError) -> Response[str]:
    """Name each offending field, e.g. `body.items.0.quantity: Input should be greater than or equal to 1`.

    A missing or malformed header (Idempotency-Key) is a 400; a body or query the model refuses, a 422.
    """
    problems = error.errors()
    errors = [
        {"field": ".".join(str(part) for part in problem["loc"]), "message": _problem_message(problem)}
        for problem in problems
    ]
    if all(problem["loc"][0] == "header" for problem in problems):
        return error_response(HTTPStatus.BAD_REQUEST, "a required header is missing or invalid", errors)
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "the request is invalid", errors)


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


def _unreadable_body(event: Mapping[str, Any]) -> Response[str] | None:
    """Why a request's body is no JSON text, decided before any route reads it (or checks a signature on it)."""
    body = event.get("body")
    if not body:
        return None
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", JSON_MEDIA_TYPE).split(";", 1)[0].strip().lower()
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


# The operations' ids in openapi.json, which its links name.
PLACE_ORDER, GET_ORDER, LIST_ORDERS, CANCEL_ORDER = "placeOrder", "getOrder", "listOrders", "cancelOrder"
RECEIVE_PAYMENT_WEBHOOK = "receivePaymentWebhook"

# What the resolver itself answers on any route: a body that is no UTF-8 JSON, a request the models refuse.
_ANY_ROUTE_ERRORS = (HTTPStatus.BAD_REQUEST, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, HTTPStatus.UNPROCESSABLE_ENTITY)
# What API Gateway answers on any route before a function runs: a body over 10 MB, and a request line
# with headers over its 10,240-byte quota (a long nextToken in the query is enough).
_GATEWAY_ERRORS = (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

OrderIdPath = Annotated[
    str, Path(alias="orderId", pattern=ORDER_ID_PATTERN, description="The orderId POST /orders answered")
]


def error_responses(*statuses: HTTPStatus) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries for the error answers a route gives, all in the one error shape.

    401 is on every route: API Gateway's Cognito authorizer, or the webhook's signature check.
    """
    every = sorted({*statuses, *_ANY_ROUTE_ERRORS, *_GATEWAY_ERRORS, HTTPStatus.UNAUTHORIZED})
    return {
        status.value: {"description": status.phrase, "content": {"application/json": {"model": ErrorResponse}}}
        for status in every
    }


def success_response(description: str, model: type[BaseModel], *then: str) -> OpenAPIResponse:
    """A success answer with its body's model; `then` names operations its orderId leads to (OpenAPI links)."""
    response: OpenAPIResponse = {"description": description, "content": {"application/json": {"model": model}}}
    if then:
        response["links"] = {
            operation: {"operationId": operation, "parameters": {"orderId": "$response.body#/orderId"}}
            for operation in then
        }
    return response


class OrdersResolver(APIGatewayRestResolver):
    """Powertools' REST resolver, but a body that is no JSON text is refused before any route sees it."""

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


def create_resolver() -> APIGatewayRestResolver:
    snapstart.register_after_restore_hooks()  # the API functions run under SnapStart
    app = OrdersResolver(enable_validation=True, json_body_deserializer=_json_object)
    for error_type, status in _STATUS_OF.items():
        app.exception_handler(error_type)(_respond_with(status))
    app.exception_handler(RequestValidationError)(_invalid_request)

    def unsupported(_error: RequestUnsupportedContentType) -> Response[str]:
        return _unsupported_media_type(app.current_event.headers.get("content-type", ""))

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

    app.exception_handler(RequestUnsupportedContentType)(unsupported)
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
