"""EventBridge's replays on moto keep to their time range, as EventBridge's do (a replay is started by drivers.replay).

moto (5.2) has StartReplay, DescribeReplay and ListReplays, and like EventBridge it tags each
replayed event with `replay-name` (which keeps it out of the archive again) and gives it a new
envelope id. It differs in one way that matters here: it replays every archived event, whatever
EventStartTime and EventEndTime say. `replays_keep_their_time_range` makes moto's replay
honour the range, as EventBridge does, and reports each replayed event on the timeline.
The consumers must dedupe: a replayed event keeps its detail, and so its event id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from moto.events.models import Archive, Replay

from local_cloud.timeline import Timeline, order_id_in


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
