"""The cold inits `make sam-local` saw, kept for `make bench`: each function's Init Duration as the emulator prints it.

Every `sam local invoke` of `make sam-local` starts a fresh container of the architecture this host runs,
so each is a cold start and the Lambda runtime emulator's REPORT line carries an `Init Duration`. That
emulator's Init Duration leaves the handler's import out (tools.sam_local.EmulatorReport says why), so
the cold invocation's Duration, which holds the import, is kept beside it. scripts/sam_local.py records
both after a full run; scripts/bench.py shows them beside its ratios with the record's age and commit,
so that a figure older than the code is seen as such.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from local_cloud.template import ROOT

RECORD = ROOT / ".bench" / "sam-local-init-durations.json"


def _git(*arguments: str) -> str:
    return subprocess.run(  # noqa: S603 - git with this module's own arguments
        ["git", *arguments],  # noqa: S607 - git from PATH, as a user runs it
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def source_revision() -> str:
    """The commit checked out, with "+changes" when tracked files differ from it; "unknown" outside git."""
    try:
        head = _git("rev-parse", "--short=12", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if changed else head


@dataclass(frozen=True)
class InitDurations:
    measured_at: str  # ISO 8601, UTC
    revision: str  # source_revision() when measured
    architecture: str  # the containers' (this host's)
    image: str  # the base image the containers ran: the real one or the stand-in, and which
    load_average: float  # the host's 1-minute load when the run began: a busy host inflates every figure
    init_ms: dict[str, list[float]]  # logical id -> the Init Duration of each of its cold starts
    cold_invoke_ms: dict[str, list[float]]  # logical id -> the Duration of each cold invocation (import included)

    def write(self, path: Path = RECORD) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def read(cls, path: Path = RECORD) -> InitDurations | None:
        """The record `make sam-local` left, or None when it has not run here."""
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text()))

    def median_init_ms(self, function: str) -> float | None:
        return _median(self.init_ms.get(function))

    def median_cold_invoke_ms(self, function: str) -> float | None:
        return _median(self.cold_invoke_ms.get(function))

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - datetime.fromisoformat(self.measured_at)


def _median(figures: list[float] | None) -> float | None:
    return statistics.median(figures) if figures else None
