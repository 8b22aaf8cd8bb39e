"""Shipping: the carrier behind a small interface, and the sandbox that stands in for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from orders.errors import ShipmentFailed


@dataclass(frozen=True)
class Shipment:
    tracking_id: str
    carrier: str


class ShippingProvider(Protocol):
    def arrange(self, order_id: str, address: dict[str, Any], lines: list[dict[str, Any]]) -> Shipment:
        """Book the shipment; idempotent per order id. Raises ShipmentFailed when it cannot be shipped."""
        ...


# Documented in the README: the addresses the sandbox refuses.
SANDBOX_UNSHIPPABLE_COUNTRIES = frozenset({"AQ"})  # Antarctica
SANDBOX_UNSHIPPABLE_POSTAL_CODE = "00000"


class SandboxShippingProvider:
    """A deterministic stand-in for a carrier: same order, same tracking id; no network.

    Refuses addresses in Antarctica (country AQ) or with postal code 00000. Replace it with your carrier's client.
    """

    def arrange(self, order_id: str, address: dict[str, Any], lines: list[dict[str, Any]]) -> Shipment:
        del lines  # the sandbox ships any parcel
        if address.get("country") in SANDBOX_UNSHIPPABLE_COUNTRIES:
            raise ShipmentFailed(f"the carrier does not deliver to {address['country']}")
        if address.get("postalCode") == SANDBOX_UNSHIPPABLE_POSTAL_CODE:
            raise ShipmentFailed(f"the carrier cannot deliver to postal code {SANDBOX_UNSHIPPABLE_POSTAL_CODE}")
        return Shipment(
            tracking_id="SBX" + hashlib.sha256(order_id.encode()).hexdigest()[:12].upper(), carrier="sandbox"
        )
