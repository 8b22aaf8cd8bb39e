"""The payment webhook's body and headers as openapi.json describes them and api_schemas.json checks them.

Build and test time only, like orders.api_models. The contract, the signature check and the consumer's
plain reader are in orders.webhook.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from orders.api_models import ApiModel, RequestParameters
from orders.order import ORDER_ID_PATTERN
from orders.webhook import (
    PAYMENT_ID_PATTERN,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_ID_PATTERN,
    PaymentWebhookType,
)


class WebhookModel(ApiModel):
    # The provider's payload grows over time: a field we do not know must not bounce its deliveries.
    model_config = ConfigDict(extra="ignore")


class PaymentWebhookData(WebhookModel):
    order_id: Annotated[str, Field(pattern=ORDER_ID_PATTERN)]  # also the queue's message group id
    payment_id: Annotated[str, Field(pattern=PAYMENT_ID_PATTERN)]
    amount: Annotated[int, Field(strict=True, ge=0, description="Minor units (cents)")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
    failure_reason: Annotated[str | None, Field(min_length=1, max_length=1000)] = None


class PaymentWebhook(WebhookModel):
    """One delivery's body: how one payment ended."""

    id: Annotated[str, Field(pattern=WEBHOOK_ID_PATTERN)]  # also the queue's deduplication id
    type: PaymentWebhookType
    created: Annotated[int, Field(strict=True, ge=0)]
    data: PaymentWebhookData


class PaymentWebhookHeaders(RequestParameters):
    """Required: orders.webhook.verify refuses a delivery without them (401, as any bad signature)."""

    timestamp: Annotated[str, Field(alias=TIMESTAMP_HEADER, description="Unix seconds")]
    signature: Annotated[str, Field(alias=SIGNATURE_HEADER, description='v1=<hex HMAC-SHA256 of "<timestamp>.<body>">')]


class WebhookReceipt(ApiModel):
    """The 202 answer: the delivery is queued; the provider can stop retrying it."""

    received: bool
    id: str
