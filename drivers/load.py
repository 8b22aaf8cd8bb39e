"""A burst of concurrent connections to a server on loopback, bounded in count and time, and what each one met.

Every connection is opened at the same moment (a barrier), sends one request and reads its answer.
When a burst overflows a server's listen backlog, Linux drops the SYNs it cannot queue and the client
tries again after TCP's first retransmission timeout, 1 s; other kernels and clients see a reset. So a
connection refused or reset, or closed before its answer, counts as reset, and one the kernel did not
accept within CONNECT_SECONDS (under that 1 s: its first SYN was dropped) counts as dropped.
The benchmark prints these counts and the tests hold them at zero.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass

CONNECT_SECONDS = 0.9  # a loopback connect is accepted by the kernel at once, or its SYN was dropped
ANSWER_SECONDS = 60.0  # every request of the burst is answered one after another by one interpreter
MAX_CONNECTIONS = 200  # a burst is a test of the server, not of the machine
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Burst:
    connections: int
    statuses: Counter[int]  # answers, by status
    reset: int  # refused, reset or closed before an answer
    dropped: int  # not accepted within CONNECT_SECONDS: the listen backlog overflowed
    unanswered: int  # accepted, but no answer within ANSWER_SECONDS
    seconds: float  # from the barrier to the last answer

    @property
    def failed(self) -> int:
        return self.reset + self.dropped + self.unanswered

    def __str__(self) -> str:
        answered = ", ".join(f"{count}x {status}" for status, count in sorted(self.statuses.items())) or "none"
        return (
            f"{self.connections} connections: answered {answered}; reset {self.reset}, dropped {self.dropped},"
            f" unanswered {self.unanswered}; {self.seconds:.1f} s"
        )


def burst(
    host: str,
    port: int,
    connections: int,
    target: str = "/",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Burst:
    """Open `connections` connections to host:port at once, each sending one request; what became of each."""
    if host not in LOOPBACK or not 0 < connections <= MAX_CONNECTIONS:
        raise ValueError(
            f"a burst goes to loopback with 1 to {MAX_CONNECTIONS} connections, not {connections} to {host}"
        )
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    barrier = threading.Barrier(connections)
    outcomes: list[int | str] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        outcome = _exchange(host, port, request)
        with lock:
            outcomes.append(outcome)

    started = time.perf_counter()
    threads = [threading.Thread(target=one, name=f"burst-{number}") for number in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted = Counter(outcomes)
    return Burst(
        connections=connections,
        statuses=Counter({status: n for status, n in counted.items() if isinstance(status, int)}),
        reset=counted["reset"],
        dropped=counted["dropped"],
        unanswered=counted["unanswered"],
        seconds=time.perf_counter() - started,
    )


def _exchange(host: str, port: int, request: bytes) -> int | str:
    """The answer's status, or "dropped", "reset" or "unanswered"."""
    try:
        connection = socket.create_connection((host, port), timeout=CONNECT_SECONDS)
    except TimeoutError:
        return "dropped"
    except OSError:
        return "reset"
    with connection:
        connection.settimeout(ANSWER_SECONDS)
        try:
            connection.sendall(request)
            response = http.client.HTTPResponse(connection)
            response.begin()
            response.read()
        except TimeoutError:
            return "unanswered"
        except (OSError, http.client.HTTPException):  # RemoteDisconnected included: closed before an answer
            return "reset"
        return response.status
