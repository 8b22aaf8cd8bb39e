"""`make local` runs `python -m local_cloud`: the whole application on this machine until Ctrl-C or SIGTERM.

Ports: LOCAL_API_PORT (3000), LOCAL_AWS_PORT (5000, moto), LOCAL_CONTROL_PORT (3001),
LOCAL_CONSOLE_PORT (3002), or the options below.
A port that is taken is named, and the exit status is 1, before anything is imported or provisioned.
"""

from __future__ import annotations

import argparse

from local_cloud.listening import API, AWS, CONSOLE, CONTROL, PortUnavailable, ensure_free


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_cloud", description=__doc__)
    parser.add_argument(API.option, type=int, default=API.configured)
    parser.add_argument(AWS.option, type=int, default=AWS.configured)
    parser.add_argument(CONTROL.option, type=int, default=CONTROL.configured)
    parser.add_argument(CONSOLE.option, type=int, default=CONSOLE.configured)
    parser.add_argument("--no-reload", action="store_true", help="do not reload functions when their files change")
    arguments = parser.parse_args()
    try:
        ports = {API: arguments.api_port, AWS: arguments.aws_port, CONTROL: arguments.control_port}
        ensure_free(ports | {CONSOLE: arguments.console_port})
    except PortUnavailable as error:
        raise SystemExit(f"make local: {error}") from None  # on stderr, exit status 1
    # moto and boto3 take seconds to import: only once the ports are known to be free.
    from local_cloud.terminal import serve  # noqa: PLC0415

    serve(
        arguments.api_port,
        arguments.aws_port,
        arguments.control_port,
        arguments.console_port,
        watch_code=not arguments.no_reload,
    )


if __name__ == "__main__":
    main()
