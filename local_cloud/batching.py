"""MaximumBatchingWindowInSeconds, the one rule every local event source mapping applies.

Lambda gathers records for up to the window before it invokes, unless the batch fills first. Locally the
wait is opt-in per mapping (`wait_for_batching_window`): a batch only ever goes later for it, never differs
otherwise, so the tests and `make local` deliver at once by default and the waiting is tested on its own,
with the mapping's injectable `clock`.
"""

from __future__ import annotations


def keeps_gathering(*, wait: bool, size: int, batch_size: int, gathered_seconds: float, window_seconds: float) -> bool:
    """Whether a batch of `size` records, gathered for `gathered_seconds`, waits for more instead of going now."""
    return wait and size < batch_size and gathered_seconds < window_seconds
