"""What this project hands `sam local` and reads back from it: the template as JSON, the answer, the cold init.

scripts/sam_local.py runs SAM (`make sam-local`, `make invoke`, `make start-api`) with these.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

# The Lambda runtime emulator's line at the end of an invocation; Init Duration only after a cold start.
REPORT_INIT_DURATION = re.compile(r"^REPORT RequestId: .*?\bInit Duration: (?P<ms>\d+(?:\.\d+)?) ms", re.MULTILINE)


def json_template(built: Path) -> Path:
    """The built template as JSON beside it: SAM parses JSON with json.loads, YAML in pure Python.

    About 0.3 s of CPU less per `sam local invoke` (4 paired runs: CPU 1.67 s against 1.96 s).
    """
    target = built.with_suffix(".json")
    if not target.exists() or target.stat().st_mtime < built.stat().st_mtime:
        target.write_text(json.dumps(cfn_yaml.load(str(built))))
    return target


def sam_response(stdout: str) -> tuple[Any, str | None]:
    """The handler's answer as `sam local invoke` prints it (last stdout line), and its error type if it raised."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None, None
    try:
        response = json.loads(lines[-1])
    except ValueError:
        return lines[-1], None
    raised = response.get("errorType") if isinstance(response, dict) else None
    return response, raised


def init_duration_ms(stderr: str) -> float | None:
    """The Init Duration of the emulator's REPORT line (`sam local invoke` passes the container's log to stderr).

    None when the invocation printed no such line (a warm container, or one that never reported).
    """
    match = REPORT_INIT_DURATION.search(stderr)
    return float(match["ms"]) if match else None
