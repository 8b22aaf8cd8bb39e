"""What `sam local invoke` / `start-api` need to reach this machine's cloud from inside their containers.

A container cannot reach the host's 127.0.0.1. On Linux the local cloud's AWS also listens on the
Docker bridge's address (docker0), which containers reach; Docker Desktop (macOS, Windows) forwards
host.docker.internal to the host's loopback instead. The env-vars file gives every function the
variables the template sets, resolved to local names, plus AWS_ENDPOINT_URL (declared, unset, in
the template's Globals so that `--env-vars` may set it).
"""

from __future__ import annotations

import fcntl
import json
import socket
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from local_cloud.functions import lambda_environment
from local_cloud.template import ROOT

if TYPE_CHECKING:
    from local_cloud.cloud import Cloud

ENV_VARS_FILE = ROOT / ".local" / "sam-env-vars.json"
DOCKER_BRIDGE = "docker0"
_SIOCGIFADDR = 0x8915  # Linux: the IPv4 address of an interface


def bridge_address(interface: str = DOCKER_BRIDGE) -> str | None:
    """The IPv4 address of the Docker bridge on this Linux host, or None (no Docker engine, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", interface.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def container_endpoint(host_endpoint: str) -> str:
    """The URL a container uses for an endpoint this host serves on 127.0.0.1 (and on the bridge)."""
    host = bridge_address() or "host.docker.internal"
    return host_endpoint.replace("127.0.0.1", host).replace("localhost", host)


def env_vars(cloud: Cloud, host_endpoint: str | None) -> dict[str, dict[str, str]]:
    """`--env-vars` content: per function logical id, the variables its template sets, with this cloud's names.

    With `host_endpoint` (the local cloud's AWS), URLs on it are rewritten for containers and
    AWS_ENDPOINT_URL points there; without it (a deployed stack), the functions call AWS itself.
    """
    variables: dict[str, dict[str, str]] = {}
    for logical_id in cloud.template.of_type("AWS::Lambda::Function"):
        declared = cloud.template.properties(logical_id).get("Environment", {}).get("Variables", {})
        chosen = {name: value for name, value in lambda_environment(cloud, logical_id).items() if name in declared}
        if host_endpoint is not None:
            outside = container_endpoint(host_endpoint)
            chosen = {name: value.replace(host_endpoint, outside) for name, value in chosen.items()}
            chosen["AWS_ENDPOINT_URL"] = outside
        variables[logical_id] = chosen
    return variables


def write_env_vars(variables: dict[str, dict[str, str]], path: Path = ENV_VARS_FILE) -> Path:
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(variables, indent=2, sort_keys=True) + "\n")
    return path
