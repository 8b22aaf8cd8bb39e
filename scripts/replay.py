"""`make replay FROM=<time> [TO=<time>]`: replay the bus archive's events of that range onto the bus.

Times are ISO 8601 (2026-01-31T09:00:00Z); TO defaults to now. Without --stack it replays on the
running local cloud, with --stack on that deployed stack's archive. The consumers dedupe by
event id, so a replay must leave the analytics counters as they were.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import boto3

from drivers.replay import replay
from scripts.stack_outputs import local_outputs, stack_resource

ARCHIVE = "OrdersEventArchive"  # the template's logical id; also the archive's name on the local cloud


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.replay", description=__doc__)
    parser.add_argument("--from", dest="start", required=True, type=_instant, help="ISO 8601; UTC when no offset")
    parser.add_argument("--to", dest="end", type=_instant, default=None, help="ISO 8601 (default: now)")
    parser.add_argument("--stack", help="a deployed stack (default: the local cloud)")
    args = parser.parse_args(argv)
    if not args.stack:
        local_outputs()  # points boto3 at the local cloud's moto
    archive = stack_resource(args.stack, ARCHIVE) if args.stack else ARCHIVE
    # EventBridge takes minutes to replay; the local cloud replays before StartReplay answers.
    described = replay(boto3.client("events"), archive, args.start, args.end or datetime.now(UTC), wait_seconds=900)
    print(
        f"{described['ReplayName']}: {described['State']}"
        f" ({described['EventStartTime']} .. {described['EventEndTime']}) onto {described['Destination']['Arn']}"
    )
    return 0 if described["State"] == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
