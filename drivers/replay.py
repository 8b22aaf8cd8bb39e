"""Replay a time range of the bus's archive onto the bus, with EventBridge's StartReplay.

It talks only to the EventBridge API, so it runs against the local cloud's moto and against AWS alike.
The consumers must dedupe: a replayed event keeps its detail, and so its event id.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

_FINAL_STATES = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


def replay(
    events: EventBridgeClient, archive_name: str, start: datetime, end: datetime, wait_seconds: float = 30
) -> dict[str, Any]:
    """Start a replay of the archive's events from `start` to `end` onto its own bus; its description once ended."""
    archive = events.describe_archive(ArchiveName=archive_name)
    name = f"{archive_name[:36]}-{uuid.uuid4().hex[:12]}"  # replay names are unique and at most 64 characters
    events.start_replay(
        ReplayName=name,
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=start,
        EventEndTime=end,
        Destination={"Arn": archive["EventSourceArn"]},
    )
    deadline = time.monotonic() + wait_seconds
    while True:
        described = dict(events.describe_replay(ReplayName=name))
        if described["State"] in _FINAL_STATES or time.monotonic() > deadline:
            described.pop("ResponseMetadata", None)
            return described
        time.sleep(0.2)
