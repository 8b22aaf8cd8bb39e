"""SAM's own runner (`sam local invoke`, `sam local start-api`) against the local cloud, or a deployed stack.

  check      `make sam-local`: every sample event through `sam local invoke`, each on a fresh local
             cloud in the state its expectation names (the table tests/handlers/test_sample_events.py reads),
             then `sam local start-api` driven place -> get -> cancel with the local identity header.
  invoke     `make invoke`: one function and event, against the running `make local` (or --stack).
  start-api  `make start-api`: the API on :3003 through SAM, against `make local` (or --stack).

SAM reads the names and the endpoint from an --env-vars file (local_cloud.sam_env). Its own AWS
calls (the account-id look-up through STS) go to the local cloud's moto, so nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml
from moto.moto_api._internal.models import moto_api_backend

from drivers.sample_events import ALICES_ORDER_EVENT, EXPECTATIONS, function_of, sample_event
from drivers.seed import seed_inventory
from drivers.stacks import stack_physical_ids
from local_cloud.account import FAKE_CREDENTIALS
from local_cloud.cloud import Cloud
from local_cloud.lambda_bridge import invoke_in_process
from local_cloud.provision import provision
from local_cloud.rule_targets import deliver_rule_targets
from local_cloud.sam_env import ENV_VARS_FILE, env_vars, write_env_vars
from local_cloud.server import handler_logs_in_file, local_aws, running_local_cloud
from local_cloud.streams import StreamMapping
from local_cloud.template import ROOT, Template
from local_cloud.timeline import Timeline
from orders.api import LOCAL_CUSTOMER_HEADER
from orders.inventory import Inventory
from scripts.stack_outputs import local_outputs

# Powertools warns when a request emits no metric; a refused request rightly emits none (as in pyproject's pytest).
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
SAM = Path(sys.executable).parent / "sam"
# handler_logs_in_file sends this process's stdout (the in-process handlers' logs) to a file; reports go here.
say = partial(print, file=sys.__stdout__, flush=True)
INVOKE_TIMEOUT_SECONDS = 360  # longer than SAM's own wait (300 s) for another process's image build
API_START_SECONDS = 120
SAM_API_PORT = os.environ.get("SAM_API_PORT", "3003")


def host_architecture() -> str:
    """The Lambda architecture this machine runs natively: what `sam local` should build and run."""
    return "arm64" if platform.machine().lower() in {"arm64", "aarch64"} else "x86_64"


def json_template(built: Path) -> Path:
    """The built template as JSON beside it: SAM parses JSON with json.loads, YAML in pure Python.

    About 0.3 s of CPU less per `sam local invoke` (4 paired runs: CPU 1.67 s against 1.96 s).
    """
    target = built.with_suffix(".json")
    if not target.exists() or target.stat().st_mtime < built.stat().st_mtime:
        target.write_text(json.dumps(cfn_yaml.load(str(built))))
    return target


def clear_stale_sam_locks() -> None:
    """Drop SAM's image-build locks left by a SAM process that was killed: the next one would wait 300 s on each."""
    if not Path("/proc/self").exists():  # no /proc (macOS): cannot tell a live owner from a dead one
        return
    for lock in Path(tempfile.gettempdir()).glob("samcli_*.building.lock"):
        try:
            owner = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not Path(f"/proc/{owner}").exists():
            lock.unlink(missing_ok=True)
            lock.with_suffix(".status").unlink(missing_ok=True)


def require_docker() -> None:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode
    ):
        raise SystemExit(
            "sam local needs a running Docker engine and none answers here: run tools/docker_engine.sh"
            " (it installs and starts one where it can), or start Docker Desktop"
        )
    clear_stale_sam_locks()


@dataclass(frozen=True)
class Sam:
    """How this project runs `sam local`: its build for this host's architecture, and an env-vars file."""

    template: Path
    env_file: Path
    architecture: str = host_architecture()

    def command(self, subcommand: str, *arguments: str) -> list[str]:
        return [
            str(SAM),
            "local",
            subcommand,
            "--template",
            str(self.template),
            "--parameter-overrides",
            f"Architecture={self.architecture}",
            "--env-vars",
            str(self.env_file),
            "--skip-pull-image",  # tools: docker/lambda-python/build.sh has made the image available
            *arguments,
        ]


def sam_environment(endpoint: str | None) -> dict[str, str]:
    """SAM's own process environment: with a local endpoint, fake credentials and AWS (STS too) on loopback."""
    environment = dict(os.environ, SAM_CLI_TELEMETRY="0")
    if endpoint:
        environment |= FAKE_CREDENTIALS | {"AWS_ENDPOINT_URL": endpoint}
        environment.pop("AWS_PROFILE", None)
    return environment


# ------------------------------------------------------------------------------------------------ check


@dataclass
class Outcome:
    path: str
    seconds: float
    problem: str | None


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


@contextmanager
def fresh_cloud() -> Iterator[Cloud]:
    """The template provisioned on an empty moto account, as the in-process tests' fixture has it."""
    moto_api_backend.reset()
    with ExitStack() as stack:
        cloud = provision(Template.load())
        stack.enter_context(invoke_in_process(cloud.functions))
        stack.enter_context(deliver_rule_targets())
        yield cloud


def prepare(cloud: Cloud, after_order: bool) -> None:
    """The state an expectation names: stock seeded and, for `after_order`, Alice's order placed and projected."""
    if after_order:
        cloud.functions.get("PlaceOrderFunction").invoke(sample_event(ALICES_ORDER_EVENT))
        StreamMapping.from_template(cloud, cloud.functions.get("ProjectOrdersFunction")).deliver()
    seed_inventory(Inventory(boto3.client("dynamodb"), cloud.physical_id("InventoryTable")))


def invoke_sample_event(sam: Sam, endpoint: str, path: str) -> Outcome:
    """One event through `sam local invoke` on a fresh cloud, judged against its expectation."""
    expect = EXPECTATIONS[path]
    with fresh_cloud() as cloud:
        prepare(cloud, expect.after_order)
        write_env_vars(env_vars(cloud, endpoint), sam.env_file)
        started = time.monotonic()
        run = subprocess.run(
            sam.command("invoke", function_of(path), "--event", str(ROOT / "events" / path)),
            capture_output=True,
            text=True,
            env=sam_environment(endpoint),
            timeout=INVOKE_TIMEOUT_SECONDS,
            check=False,
        )
        seconds = time.monotonic() - started
    response, raised = sam_response(run.stdout)
    problem = expect.mismatch(response, raised, sam_local=True)
    if run.returncode and problem is None:
        problem = f"sam exited {run.returncode}"
    if problem:
        problem += "\n" + _tail(run.stderr)
    return Outcome(path, seconds, problem)


# Each worker process has its own moto (its own account state), so events run side by side.
WORKERS = int(os.environ.get("SAM_LOCAL_WORKERS", str(min(2, os.cpu_count() or 1))))
_WORKER: dict[str, Any] = {}


def _start_worker(template: Path, architecture: str, scratch: Path) -> None:
    stack = ExitStack()  # held until the worker process ends
    sys.stderr = stack.enter_context(handler_logs_in_file()).open("a", buffering=1)  # Powertools warns there
    _WORKER["endpoint"] = stack.enter_context(local_aws(0))
    _WORKER["sam"] = Sam(template, scratch / f"env-vars-{os.getpid()}.json", architecture)
    _WORKER["stack"] = stack


def _invoke_in_worker(path: str) -> Outcome:
    return invoke_sample_event(_WORKER["sam"], _WORKER["endpoint"], path)


def invoke_sample_events(sam: Sam, paths: list[str]) -> list[Outcome]:
    outcomes = []
    with ProcessPoolExecutor(
        WORKERS,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(sam.template, sam.architecture, sam.env_file.parent),
    ) as pool:
        for outcome in pool.map(_invoke_in_worker, paths):
            outcomes.append(outcome)
            verdict = "ok" if outcome.problem is None else "FAILED: " + outcome.problem
            say(f"  {outcome.path:<52} {outcome.seconds:5.1f} s  {verdict}")
    return outcomes


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("      " + line for line in text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(method: str, url: str, headers: Mapping[str, str], body: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body.encode() if body else None, method=method, headers=dict(headers))  # noqa: S310 - local URLs
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local URLs
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@contextmanager
def sam_api(sam: Sam, endpoint: str | None, port: int, log: Path) -> Iterator[str]:
    """`sam local start-api` on 127.0.0.1:port until the block ends; yields its URL once it answers."""
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(
            sam.command("start-api", "--port", str(port), "--warm-containers", "LAZY"),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=sam_environment(endpoint),
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + API_START_SECONDS
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise SystemExit(f"sam local start-api exited {process.returncode}:\n{_tail(log.read_text())}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.5)
            else:
                raise SystemExit(f"sam local start-api did not listen within {API_START_SECONDS} s")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def drive_the_api(sam: Sam) -> list[str]:
    """place -> get -> cancel through `sam local start-api`; the same header is refused without AWS_SAM_LOCAL."""
    problems: list[str] = []
    placed = sample_event(ALICES_ORDER_EVENT)
    customer = placed["requestContext"]["authorizer"]["claims"]["sub"]
    identity = {LOCAL_CUSTOMER_HEADER: customer, "Content-Type": "application/json"}
    placing = identity | {"Idempotency-Key": placed["headers"]["Idempotency-Key"]}

    def expect(step: str, status: int, answer: tuple[int, Any], started: float) -> Any:
        say(f"  {step:<52} {time.monotonic() - started:5.1f} s  -> {answer[0]}")
        if answer[0] != status:
            problems.append(f"{step}: expected {status}, got {answer[0]} {answer[1]}")
        return answer[1] or {}

    with (
        running_local_cloud(
            api_port=0,
            aws_port=0,
            control_port=0,
            timeline=Timeline(out=None),  # the report is this script's
        ) as local,
        tempfile.TemporaryDirectory() as scratch,
    ):
        api_sam = Sam(sam.template, Path(scratch) / "env-vars.json", sam.architecture)
        write_env_vars(env_vars(local.cloud, local.aws_endpoint), api_sam.env_file)
        started = time.monotonic()
        with sam_api(api_sam, local.aws_endpoint, _free_port(), Path(scratch) / "start-api.log") as url:
            say(f"  sam local start-api listening                        {time.monotonic() - started:5.1f} s")
            started = time.monotonic()
            order = expect(
                "POST /orders (X-Local-Customer-Id)",
                201,
                http("POST", f"{url}/orders", placing, placed["body"]),
                started,
            )
            order_id = order.get("orderId", "missing")
            started = time.monotonic()
            got = expect(f"GET /orders/{order_id}", 200, http("GET", f"{url}/orders/{order_id}", identity), started)
            if got.get("customerId") != customer:
                problems.append(f"GET answered another customer's order: {got}")
            started = time.monotonic()
            cancelled = expect(
                f"POST /orders/{order_id}/cancel",
                200,
                http("POST", f"{url}/orders/{order_id}/cancel", identity),
                started,
            )
            if cancelled.get("status") != "CANCELLED":
                problems.append(f"cancel answered {cancelled}")
        # The local cloud runs the handlers as AWS does (no AWS_SAM_LOCAL): the header alone is refused.
        started = time.monotonic()
        refused = http("POST", f"{local.api_url}/orders", placing | {"Idempotency-Key": "header-only"}, placed["body"])
        expect("POST /orders, header only, without AWS_SAM_LOCAL", 401, refused, started)
        handler = local.cloud.functions.get("PlaceOrderFunction").invoke(
            sample_event("place_order/sam_local_identity.json")
        )
        say(f"  the handler itself, without AWS_SAM_LOCAL              -> {handler['statusCode']}")
        if handler["statusCode"] != 401:
            problems.append(f"without AWS_SAM_LOCAL the header was taken: {handler}")
    return problems


def check(sam: Sam, only: str | None = None) -> int:
    """Every sample event (or those whose path contains `only`, then without the API part) and the API."""
    require_docker()
    total = time.monotonic()
    paths = [path for path in sorted(EXPECTATIONS) if only is None or only in path]
    if not paths:
        raise SystemExit(f"no sample event under events/ matches {only!r}")
    say(
        f"sam local invoke, {len(paths)} sample events, {sam.architecture},"
        f" a fresh local cloud each, {WORKERS} at a time:"
    )
    outcomes = invoke_sample_events(sam, paths)
    with handler_logs_in_file():
        api_problems: list[str] = []
        if only is None:
            say("sam local start-api against the local cloud (make local):")
            api_problems = drive_the_api(sam)
    failed = [outcome for outcome in outcomes if outcome.problem]
    seconds = [outcome.seconds for outcome in outcomes]
    say(
        f"\nsam local invoke: {len(outcomes) - len(failed)} passed, {len(failed)} failed;"
        f" per invoke median {statistics.median(seconds):.1f} s, min {min(seconds):.1f} s, max {max(seconds):.1f} s"
    )
    if only is None:
        say(f"sam local start-api: {'ok' if not api_problems else 'FAILED: ' + '; '.join(api_problems)}")
    say(f"make sam-local: {time.monotonic() - total:.0f} s")
    return 1 if failed or api_problems else 0


# ------------------------------------------------------------------------------------------------ invoke, start-api


def stack_cloud(stack: str) -> Cloud:
    """A deployed stack seen as a Cloud: the template with the stack's parameters and physical ids."""
    cloudformation = boto3.client("cloudformation")
    [description] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    parameters = {item["ParameterKey"]: item["ParameterValue"] for item in description.get("Parameters", [])}
    cloud = Cloud(Template.load(overrides=parameters))
    cloud.template.physical_ids |= stack_physical_ids(cloudformation, stack)
    return cloud


def target(stack: str | None) -> tuple[Path, str | None]:
    """The env-vars file to use and the AWS endpoint for SAM: a deployed stack's, or the running `make local`'s."""
    if stack:
        return write_env_vars(env_vars(stack_cloud(stack), None), ROOT / ".local" / f"sam-env-vars.{stack}.json"), None
    local_outputs()  # raises NoLocalCloud with what to do, and points this process at the local cloud's AWS
    if not ENV_VARS_FILE.exists():
        raise SystemExit(f"{ENV_VARS_FILE.relative_to(ROOT)} is missing: restart `make local` (it writes the file)")
    return ENV_VARS_FILE, os.environ["AWS_ENDPOINT_URL"]


def run_sam(template: Path, stack: str | None, subcommand: str, *arguments: str) -> int:
    require_docker()
    env_file, endpoint = target(stack)
    command = Sam(template, env_file).command(subcommand, *arguments)
    say("$ " + " ".join(str(Path(part).relative_to(ROOT)) if part.startswith(str(ROOT)) else part for part in command))
    return subprocess.run(command, env=sam_environment(endpoint), check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.sam_local", description=__doc__)
    parser.add_argument("--template", type=Path, required=True, help="the template `sam build` wrote")
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check")
    checking.add_argument("--only", help="only the sample events whose path contains this, e.g. place_order/")
    invoke = commands.add_parser("invoke")
    invoke.add_argument("function")
    invoke.add_argument("event")
    invoke.add_argument("--stack")
    api = commands.add_parser("start-api")
    api.add_argument("--stack")
    arguments = parser.parse_args()
    arguments.template = json_template(arguments.template)
    if arguments.command == "check":
        with tempfile.TemporaryDirectory() as scratch:
            sys.exit(check(Sam(arguments.template, Path(scratch) / "env-vars.json"), arguments.only))
    if arguments.command == "invoke":
        sys.exit(run_sam(arguments.template, arguments.stack, "invoke", arguments.function, "--event", arguments.event))
    # Not :3000, which `make local` serves its own API on.
    sys.exit(
        run_sam(arguments.template, arguments.stack, "start-api", "--port", SAM_API_PORT, "--warm-containers", "LAZY")
    )


if __name__ == "__main__":
    main()
