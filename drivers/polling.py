"""How the drivers wait for the cloud: a quick look at first, then less often.

Each look is a request to the (local) cloud. Looking every 50 ms for as long as it takes would send a
cloud that is behind 20 requests a second for every order waiting, which puts it further behind (the
benchmark's 8 clients polled about 160 GETs a second whatever the throughput). A quiet cloud answers
within the eager half second, so its latency is read to 50 ms.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

EAGER_PAUSE_SECONDS = 0.05  # between looks at first
EAGER_SECONDS = 0.5  # for this long
SLOWEST_PAUSE_SECONDS = 0.25  # the longest pause between looks after that


def pauses(timeout_seconds: float) -> Iterator[float]:
    """The pause before each next look, until `timeout_seconds` have passed since the first; then it ends."""
    started = time.monotonic()
    pause = EAGER_PAUSE_SECONDS
    while (waited := time.monotonic() - started) <= timeout_seconds:
        if waited > EAGER_SECONDS:
            pause = min(pause * 1.5, SLOWEST_PAUSE_SECONDS)
        yield pause
