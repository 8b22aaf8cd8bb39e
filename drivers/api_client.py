"""A client of the orders API over HTTP, as a shop's front end and its payment provider would call it.

The demo, the end-to-end tests and the benchmark drive the local cloud through this and nothing
else: what they prove, they prove through the API a real client has.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from orders.payments import PaymentLedger
from orders.webhook import PaymentWebhookType
from scripts.send_webhook import signed_delivery

FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "EXPIRED"})


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


def request(method: str, url: str, body: str | None = None, headers: dict[str, str] | None = None) -> Answer:
    data = body.encode() if body is not None else None
    call = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) URLs we build
    for name, value in (headers or {}).items():
        call.add_header(name, value)
    try:
        with urllib.request.urlopen(call, timeout=30) as response:  # noqa: S310 - as above
            return Answer(response.status, _json(response.read()))
    except urllib.error.HTTPError as error:
        return Answer(error.code, _json(error.read()))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


class Customer:
    """One signed-in customer of the API."""

    def __init__(self, api_url: str, token: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token

    def _headers(self, **extra: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **extra}
        if self.token is not None:
            headers["Authorization"] = self.token
        return headers

    def place_order(self, order: dict[str, Any], idempotency_key: str | None = None) -> Answer:
        key = idempotency_key or str(uuid.uuid4())
        return request("POST", f"{self.api_url}/orders", json.dumps(order), self._headers(**{"Idempotency-Key": key}))

    def order(self, order_id: str) -> Answer:
        return request("GET", f"{self.api_url}/orders/{order_id}", headers=self._headers())

    def orders(self) -> Answer:
        return request("GET", f"{self.api_url}/orders", headers=self._headers())

    def cancel(self, order_id: str) -> Answer:
        return request("POST", f"{self.api_url}/orders/{order_id}/cancel", headers=self._headers())

    def wait_for(self, order_id: str, statuses: frozenset[str] | set[str], timeout_seconds: float = 30) -> Answer:
        """Poll GET /orders/{id} until its status is one of `statuses` (the read model is eventually consistent)."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            answer = self.order(order_id)
            if answer.status == 200 and answer.body["status"] in statuses:
                return answer
            if time.monotonic() > deadline:
                raise TimeoutError(f"order {order_id} not in {sorted(statuses)} after {timeout_seconds}s: {answer}")
            time.sleep(0.05)


class PaymentProvider:
    """The sandbox provider's side: it knows the webhook secret and each payment it was asked for."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self._webhook_url = outputs["PaymentWebhookUrl"]
        secret_arn = outputs["PaymentWebhookSecretArn"]
        self._secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        self._ledger = PaymentLedger(boto3.client("dynamodb"), outputs["PaymentsTableName"])

    def wait_for_request(self, order_id: str, timeout_seconds: float = 30) -> None:
        """Until the saga has asked for this order's payment."""
        deadline = time.monotonic() + timeout_seconds
        while self._ledger.get(order_id) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no payment requested for order {order_id} after {timeout_seconds}s")
            time.sleep(0.05)

    def send(self, order_id: str, outcome: PaymentWebhookType, reason: str = "card expired") -> Answer:
        """The signed webhook, as the provider sends it once the payment has ended."""
        self.wait_for_request(order_id)
        payment = self._ledger.get(order_id)
        assert payment is not None  # noqa: S101 - just waited for it
        delivery = signed_delivery(self._secret, order_id, outcome, payment.amount, payment.currency, reason=reason)
        return request(
            "POST", self._webhook_url, delivery.body, {"Content-Type": "application/json", **delivery.headers}
        )
