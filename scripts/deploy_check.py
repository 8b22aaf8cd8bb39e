"""make deploy-check: the real `sam build` and `sam deploy` onto ministack on 127.0.0.1, the end-to-end suite
against the deployed stack, then the stack's deletion. Prints how long each step took.

ministack runs from its own virtualenv (.venv-ministack, requirements-ministack.txt) on a free loopback
port with throwaway credentials; nothing here can reach AWS. Its gaps are met in tools/ministack_gaps.py.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from local_cloud.sam_cli import SAM
from tools import ministack_gaps

ROOT = Path(__file__).resolve().parent.parent
MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "ministack" / "template.yaml"  # samconfig.toml [ministack] build_dir
LOG = ROOT / ".aws-sam" / "ministack.log"
SCRATCH = ROOT / ".aws-sam" / "ministack-run"
STACK = "orders-ministack"  # samconfig.toml [ministack] stack_name
HOST_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_ministack(figures: dict[str, float]) -> Iterator[str]:
    """ministack on a free 127.0.0.1 port, its log in .aws-sam/ministack.log; its URL. Times its start and stop."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    LOG.parent.mkdir(exist_ok=True)
    # Its scratch space, this run's only: TMPDIR, where it unpacks each function (code and layer) into folders
    # it leaves behind, and its state (signing keys). Kept until the next run: removing tens of thousands
    # of files takes a minute here. `make clean` removes it.
    shutil.rmtree(SCRATCH, ignore_errors=True)
    (SCRATCH / "tmp").mkdir(parents=True)
    with LOG.open("w") as log:
        environment = os.environ | {"GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1", "TMPDIR": str(SCRATCH / "tmp")}
        environment["STATE_DIR"] = str(SCRATCH / "state")
        # Its own process group: it runs each function in a worker process of its own, stopped with it.
        server = subprocess.Popen(
            [MINISTACK], cwd=SCRATCH, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started = time.monotonic()
        try:
            deadline = started + START_SECONDS
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_ministack/health", timeout=2):  # noqa: S310 - loopback
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"ministack did not start on {url}; see {LOG}") from None
                    time.sleep(0.2)
            figures["ministack start"] = time.monotonic() - started
            yield url
        finally:
            stopping = time.monotonic()
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
            figures["ministack stop"] = time.monotonic() - stopping


def step(name: str, command: list[str | Path], environment: dict[str, str], figures: dict[str, float]) -> None:
    print(f"\n== {name}: {' '.join(str(part) for part in command)}", flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=environment, check=False)
    figures[name] = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"deploy-check: {name} failed (exit {done.returncode}); ministack's log: {LOG}")


def main() -> None:
    host = HOST_ARCHITECTURES.get(platform.machine().lower())
    wanted = ministack_gaps.DEPLOY_OVERRIDES["Architecture"][0]
    if host != wanted:
        raise SystemExit(
            f"deploy-check builds for {wanted} (samconfig.toml [ministack]), since ministack runs functions on its "
            f"host's Python; this host is {platform.machine()}: change Architecture there to {host}"
        )
    figures: dict[str, float] = {}
    started = time.monotonic()
    with running_ministack(figures) as endpoint:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("AWS_")
        } | {  # throwaway credentials: ministack's default account; nothing here can reach AWS
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAM_CLI_TELEMETRY": "0",
            "ARCHITECTURE": wanted,  # layer/Makefile builds its wheels for it
            "E2E_TARGET": "ministack",
            "E2E_STACK": STACK,
        }
        step("sam build", [SAM, "build", "--config-env", "ministack"], environment, figures)
        ministack_gaps.overrides_as_defaults(BUILT_TEMPLATE)
        for written in ministack_gaps.definitions_as_json(BUILT_TEMPLATE):
            print(f"state machine definition as JSON for ministack: {written.relative_to(ROOT)}")
        step("sam deploy", [SAM, "deploy", "--config-env", "ministack"], environment, figures)
        try:
            pytest: list[str | Path] = [
                ROOT / ".venv/bin/pytest",
                "-p",
                "no:cacheprovider",
                "tests/e2e/test_http.py",
            ]
            step("end-to-end suite", pytest, environment, figures)
        finally:
            cloudformation = boto3.client(
                "cloudformation",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",  # noqa: S106 - ministack's throwaway credentials
            )
            # `sam delete` cannot read the nested stacks' TemplateURL on this endpoint (ministack_gaps.SAM_DELETE).
            print(f"\n== delete {STACK}: CloudFormation DeleteStack ({ministack_gaps.SAM_DELETE})", flush=True)
            deleting = time.monotonic()
            cloudformation.delete_stack(StackName=STACK)
            cloudformation.get_waiter("stack_delete_complete").wait(StackName=STACK, WaiterConfig={"Delay": 2})
            figures["delete stack"] = time.monotonic() - deleting
        stacks = cloudformation.describe_stacks()["Stacks"]
        left = [stack for stack in stacks if STACK in stack["StackName"] and stack["StackStatus"] != "DELETE_COMPLETE"]
        if left:
            raise SystemExit(f"deploy-check: {STACK} or a stack nested in it is still there after its deletion")
        print(f"{STACK} and its nested stacks deleted")
    figures["whole deploy-check"] = time.monotonic() - started
    print("\ndeploy-check on ministack " + ministack_gaps.VERSION + ":")
    for name, seconds in figures.items():
        print(f"  {name:<24} {seconds:6.1f} s")


if __name__ == "__main__":
    main()
