"""The sample events under events/, the same files `sam local invoke -e` takes."""

from __future__ import annotations

import json
from typing import Any

from local_cloud.template import ROOT

EVENTS = ROOT / "events"


def sample_event(path: str) -> dict[str, Any]:
    """A fresh copy of one event file, e.g. sample_event("place_order/valid.json")."""
    event: dict[str, Any] = json.loads((EVENTS / path).read_text())
    return event
