"""The API's request and response bodies: validated at the edge, described in openapi.json."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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
