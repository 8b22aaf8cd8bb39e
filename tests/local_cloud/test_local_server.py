"""`make local` as a process, under load and misuse: `python -m local_cloud` run for real, on free loopback ports.

What API Gateway would answer, the local server answers too, in the same JSON shape: 403 for a method
the API does not declare, 431 for oversized headers, 400 and 413 for a body it cannot take. A burst
of 50 connections is accepted and answered; a port that is taken is named before anything starts;
SIGTERM and Ctrl-C stop it, naming what they cut short. Every wait here is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from drivers.api_client import Customer
from drivers.load import burst
from local_cloud.listening import API, AWS, CONSOLE, CONTROL, Port, PortUnavailable, ensure_free
from local_cloud.template import ROOT
from local_cloud.timeline import json_field, order_id_in
from tests.support import sample_event

pytestmark = pytest.mark.local_cloud

START_SECONDS = 120.0  # provisioning the template on moto: about 10 s on a quiet 2-core machine
EXIT_SECONDS = 30.0  # for the process to end once told to; it takes about a second
HOST = "127.0.0.1"
MISSING_TOKEN = {"message": "Missing Authentication Token"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def free_ports() -> dict[Port, int]:
    """A free port for each of the four servers, so a running `make local` never collides with a test."""
    return {API: free_port(), AWS: free_port(), CONTROL: free_port(), CONSOLE: free_port()}


@dataclass
class LocalProcess:
    """`python -m local_cloud` on free ports, its output collected line by line as it comes."""

    ports: dict[Port, int]
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @classmethod
    @contextmanager
    def running(cls, ports: dict[Port, int] | None = None) -> Iterator[LocalProcess]:
        """Started, and killed when the block ends if it has not ended by then."""
        started = cls.start(ports)
        try:
            yield started
        finally:
            started.kill()

    @classmethod
    def start(cls, ports: dict[Port, int] | None = None) -> LocalProcess:
        ports = ports or free_ports()
        arguments = [argument for port, number in ports.items() for argument in (port.option, str(number))]
        process = subprocess.Popen(  # noqa: S603 - this interpreter, running the project's own module
            [sys.executable, "-m", "local_cloud", *arguments, "--no-reload"],
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": "layer", "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started = cls(ports, process)
        started._reader = threading.Thread(target=started._read, daemon=True)
        started._reader.start()
        return started

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout_seconds: float = START_SECONDS, poll_seconds: float = 0.1) -> None:
        deadline = time.monotonic() + timeout_seconds
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout_seconds} s; output:\n{self.output}")
            time.sleep(poll_seconds)

    def wait_until_serving(self) -> LocalProcess:
        self.wait_for("Timeline (time, order id, source, what happened):")
        return self

    def control(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://{HOST}:{self.ports[CONTROL]}{path}", timeout=30) as answer:
            return json.load(answer)

    def stop(self, stop: signal.Signals = signal.SIGTERM) -> int:
        """Send a stop signal; the exit status."""
        self.process.send_signal(stop)
        return self.exit_status()

    def exit_status(self) -> int:
        status = self.process.wait(EXIT_SECONDS)
        if self._reader is not None:
            self._reader.join(EXIT_SECONDS)
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(EXIT_SECONDS)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    with LocalProcess.running() as started:
        yield started.wait_until_serving()


@pytest.fixture(scope="module")
def token(local: LocalProcess) -> str:
    return str(local.control("/token/alice")["idToken"])


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (http.client would correct them) and read the answer: status, headers, body."""
    with socket.create_connection((HOST, port), timeout=30) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split(" ")[1]), headers, body


def request_bytes(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += [f"Content-Length: {len(body)}"] if body else []
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------- load


def test_fifty_concurrent_connections_are_all_accepted_and_answered(local: LocalProcess, token: str) -> None:
    result = burst(HOST, local.ports[API], 50, "/orders", headers={"Authorization": token})

    assert result.failed == 0, str(result)  # before the backlog was raised, 40 of 50 were dropped
    assert result.statuses == {200: 50}, str(result)


# ---------------------------------------------------------------- misuse, answered as API Gateway answers it


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND", "BREW", "get"])
def test_a_method_the_api_does_not_declare_is_missing_authentication_token_in_json(
    local: LocalProcess, token: str, method: str
) -> None:
    status, headers, body = raw_exchange(local.ports[API], request_bytes(method, "/orders", {"Authorization": token}))

    assert status == 403
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == MISSING_TOKEN


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Padding": "a" * 10_300}, id="over-api-gateways-10240-bytes"),
        pytest.param({"X-Padding": "a" * 70_000}, id="one-line-over-http-servers-64-kib"),
        pytest.param({f"X-Header-{n}": "a" for n in range(101)}, id="over-http-servers-100-headers"),
    ],
)
def test_oversized_headers_are_refused_with_431_in_json(local: LocalProcess, headers: dict[str, str]) -> None:
    status, answer_headers, body = raw_exchange(local.ports[API], request_bytes("GET", "/orders", headers))

    assert status == 431
    assert answer_headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Request Header Fields Too Large"}


def test_headers_within_api_gateways_quota_reach_the_route(local: LocalProcess) -> None:
    status, _, body = raw_exchange(local.ports[API], request_bytes("GET", "/orders", {"X-Padding": "a" * 9_000}))

    assert status == 401  # the authorizer's answer: the size was let through
    assert json.loads(body) == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    ("request_line_and_headers", "status"),
    [
        pytest.param(b"NONSENSE\r\n\r\n", 400, id="a-word-for-a-request-line"),
        pytest.param(b"GET /orders HTTP/1.1 more\r\n\r\n", 400, id="request-line-of-four-words"),
        pytest.param(b"GET /orders HTTP/9.9\r\n\r\n", 505, id="unknown-http-version"),
        pytest.param(request_bytes("POST", "/orders", {"Content-Length": "many"}), 400, id="content-length-text"),
        pytest.param(request_bytes("POST", "/orders", {"Content-Length": "-1"}), 400, id="content-length-negative"),
        pytest.param(request_bytes("POST", "/orders", {"Content-Length": str(11 * 2**20)}), 413, id="body-over-10-mb"),
    ],
)
def test_a_request_the_server_cannot_take_is_answered_in_json(
    local: LocalProcess, request_line_and_headers: bytes, status: int
) -> None:
    answered, headers, body = raw_exchange(local.ports[API], request_line_and_headers)

    assert answered == status
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)) == {"message"}


def test_a_body_nested_10000_deep_on_the_webhook_is_answered_and_on_the_timeline(local: LocalProcess) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000

    status, _, body = raw_exchange(
        local.ports[API], request_bytes("POST", "/webhooks/payments", {"Content-Type": "application/json"}, deep)
    )

    assert 400 <= status < 500, body  # unsigned: refused, and the connection was not dropped
    local.wait_for(f"POST /webhooks/payments -> {status}", timeout_seconds=30)


# ---------------------------------------------------------------- start and stop


@pytest.mark.parametrize("taken", [API, AWS, CONTROL, CONSOLE], ids=lambda port: port.variable)
def test_a_taken_port_is_named_and_nothing_starts(taken: Port) -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        ports = free_ports() | {taken: holder.getsockname()[1]}
        with LocalProcess.running(ports) as started:
            status = started.exit_status()

    assert status == 1
    assert f"port {ports[taken]} on {HOST} for {taken.what} is taken" in started.output
    assert taken.variable in started.output
    assert "Traceback" not in started.output
    assert "Local cloud:" not in started.output  # the banner: nothing was provisioned


def test_the_same_port_for_two_servers_is_refused_before_anything_binds() -> None:
    number = free_port()

    with pytest.raises(PortUnavailable, match=f"port {number} is given to both the API and moto"):
        ensure_free({API: number, AWS: number, CONTROL: 0})


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda stop: stop.name)
def test_a_stop_signal_stops_it_and_names_the_saga_it_cuts_short(stop: signal.Signals) -> None:
    with LocalProcess.running() as started:
        started.wait_until_serving()
        alice = Customer(f"http://{HOST}:{started.ports[API]}", str(started.control("/token/alice")["idToken"]))
        placed = alice.place_order(json.loads(sample_event("place_order/valid.json")["body"]))
        assert placed.status == 201, placed
        order_id = str(placed.body["orderId"])
        # Unpaid, its saga waits for the payment webhook: running when the signal comes.
        started.wait_for(f"{order_id}  saga     -> RequestPayment", timeout_seconds=60)

        status = started.stop(stop)

    assert status == 0, started.output
    assert "local cloud stopped" in started.output
    named = [line for line in started.lines if order_id in line and "was still running" in line]
    assert named, started.output  # the saga it cut short, by its order


def test_a_second_signal_exits_at_once_naming_the_threads_still_running() -> None:
    with LocalProcess.running() as started:
        started.wait_until_serving().process.send_signal(signal.SIGTERM)
        # Signals sent together arrive as one; the second goes once the first is seen, well within the
        # orderly stop's second or so (its servers alone take up to 0.5 s each to notice).
        started.wait_for("SIGTERM: stopping the local cloud", timeout_seconds=EXIT_SECONDS, poll_seconds=0.01)
        status = started.stop()

    assert status == 1, started.output
    assert "SIGTERM again: exiting now; threads still running:" in started.output


def test_a_stop_signal_during_start_up_abandons_the_start() -> None:
    with LocalProcess.running() as started:
        # moto listens first, then the template is provisioned on it (seconds): the signal comes mid-start.
        deadline = time.monotonic() + START_SECONDS
        while not _accepts(started.ports[AWS]) and time.monotonic() < deadline and started.process.poll() is None:
            time.sleep(0.05)
        status = started.stop()

    assert status == 0, started.output
    assert "stopped before the local cloud was serving" in started.output
    assert "Local cloud:" not in started.output


def _accepts(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


# ---------------------------------------------------------------- the timeline, on any body a client sends


def test_the_timeline_finds_an_order_id_in_json_of_any_depth_without_recursing() -> None:
    order_id = "0b5f3c1e-8a2d-4f7b-9c6e-1d2a3b4c5d6e"
    nested = json.dumps({"detail": {"items": [{"note": json.dumps({"orderId": order_id})}]}})
    too_deep_to_parse = "[" * 10_000 + "]" * 10_000
    deep_object: Any = {"orderId": order_id}
    for _ in range(100_000):  # deeper than json.dumps goes, too
        deep_object = {"next": deep_object}

    assert order_id_in(nested) == order_id
    assert order_id_in(too_deep_to_parse) is None
    assert order_id_in(deep_object) is None  # deeper than SEARCH_DEPTH: not looked for, and no RecursionError
    assert order_id_in(f"an event about {order_id}") == order_id
    assert json_field(too_deep_to_parse, "status") is None
    assert json_field('{"status": "PLACED"}', "status") == "PLACED"
