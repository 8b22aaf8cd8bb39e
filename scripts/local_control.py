"""The running local cloud's control endpoint, from the command line: `make token` and `make fire`.

    python -m scripts.local_control token CUSTOMER   # a Cognito ID token of a demo customer (alice, bob)
    python -m scripts.local_control fire SCHEDULE    # fire one of the template's schedules now

`make local` serves the endpoint on LOCAL_CONTROL_PORT (3001); it also answers GET /outputs, which
scripts.stack_outputs reads. Whatever goes wrong is one line on stderr and exit status 1: no local
cloud answering, or the endpoint's own message (an unknown customer or schedule). Standard library
only, so that `TOKEN=$(make -s token)` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

LOCAL_CONTROL_URL = f"http://127.0.0.1:{os.environ.get('LOCAL_CONTROL_PORT', '3001')}"
TIMEOUT_SECONDS = 60  # firing a schedule runs its target (the reconciler) before the endpoint answers


class NoLocalCloud(SystemExit):
    """Nothing answers at the control URL. A SystemExit, so that a script's user reads one line, not a traceback."""


class LocalCloudRefused(SystemExit):
    """The control endpoint answered with an error; its message is the line the user reads."""


def ask(path: str, method: str = "GET", control_url: str = LOCAL_CONTROL_URL) -> dict[str, Any]:
    """The endpoint's JSON answer to `method path`."""
    request = urllib.request.Request(f"{control_url}{path}", method=method)  # noqa: S310 - an http URL of ours
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - a local URL
            return dict(json.load(response))
    except urllib.error.HTTPError as error:
        raise LocalCloudRefused(f"the local cloud answered {error.code}: {_message(error)}") from None
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise NoLocalCloud(f"no local cloud answers at {control_url} ({reason}): start one with `make local`") from None


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(error)["message"])
    except (ValueError, KeyError, TypeError):
        return str(error.reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ask the running local cloud (make local) for a token or a firing.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("token", help="a Cognito ID token of a demo customer").add_argument("customer")
    commands.add_parser("fire", help="fire a schedule now").add_argument("schedule")
    arguments = parser.parse_args(argv)
    if arguments.command == "token":
        print(ask(f"/token/{quote(arguments.customer, safe='')}")["idToken"])
    else:
        print(json.dumps(ask(f"/schedules/{quote(arguments.schedule, safe='')}/fire", method="POST")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
