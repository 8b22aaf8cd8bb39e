"""The README's commands for looking at local state, run as written against a running local cloud.

The commands are read from README.md itself (the block that exports AWS_ENDPOINT_URL), so the test
follows the README rather than a copy of it. Only the ports change: the README shows the defaults,
and the local cloud here runs on free ones. Each command runs in a shell that has nothing from this
process's AWS settings, nor a user's ~/.aws, so that the README's own exports must be enough.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_cloud.client import Customer
from local_cloud.server import LocalCloud, running_local_cloud
from local_cloud.timeline import Timeline
from tests.support import sample_event

pytestmark = pytest.mark.local_cloud

ROOT = Path(__file__).resolve().parents[1]
README_AWS = "127.0.0.1:5000"  # the default ports the README's commands use
README_CONTROL = "127.0.0.1:3001"
WAIT_SECONDS = 30.0


def readme_block(containing: str) -> list[str]:
    """The commands of the README's one bash block that contains `containing`, continuation lines joined."""
    blocks = re.findall(r"^```bash\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.MULTILINE | re.DOTALL)
    [block] = [block for block in blocks if containing in block]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def aws_cli() -> str:
    """The AWS CLI `make install` puts in .venv (requirements-dev.txt), or else the one on the PATH."""
    for candidate in (str(Path(sys.executable).parent / "aws"), shutil.which("aws")):
        # A pyenv shim exists on the PATH whether or not the active Python has the CLI: try it.
        if candidate and os.access(candidate, os.X_OK) and _runs([candidate, "--version"]):
            return candidate
    pytest.skip("no working AWS CLI: `make install` installs the one requirements-dev.txt pins")


def _runs(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0  # noqa: S603 - our own paths


@pytest.fixture(scope="module")
def local() -> Iterator[LocalCloud]:
    with running_local_cloud(0, 0, 0, timeline=Timeline(out=None), watch_code=False) as cloud:
        yield cloud


def run_in_shell(commands: str, local: LocalCloud, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`commands` in bash, with the README's ports replaced by the local cloud's and no AWS settings inherited."""
    aws_port = local.aws_endpoint.removeprefix("http://")
    control_port = local.control_url.removeprefix("http://")
    script = commands.replace(README_AWS, aws_port).replace(README_CONTROL, control_port)
    shell = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    shell |= {
        "PATH": f"{Path(aws_cli()).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),  # no ~/.aws of the user's
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }
    return subprocess.run(  # noqa: S603 - the README's own commands, on a local cloud bound to 127.0.0.1
        ["bash", "-euo", "pipefail", "-c", script],  # noqa: S607 - bash from PATH, as a reader's shell
        env=shell,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def placed_and_started(local: LocalCloud) -> str:
    """An order of Alice's, once the read model shows it and its fulfilment has started."""
    alice = Customer(local.api_url, local.token("alice"))
    answer = alice.place_order(json.loads(sample_event("place_order/valid.json")["body"]), str(uuid.uuid4()))
    assert answer.status == 201, answer
    order_id = str(answer.body["orderId"])
    alice.wait_for(order_id, {"INVENTORY_RESERVED", "AWAITING_PAYMENT"})
    return order_id


# What each command the README shows must show, once the order is placed: the local cloud is eventually
# consistent, as AWS is, so each command runs again until its check holds or time is up.
CHECKS: dict[str, Callable[[Any, str], bool]] = {
    "aws dynamodb list-tables": lambda shown, _: "OrdersTable" in shown["TableNames"],
    "--table-name OrdersTable": lambda shown, order_id: order_id in {item["orderId"]["S"] for item in shown["Items"]},
    "aws stepfunctions list-executions": lambda shown, _: bool(shown["executions"]),
    "/moto-api/data.json": lambda shown, _: {"dynamodb", "stepfunctions"} <= set(shown),
}


def test_the_readme_commands_show_the_local_state(local: LocalCloud, tmp_path: Path) -> None:
    [export, *commands] = readme_block("export AWS_ENDPOINT_URL=")
    assert export.startswith("export "), export
    assert README_AWS in export, "the README's endpoint is not the default port this test replaces"
    order_id = placed_and_started(local)
    checked: set[str | None] = set()
    for command in commands:
        check = next((key for key in CHECKS if key in command), None)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            result = run_in_shell(f"{export}\n{command}", local, tmp_path)
            assert result.returncode == 0, f"{command}\nexit {result.returncode}: {result.stderr}"
            assert result.stdout.strip(), f"{command} printed nothing"
            if check is None or CHECKS[check](json.loads(result.stdout), order_id):
                break
            assert time.monotonic() < deadline, f"{command} did not show it within {WAIT_SECONDS}s:\n{result.stdout}"
            time.sleep(0.2)
        checked.add(check)
    # A check with no command means the README dropped a command: say so here, and update CHECKS.
    assert set(CHECKS) <= checked, f"the README no longer shows {sorted(set(CHECKS) - checked)}"


def test_the_region_in_aws_region_alone_is_not_enough(local: LocalCloud, tmp_path: Path) -> None:
    """Why the README exports AWS_DEFAULT_REGION: the AWS CLI v1 ignores AWS_REGION."""
    [export, *_] = readme_block("export AWS_ENDPOINT_URL=")
    regionless = export.replace("AWS_DEFAULT_REGION=", "AWS_REGION=")
    result = run_in_shell(f"{regionless}\naws dynamodb list-tables", local, tmp_path)
    assert result.returncode != 0
    assert "region" in result.stderr.lower(), result.stderr
