"""What every API function shares: the resolver, the caller's identity and the one error-to-HTTP mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

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


def error_response(status: HTTPStatus, message: str, errors: list[dict[str, str]] | None = None) -> Response[str]:
    body: dict[str, object] = {"message": message}
    if errors:
        body["errors"] = errors
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _respond_with(status: HTTPStatus) -> Callable[[Exception], Response[str]]:
    return lambda error: error_response(status, str(error))


def _invalid_request(error: RequestValidationError) -> Response[str]:
    """Name each offending field, e.g. `body.items.0.quantity: Input should be greater than or equal to 1`.

    A missing or malformed header (Idempotency-Key) is a 400; a body or query the model refuses, a 422.
    """
    problems = error.errors()
    errors = [
        {"field": ".".join(str(part) for part in problem["loc"]), "message": str(problem.get("msg", problem["type"]))}
        for problem in problems
    ]
    if all(problem["loc"][0] == "header" for problem in problems):
        return error_response(HTTPStatus.BAD_REQUEST, "a required header is missing or invalid", errors)
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "the request is invalid", errors)


def error_responses(*statuses: HTTPStatus) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries for the error answers a route gives, all in the one error shape."""
    return {
        status.value: {"description": status.phrase, "content": {"application/json": {"model": ErrorResponse}}}
        for status in (*statuses, HTTPStatus.UNAUTHORIZED)
    }


def create_resolver() -> APIGatewayRestResolver:
    snapstart.register_after_restore_hooks()  # the API functions run under SnapStart
    app = APIGatewayRestResolver(enable_validation=True)
    for error_type, status in _STATUS_OF.items():
        app.exception_handler(error_type)(_respond_with(status))
    app.exception_handler(RequestValidationError)(_invalid_request)
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
