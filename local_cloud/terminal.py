"""The terminal side of `make local`: the banner, the timeline on stdout, and stopping on Ctrl-C or SIGTERM.

The first Ctrl-C or SIGTERM stops the local cloud in order (see server._wind_down); during start-up it
abandons the start. Should stopping take longer than STOP_DEADLINE_SECONDS, or a second signal come,
the process exits at once, naming the threads still running.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

from local_cloud.cognito import user_pool_client_id
from local_cloud.console import serving_console
from local_cloud.listening import PortUnavailable
from local_cloud.provision import EMULATED_HERE
from local_cloud.sam_env import ENV_VARS_FILE, container_endpoint, env_vars, write_env_vars
from local_cloud.server import FUNCTION_LOG, STOP_GRACE_SECONDS, LocalCloud, handler_logs_in_file, running_local_cloud
from local_cloud.template import ROOT
from local_cloud.timeline import Timeline

STOP_DEADLINE_SECONDS = STOP_GRACE_SECONDS + 5.0  # the grace for the work in hand, then moto's own stop


def banner(local: LocalCloud, env_file: Path = ENV_VARS_FILE) -> str:
    cloud = local.cloud
    emulated = sorted({t for t in EMULATED_HERE if cloud.template.of_type(t)})
    skipped: dict[str, list[str]] = {}
    for logical_id, kind in sorted(cloud.not_provisioned.items()):
        skipped.setdefault(kind, []).append(logical_id)
    alice = local.customers["alice"]
    lines = [
        "",
        f"Local cloud: template.yaml on moto, {len(cloud.template.of_type('AWS::Lambda::Function'))} functions"
        " in-process (reloaded when their files change)",
        f"  API           {local.api_url}   (sam local start-api's port; Cognito authorizer enforced)",
        f"  AWS (moto)    {local.aws_endpoint}   export AWS_ENDPOINT_URL={local.aws_endpoint}"
        " AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1",
        f"  control       {local.control_url}/outputs   (the template's outputs, local values)",
        f"  sam local     {env_file.relative_to(ROOT)}   (--env-vars: local names, AWS at"
        f" {container_endpoint(local.aws_endpoint)}); make invoke / make start-api use it",
        *(
            [f"  console       {local.console_url}   (orders and their sagas, queues and DLQs, bus, schedules, API)"]
            if local.console_url
            else []
        ),
        "",
        "  Demo customers (Cognito users of the local pool): alice and bob.",
        "    TOKEN=$(make -s token CUSTOMER=alice)",
        f'    curl -H "Authorization: $TOKEN" {local.api_url}/orders',
        "    or, with the AWS CLI:  aws cognito-idp initiate-auth --auth-flow USER_PASSWORD_AUTH"
        f" --client-id {_client_id(local)} --auth-parameters USERNAME={alice.username},PASSWORD={alice.password}",
        "  Pay for an order:  make webhook ORDER=<id> OUTCOME=succeeded|failed",
        f"  Fire a schedule now:  make fire SCHEDULE=<name>   ({', '.join(local.schedules.names)})",
        "",
        "  Run by local_cloud itself (moto has no such service): " + "; ".join(emulated),
        "  Not provisioned" + (" (nothing reads them at run time):" if skipped else ": nothing"),
        *(f"    {kind}: {', '.join(names)}" for kind, names in sorted(skipped.items())),
        "",
        f"  Function logs (Powertools JSON): {FUNCTION_LOG.relative_to(ROOT)}",
        "",
        "Timeline (time, order id, source, what happened):",
    ]
    return "\n".join(lines)


def _client_id(local: LocalCloud) -> str:
    return user_pool_client_id(local.cloud)


class _StartAbandoned(BaseException):
    """A stop signal before the local cloud was serving: unwind what had started (no `except Exception` holds it)."""


class _Stopper:
    """What Ctrl-C and SIGTERM do: stop in order the first time; exit at once the second time or past the deadline.

    The signal handler only sets attributes (and, during start-up, raises): a handler runs in the main thread
    between any two bytecodes, so one that took a lock (Event.set, Thread.start, print) could wait forever
    for a lock the interrupted code holds. That is how the old handler, stop.set(), could ignore SIGTERM.
    The main thread and a watchdog thread poll the attributes instead.
    """

    POLL_SECONDS = 0.1

    def __init__(self) -> None:
        self.first: str | None = None  # the first stop signal's name, once one came
        self.signals = 0
        self.serving = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        threading.Thread(target=self._watch, name="local-cloud-stop-deadline", daemon=True).start()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        self.first = self.first or signal.Signals(signum).name
        if not self.serving and self.signals == 1:
            raise _StartAbandoned  # from the main thread, wherever start-up is: the `with` blocks unwind

    def wait(self) -> str:
        """Until a stop signal; its name."""
        while self.first is None:
            time.sleep(self.POLL_SECONDS)  # a signal ends the sleep early
        return self.first

    def _watch(self) -> None:
        while self.first is None:
            time.sleep(self.POLL_SECONDS)
        deadline = time.monotonic() + STOP_DEADLINE_SECONDS
        while self.signals < 2 and time.monotonic() < deadline:
            time.sleep(self.POLL_SECONDS)
        _exit_now(f"{self.first} again" if self.signals >= 2 else f"not stopped within {STOP_DEADLINE_SECONDS:.0f} s")


def _say(text: str) -> None:
    print(text, file=sys.__stdout__, flush=True)  # the terminal, whatever sys.stdout is redirected to


def _exit_now(why: str) -> NoReturn:
    running = sorted(t.name for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive())
    _say(f"{why}: exiting now; threads still running: {', '.join(running) or 'none'}")
    os._exit(1)  # the orderly stop is what hangs: no further cleanup can be trusted to end


def serve(api_port: int, aws_port: int, control_port: int, console_port: int, *, watch_code: bool) -> NoReturn:
    """Run the local cloud until Ctrl-C or SIGTERM, then exit."""
    stopper = _Stopper()
    stopper.install()
    timeline = Timeline(out=sys.stdout)  # kept: the handlers' logs go to a file, the timeline to the terminal
    try:
        with (
            handler_logs_in_file(),
            running_local_cloud(
                api_port, aws_port, control_port, timeline=timeline, watch_code=watch_code, sandboxes=True
            ) as local,
            serving_console(local, console_port) as console_url,
        ):
            local.console_url = console_url
            stopper.serving = True
            env_file = write_env_vars(env_vars(local.cloud, local.aws_endpoint))
            _say(banner(local, env_file))
            stopped_by = stopper.wait()
            _say(f"\n{stopped_by}: stopping the local cloud (its state is in memory and goes with it)")
    except PortUnavailable as error:  # taken between the check in __main__ and the bind
        raise SystemExit(f"make local: {error}") from None
    except _StartAbandoned:
        _say(f"\n{stopper.first}: stopped before the local cloud was serving")
    _say("local cloud stopped")
    logging.shutdown()
    sys.stdout.flush()
    # Stopped, and every file closed: the interpreter's own teardown would now free moto's in-memory account
    # object by object, 3 to 5 s on 2 cores, for state that is discarded anyway.
    os._exit(0)
