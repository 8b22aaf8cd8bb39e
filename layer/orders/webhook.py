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

This module holds what both ends need without pydantic: the API function checks the signature here
and validates the body with orders.webhook_models (which openapi.json describes); the consumer
reads the queued body, which that check let through, with `read_delivery`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from orders.errors import InvalidSignature
from orders.order import ORDER_ID_PATTERN
from orders.wire import Rule, read_json

TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
SIGNATURE_SCHEME = "v1"
TOLERANCE_SECONDS = 300

# The body's identifiers, for both readers of it (orders.webhook_models carries them into openapi.json).
WEBHOOK_ID_PATTERN = r"^evt_[A-Za-z0-9_-]{1,124}$"  # also the queue's deduplication id
PAYMENT_ID_PATTERN = r"^pay_[A-Za-z0-9]{1,100}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"  # ISO 4217

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: int, body: str) -> str:
    """The Webhook-Signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify(secret: str, timestamp: str | None, signature: str | None, body: str, now: float | None = None) -> None:
    """Raise InvalidSignature unless `signature` signs `body` at `timestamp`, and `timestamp` is recent.

    Checks the raw body, before anything parses it: what is not signed is not read.
    """
    if not timestamp or not signature:
        raise InvalidSignature(f"the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise InvalidSignature(f"{TIMESTAMP_HEADER} must be a time in unix seconds")
    if not signature.startswith(f"{SIGNATURE_SCHEME}="):
        raise InvalidSignature(f"{SIGNATURE_HEADER} must be {SIGNATURE_SCHEME}=<hex HMAC-SHA256>")
    # The age before the digest: a stale delivery is refused as stale whatever secret signed it.
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is more than {TOLERANCE_SECONDS} seconds away from now")
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header may carry anything.
    if not hmac.compare_digest(sign(secret, int(timestamp), body).encode(), signature.encode()):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body")


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
