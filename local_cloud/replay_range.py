"""Replay a time range of the bus's archive onto the bus, with EventBridge's StartReplay.

moto (5.2) has StartReplay, DescribeReplay and ListReplays, and like EventBridge it tags each
replayed event with `replay-name` (which keeps it out of the archive again) and gives it a new
envelope id. It differs in one way that matters here: it replays every archived event, whatever
EventStartTime and EventEndTime say. `replays_keep_their_time_range` makes moto's replay
honour the range, as EventBridge does, and reports each replayed event on the timeline.
The consumers must dedupe: a replayed event keeps its detail, and so its event id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from moto.events.models import Archive, Replay

from local_cloud.timeline import Timeline, order_id_in

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

_FINAL_STATES = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


@contextmanager
def replays_keep_their_time_range(timeline: Timeline) -> Iterator[None]:
    replay_events = Replay.replay_events

    def replaying(replay: Replay, archive: Archive) -> None:
        start, end = float(replay.event_start_time), float(replay.event_end_time)
        in_range = [event for event in archive.events if start <= float(event["time"]) <= end]
        for event in in_range:
            detail = event.get("detail", {})
            timeline.add(
                "bus",
                f"{event.get('detail-type')} replayed by {replay.name}",
                order_id_in(detail),
                data={"replay": replay.name, "detailType": event.get("detail-type"), "detail": detail},
            )
        replay_events(replay, SimpleNamespace(events=in_range))  # type: ignore[arg-type]  # it reads .events only

    Replay.replay_events = replaying  # type: ignore[method-assign,assignment]  # the range applied, then moto's own replay
    try:
        yield
    finally:
        Replay.replay_events = replay_events  # type: ignore[method-assign]


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
