"""The payment webhook's body as the API function validates it and openapi.json describes it.

The contract, the signature check and the consumer's plain reader are in orders.webhook.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from orders.api_models import ApiModel
from orders.order import ORDER_ID_PATTERN
from orders.webhook import PAYMENT_ID_PATTERN, WEBHOOK_ID_PATTERN, PaymentWebhookType


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


class WebhookReceipt(ApiModel):
    """The 202 answer: the delivery is queued; the provider can stop retrying it."""

    received: bool
    id: str
