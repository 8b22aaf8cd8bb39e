"""The payment provider's webhook: how a delivery is signed, how it is checked, and what it says.

The contract (the README quotes it)::

    POST /webhooks/payments
    Webhook-Timestamp: <unix seconds>
    Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

    {"id": "evt_...", "type": "payment.succeeded" | "payment.failed", "created": <unix seconds>,
     "data": {"orderId": "...", "paymentId": "pay_...", "amount": <int minor units>, "currency": "USD",
              "failureReason": "..."}}        # failureReason: payment.failed only, optional

The secret is shared with the provider (PaymentWebhookSecret). A delivery is accepted only when
its signature matches the raw body and its timestamp is within TOLERANCE_SECONDS of our clock,
so a captured delivery cannot be replayed later. The provider retries a delivery with the same
`id`; the queue drops a repeat within its 5-minute deduplication window, and the consumer
changes nothing twice for a later one.

This module holds what both ends need without pydantic: the API function checks the signature with
orders.webhook_signature (re-exported here) and the body against the schema orders.webhook_models
generates (which openapi.json describes); the consumer reads the queued body, which that check let
through, with `read_delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from orders.order import ORDER_ID_PATTERN
from orders.webhook_signature import (  # re-exported: the contract's one module for its readers
    SIGNATURE_HEADER,
    SIGNATURE_SCHEME,
    TIMESTAMP_HEADER,
    TOLERANCE_SECONDS,
    sign,
    verify,
)
from orders.wire import Rule, read_json

__all__ = [
    "CURRENCY_PATTERN",
    "PAYMENT_ID_PATTERN",
    "SIGNATURE_HEADER",
    "SIGNATURE_SCHEME",
    "TIMESTAMP_HEADER",
    "TOLERANCE_SECONDS",
    "WEBHOOK_ID_PATTERN",
    "PaymentNotice",
    "PaymentWebhookType",
    "WebhookDelivery",
    "read_delivery",
    "sign",
    "verify",
]

# The body's identifiers, for both readers of it (orders.webhook_models carries them into openapi.json).
WEBHOOK_ID_PATTERN = r"^evt_[A-Za-z0-9_-]{1,124}$"  # also the queue's deduplication id
PAYMENT_ID_PATTERN = r"^pay_[A-Za-z0-9]{1,100}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"  # ISO 4217


class PaymentWebhookType(StrEnum):
    SUCCEEDED = "payment.succeeded"
    FAILED = "payment.failed"


@dataclass(frozen=True)
class PaymentNotice:
    """A delivery's `data`: how one payment of one order ended."""

    order_id: Annotated[str, Rule(pattern=ORDER_ID_PATTERN)]  # also the queue's message group id
    payment_id: Annotated[str, Rule(pattern=PAYMENT_ID_PATTERN)]
    amount: Annotated[int, Rule(minimum=0)]  # minor units
    currency: Annotated[str, Rule(pattern=CURRENCY_PATTERN)]
    failure_reason: Annotated[str, Rule(min_length=1, max_length=1000)] | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery's body, as the payment-events consumer reads it from the queue."""

    id: Annotated[str, Rule(pattern=WEBHOOK_ID_PATTERN)]
    type: PaymentWebhookType
    created: Annotated[int, Rule(minimum=0)]
    data: PaymentNotice


def read_delivery(body: str) -> WebhookDelivery:
    """The queued delivery; raises ContractViolation for a body the receiving API function would have refused."""
    return read_json(WebhookDelivery, body)
