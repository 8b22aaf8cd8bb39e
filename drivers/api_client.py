"""A client of the orders API over HTTP, as a shop's front end would call it.

The demo, the end-to-end tests and the benchmark drive the local cloud through this (and the payment
provider's webhook, drivers.payment_provider) and nothing else: what they prove, they prove through
the API a real client has.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from drivers import polling

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
        """Poll GET /orders/{id} until its status is one of `statuses` (the read model is eventually consistent),
        as often as drivers.polling says."""
        answer = self.order(order_id)
        for pause in polling.pauses(timeout_seconds):
            if answer.status == 200 and answer.body["status"] in statuses:
                return answer
            time.sleep(pause)
            answer = self.order(order_id)
        raise TimeoutError(f"order {order_id} not in {sorted(statuses)} after {timeout_seconds}s: {answer}")
