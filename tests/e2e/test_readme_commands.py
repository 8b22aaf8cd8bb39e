"""The README's commands for a running local cloud, run as a reader runs them.

The commands for looking at local state are read from README.md itself (the block that exports
AWS_ENDPOINT_URL), so the test follows the README rather than a copy of it. Only the ports change:
the README shows the defaults, and the local cloud here runs on free ones. Each command runs in a
shell that has nothing from this process's AWS settings, nor a user's ~/.aws, so that the README's
own exports must be enough. `make token` and `make fire` run through make, as the README shows them,
and must fail in one line, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from drivers.api_client import Customer
from local_cloud.server import LocalCloud, running_local_cloud
from local_cloud.timeline import Timeline
from tests.support import sample_event

pytestmark = pytest.mark.local_cloud

ROOT = Path(__file__).resolve().parents[2]
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


def make(target: str, control_url: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """`make -s <target> NAME=value ...` against the control endpoint at `control_url`."""
    port = control_url.rsplit(":", 1)[1]
    assignments = [f"{name}={value}" for name, value in variables.items()]
    # -o install: the tests run inside the installed .venv; a newer requirements file must not reinstall it here.
    return subprocess.run(  # noqa: S603 - the project's own Makefile
        ["make", "-s", "-o", "install", target, *assignments],  # noqa: S607 - make from PATH, as the README runs it
        cwd=ROOT,
        env=_as_a_user_runs_it(os.environ) | {"LOCAL_CONTROL_PORT": port},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _as_a_user_runs_it(environment: Mapping[str, str]) -> dict[str, str]:
    """The environment without an outer make's (`make test` runs pytest): its make would say `make[1]`."""
    return {name: value for name, value in environment.items() if name not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}}


def our_lines(stderr: str) -> list[str]:
    """What the command itself printed on stderr, without make's own closing `make: *** ... Error 1`."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("make: ***")]


def test_make_token_prints_a_token_that_the_api_accepts(local: LocalCloud) -> None:
    result = make("token", local.control_url, CUSTOMER="bob")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2, token  # a JWT: header.payload.signature
    assert Customer(local.api_url, token).orders().status == 200


def test_make_token_for_an_unknown_customer_says_so_in_one_line(local: LocalCloud) -> None:
    result = make("token", local.control_url, CUSTOMER="carol")
    assert result.returncode != 0
    assert result.stdout == ""
    [line] = our_lines(result.stderr)
    assert "the local cloud answered 404" in line, line
    assert "/token/carol" in line, line


def test_make_token_without_a_local_cloud_says_so_in_one_line() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, and nobody listens on now
        probe.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = make("token", nobody, CUSTOMER="alice")
    assert result.returncode != 0
    [line] = our_lines(result.stderr)
    assert line.startswith(f"no local cloud answers at {nobody}"), line
    assert "make local" in line, line


def test_make_fire_fires_a_schedule_of_the_template(local: LocalCloud) -> None:
    [schedule, *_] = sorted(local.schedules.names)
    result = make("fire", local.control_url, SCHEDULE=schedule)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fired"] == schedule


def test_make_fire_with_a_wrong_name_shows_the_servers_message(local: LocalCloud) -> None:
    result = make("fire", local.control_url, SCHEDULE="NoSuchSchedule")
    assert result.returncode != 0
    [line] = our_lines(result.stderr)
    assert "no schedule NoSuchSchedule; there are" in line, line
    assert all(name in line for name in local.schedules.names), line  # the server lists what there is
