"""`make local` runs `python -m local_cloud`: the whole application on this machine until Ctrl-C.

Ports: LOCAL_API_PORT (3000), LOCAL_AWS_PORT (5000, moto), LOCAL_CONTROL_PORT (3001).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from local_cloud.provision import EMULATED_HERE
from local_cloud.sam_env import ENV_VARS_FILE, container_endpoint, env_vars, write_env_vars
from local_cloud.server import (
    API_PORT,
    AWS_PORT,
    CONTROL_PORT,
    FUNCTION_LOG,
    LocalCloud,
    handler_logs_in_file,
    running_local_cloud,
)
from local_cloud.template import ROOT
from local_cloud.timeline import Timeline


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
    from local_cloud.cognito import user_pool_client_id  # noqa: PLC0415 - only the banner needs it

    return user_pool_client_id(local.cloud)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_cloud", description=__doc__)
    parser.add_argument("--api-port", type=int, default=API_PORT)
    parser.add_argument("--aws-port", type=int, default=AWS_PORT)
    parser.add_argument("--control-port", type=int, default=CONTROL_PORT)
    parser.add_argument("--no-reload", action="store_true", help="do not reload functions when their files change")
    arguments = parser.parse_args()
    timeline = Timeline(out=sys.stdout)  # kept: the handlers' logs go to a file, the timeline to the terminal
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with (
        handler_logs_in_file(),
        running_local_cloud(
            arguments.api_port,
            arguments.aws_port,
            arguments.control_port,
            timeline=timeline,
            watch_code=not arguments.no_reload,
        ) as local,
    ):
        env_file = write_env_vars(env_vars(local.cloud, local.aws_endpoint))
        print(banner(local, env_file), file=sys.__stdout__, flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            print("\nstopping the local cloud", file=sys.__stdout__)


if __name__ == "__main__":
    main()
