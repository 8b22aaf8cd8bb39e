"""The API's operations, named once: the functions route them at run time, tools/openapi.py describes them.

Models are named, not imported: the pydantic models in orders.api_models and orders.webhook_models
exist at build time only (they generate openapi.json and api_schemas.json), never in a function.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import NamedTuple

# The operations' ids in openapi.json, which its links name.
PLACE_ORDER_ID, GET_ORDER_ID, LIST_ORDERS_ID, CANCEL_ORDER_ID = "placeOrder", "getOrder", "listOrders", "cancelOrder"
RECEIVE_PAYMENT_WEBHOOK_ID = "receivePaymentWebhook"


# NamedTuples, not dataclasses: a third of the cost to create at every cold start, and as immutable.
class Answer(NamedTuple):
    """A success answer: its status, what it means, its body's model, the operations its orderId leads to."""

    status: HTTPStatus
    description: str
    model: str
    then: tuple[str, ...] = ()


class Operation(NamedTuple):
    """One method on one path, what it reads (by model name, per place) and what it answers."""

    method: str
    path: str  # OpenAPI's form: /orders/{orderId}
    operation_id: str
    summary: str
    answer: Answer
    errors: tuple[HTTPStatus, ...] = ()  # beyond those every route gives (tools/openapi.py)
    description: str | None = None
    path_model: str | None = None
    query_model: str | None = None
    header_model: str | None = None
    body_model: str | None = None
    # Signed by the provider: its headers and body are read by the function, only once the signature holds.
    signed: bool = False


PLACE_ORDER = Operation(
    method="POST",
    path="/orders",
    operation_id=PLACE_ORDER_ID,
    summary="Place an order",
    answer=Answer(
        HTTPStatus.CREATED,
        "The order, as placed (or as first placed under this key)",
        "OrderResponse",
        (GET_ORDER_ID, CANCEL_ORDER_ID),
    ),
    errors=(HTTPStatus.CONFLICT,),
    header_model="PlaceOrderHeaders",
    body_model="PlaceOrderRequest",
)
GET_ORDER = Operation(
    method="GET",
    path="/orders/{orderId}",
    operation_id=GET_ORDER_ID,
    summary="Get an order",
    answer=Answer(HTTPStatus.OK, "The order, as the read model shows it", "OrderResponse", (CANCEL_ORDER_ID,)),
    errors=(HTTPStatus.NOT_FOUND,),
    path_model="OrderPath",
)
LIST_ORDERS = Operation(
    method="GET",
    path="/orders",
    operation_id=LIST_ORDERS_ID,
    summary="List the caller's orders",
    answer=Answer(HTTPStatus.OK, "One page of the caller's orders, newest first", "OrderPage"),
    query_model="ListOrdersQuery",
)
CANCEL_ORDER = Operation(
    method="POST",
    path="/orders/{orderId}/cancel",
    operation_id=CANCEL_ORDER_ID,
    summary="Cancel an order",
    answer=Answer(
        HTTPStatus.OK,
        "The order, cancelled (or as it already was, if cancelled before)",
        "OrderResponse",
        (GET_ORDER_ID,),
    ),
    errors=(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
    path_model="OrderPath",
)
RECEIVE_PAYMENT_WEBHOOK = Operation(
    method="POST",
    path="/webhooks/payments",
    operation_id=RECEIVE_PAYMENT_WEBHOOK_ID,
    summary="Receive a payment provider webhook",
    description=(
        "Signed by the provider (see orders/webhook.py); queued for the payment-events consumer. "
        "The body is a PaymentWebhook, read only once the signature holds."
    ),
    answer=Answer(
        HTTPStatus.ACCEPTED, "Queued (again, for a redelivery): the provider can stop retrying", "WebhookReceipt"
    ),
    header_model="PaymentWebhookHeaders",
    body_model="PaymentWebhook",
    signed=True,
)
OPERATIONS = (PLACE_ORDER, GET_ORDER, LIST_ORDERS, CANCEL_ORDER, RECEIVE_PAYMENT_WEBHOOK)
