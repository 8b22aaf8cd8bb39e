"""The local cloud can be started again in the same process, and each start is a fresh account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drivers.api_client import Customer
from local_cloud.server import running_local_cloud
from local_cloud.timeline import Timeline
from tests.support import sample_event

pytestmark = pytest.mark.local_cloud

ORDER: dict[str, Any] = json.loads(sample_event("place_order/valid.json")["body"])


def test_a_second_local_cloud_starts_empty() -> None:
    for start in ("first", "second"):
        with running_local_cloud(0, 0, 0, timeline=Timeline(out=None), watch_code=False) as local:
            alice = Customer(local.api_url, local.token("alice"))

            listed = alice.orders()
            placed = alice.place_order({**ORDER, "paymentToken": "tok_declined"})

            assert listed.status == 200, (start, listed)
            assert listed.body["orders"] == [], start  # nothing left over from the first
            assert placed.status == 201, (start, placed)
