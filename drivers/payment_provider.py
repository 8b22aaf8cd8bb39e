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

from drivers import polling
from drivers.api_client import Answer, request
from orders.payments import PaymentLedger, sandbox_payment_id
from orders.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, PaymentWebhookType, sign


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
        """Until the saga has asked for this order's payment: its payments table looked at as drivers.polling says."""
        for pause in polling.pauses(timeout_seconds):
            if self._ledger.get(order_id) is not None:
                return
            time.sleep(pause)
        raise TimeoutError(f"no payment requested for order {order_id} after {timeout_seconds}s")

    def send(self, order_id: str, outcome: PaymentWebhookType, reason: str = "card expired") -> Answer:
        """The signed webhook, as the provider sends it once the payment has ended."""
        self.wait_for_request(order_id)
        payment = self._ledger.get(order_id)
        assert payment is not None  # noqa: S101 - just waited for it
        delivery = signed_delivery(self._secret, order_id, outcome, payment.amount, payment.currency, reason=reason)
        return request(
            "POST", self._webhook_url, delivery.body, {"Content-Type": "application/json", **delivery.headers}
        )
