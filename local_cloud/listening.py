"""Where the local cloud listens: its four ports, checked before anything starts, and the HTTP server it serves on.

This module imports nothing heavy, so `python -m local_cloud` can say that a port is taken within a
second, before moto and boto3 are even imported (that takes seconds) and long before provisioning.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Port:
    """One of the local cloud's ports: what listens there and the variable that moves it."""

    what: str
    variable: str
    option: str
    default: int

    @property
    def configured(self) -> int:
        return int(os.environ.get(self.variable, str(self.default)))


API = Port("the API", "LOCAL_API_PORT", "--api-port", 3000)  # `sam local start-api`'s default
AWS = Port("moto (AWS)", "LOCAL_AWS_PORT", "--aws-port", 5000)  # moto's default
CONTROL = Port("the control endpoint", "LOCAL_CONTROL_PORT", "--control-port", 3001)
CONSOLE = Port("the console", "LOCAL_CONSOLE_PORT", "--console-port", 3002)


class PortUnavailable(Exception):
    """A port the local cloud needs cannot be listened on; the message says which and how to choose another."""


def ensure_free(ports: Mapping[Port, int], host: str = HOST) -> None:
    """Bind each port (0: any free port, nothing to check) and let it go; PortUnavailable names the first that fails.

    Bound the way the servers bind (SO_REUSEADDR), so a port left in TIME_WAIT by a previous run counts as free,
    as it is for them, and one another process listens on does not.
    """
    for port, number in ports.items():
        if number == 0:
            continue
        others = [other.what for other, given in ports.items() if given == number and other != port]
        if others:
            raise PortUnavailable(f"port {number} is given to both {port.what} and {others[0]}: each needs its own")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, number))
            except OSError as error:
                reason = "is taken by another process" if error.errno == errno.EADDRINUSE else f"fails: {error}"
                raise PortUnavailable(
                    f"port {number} on {host} for {port.what} {reason}; stop that process, or choose another port"
                    f" with {port.variable}=<port> (make local) or {port.option} <port>",
                ) from error


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A thread per connection, with a listen backlog that holds a burst of connections.

    socketserver's default backlog is 5: a burst of 20 connections overflowed it, and the kernel dropped
    the connections it could not queue. SOMAXCONN is as many as the system allows (net.core.somaxconn caps it).
    """

    request_queue_size = socket.SOMAXCONN
    daemon_threads = True  # a connection left open by a client must not keep the process alive
