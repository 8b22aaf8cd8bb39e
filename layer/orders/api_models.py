"""The API's request bodies, parameters and answers: the one source of openapi.json and api_schemas.json.

Build and test time only: `make openapi` (tools/openapi.py) generates from these the JSON Schemas the
functions check requests against (orders.api_validation), so no function imports pydantic.
orders.api_operations names, per operation, which model each place of a request and its answer follow.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from orders.order import ORDER_ID_PATTERN

Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$", examples=["SKU-RED-MUG"])]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error, not ignored.

    Only the wire's names are read: `shipping_address` in a body is an unknown field, not an alias.
    """

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=False, extra="forbid", frozen=True)


class LineItem(ApiModel):
    sku: Sku
    # Strict: "1", 1.0 and true are not quantities.
    quantity: Annotated[int, Field(strict=True, ge=1, le=100)]


class ShippingAddress(ApiModel):
    name: Text
    line1: Text
    line2: Text | None = None
    city: Text
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


class PlaceOrderRequest(ApiModel):
    items: Annotated[list[LineItem], Field(min_length=1, max_length=50)]
    shipping_address: ShippingAddress
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217", examples=["EUR"])]
    payment_token: Annotated[
        str | None,
        Field(
            pattern=r"^tok_[a-z0-9_]{1,60}$",
            description="The card token your payment provider issued; the sandbox declines tok_declined",
            examples=["tok_visa"],
        ),
    ] = None


class RequestParameters(ApiModel):
    """A place's parameters (path, query or headers): any others there are not ours to refuse."""

    model_config = ConfigDict(extra="ignore")


class PlaceOrderHeaders(RequestParameters):
    idempotency_key: Annotated[
        str, Field(alias="Idempotency-Key", min_length=1, max_length=128, description="Names one order: retry with it")
    ]


class OrderPath(RequestParameters):
    order_id: Annotated[str, Field(pattern=ORDER_ID_PATTERN, description="The orderId POST /orders answered")]


class ListOrdersQuery(RequestParameters):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    next_token: Annotated[str | None, Field(max_length=1024)] = None


class OrderResponse(ApiModel):
    model_config = ConfigDict(extra="ignore")

    order_id: str
    customer_id: str
    status: str
    version: int
    items: list[LineItem]
    shipping_address: ShippingAddress
    currency: str
    created_at: str
    updated_at: str
    reason: str | None = None
    amount: Annotated[int | None, Field(description="Total in minor units, once inventory is reserved")] = None
    tracking_id: str | None = None


class OrderPage(ApiModel):
    orders: list[OrderResponse]
    next_token: str | None = None


class ErrorResponse(ApiModel):
    message: str
    errors: list[dict[str, str]] | None = None
