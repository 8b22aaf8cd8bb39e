"""The sandbox payment provider's side: the signed webhook it sends when a payment ends.

The provider knows the webhook secret and each payment it was asked for (the payments table); the
request it sends is signed with the orders layer's own `sign`, so the API checks what AWS would check.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from drivers.api_client import Answer, request
from orders.payments import PaymentLedger, sandbox_payment_id
from orders.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, PaymentWebhookType, sign

WATCH_SECONDS = 0.05  # how often the provider looks for a payment request at first
WATCH_EAGER_SECONDS = 0.5  # for this long: a quiet cloud asks within it
WATCH_SLOW_SECONDS = 0.25  # the longest pause between looks after that


@dataclass(frozen=True)
class Delivery:
    """One signed webhook request: the provider's event id, its headers and its raw body."""

    event_id: str
    headers: dict[str, str]
    body: str


def signed_delivery(
    secret: str,
    order_id: str,
    outcome: PaymentWebhookType,
    amount: int,
    currency: str,
    *,
    reason: str | None = None,
    event_id: str | None = None,
    now: int | None = None,
) -> Delivery:
    """The request the provider sends when `order_id`'s sandbox payment ends with `outcome`."""
    created = int(time.time()) if now is None else now
    event_id = event_id or f"evt_{uuid.uuid4().hex}"
    data: dict[str, Any] = {
        "orderId": order_id,
        "paymentId": sandbox_payment_id(order_id),
        "amount": amount,
        "currency": currency,
    }
    if outcome is PaymentWebhookType.FAILED and reason:
        data["failureReason"] = reason
    body = json.dumps({"id": event_id, "type": outcome.value, "created": created, "data": data})
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(created),
        SIGNATURE_HEADER: sign(secret, created, body),
    }
    return Delivery(event_id, headers, body)


class PaymentProvider:
    """The sandbox provider's side: it knows the webhook secret and each payment it was asked for."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self._webhook_url = outputs["PaymentWebhookUrl"]
        secret_arn = outputs["PaymentWebhookSecretArn"]
        self._secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        self._ledger = PaymentLedger(boto3.client("dynamodb"), outputs["PaymentsTableName"])

    def wait_for_request(self, order_id: str, timeout_seconds: float = 30) -> None:
        """Until the saga has asked for this order's payment.

        The table is looked at every WATCH_SECONDS for the first WATCH_EAGER_SECONDS, then less often, up to
        every WATCH_SLOW_SECONDS: each look is a GetItem on the (local) cloud, and a cloud that is behind
        would otherwise get 20 of them a second for every order waiting, which puts it further behind.
        """
        started = time.monotonic()
        pause = WATCH_SECONDS
        while self._ledger.get(order_id) is None:
            waited = time.monotonic() - started
            if waited > timeout_seconds:
                raise TimeoutError(f"no payment requested for order {order_id} after {timeout_seconds}s")
            if waited > WATCH_EAGER_SECONDS:
                pause = min(pause * 1.5, WATCH_SLOW_SECONDS)
            time.sleep(pause)

    def send(self, order_id: str, outcome: PaymentWebhookType, reason: str = "card expired") -> Answer:
        """The signed webhook, as the provider sends it once the payment has ended."""
        self.wait_for_request(order_id)
        payment = self._ledger.get(order_id)
        assert payment is not None  # noqa: S101 - just waited for it
        delivery = signed_delivery(self._secret, order_id, outcome, payment.amount, payment.currency, reason=reason)
        return request(
            "POST", self._webhook_url, delivery.body, {"Content-Type": "application/json", **delivery.headers}
        )
