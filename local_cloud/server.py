"""`make local`: template.yaml running on this machine, on moto as a server, with the real handlers.

One process holds it all: moto's server (so boto3 and the AWS CLI reach it via AWS_ENDPOINT_URL),
the REST API on :3000 with the Cognito authorizer, the handlers (in-process, reloaded when their
files change) and a delivery loop that does what AWS does between them: streams and queues to
their functions, schedules when due, and the timeline. Rules, topics and state machines run
inside moto, with `lambda_bridge` and `rule_targets` routing their calls to the handlers.
A small control endpoint beside the API answers the scripts: tokens, outputs, firing a schedule.

Every resource lives in this process's memory (moto's): a stopped local cloud is gone, and the next
starts from an empty account. Stopping takes no new work, gives the work in hand a few seconds to
finish and names in the timeline whatever it cut short.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any

from moto.core.config import default_user_config
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from drivers.customers import DemoCustomer
from local_cloud.account import fake_account
from local_cloud.api_gateway.gateway import ApiGateway, Exchange
from local_cloud.cloud import Cloud
from local_cloud.demo_account import id_token, seed_demo_customers, seed_demo_stock
from local_cloud.dynamodb_atomicity import atomic_dynamodb
from local_cloud.environment import temporary_environment
from local_cloud.event_sources import EventSources
from local_cloud.functions import SandboxSettings, timeline_observer
from local_cloud.iam.gate import Gate, Roles, state_machines_sign_as_their_roles
from local_cloud.lambda_bridge import invoke_in_process
from local_cloud.listening import API, AWS, CONTROL, HOST, LoopbackHTTPServer, PortUnavailable, ensure_free
from local_cloud.moto_dispatch import lighter_moto
from local_cloud.moto_logs import without_handled_missing_paths
from local_cloud.provision import provision
from local_cloud.rule_targets import deliver_rule_targets
from local_cloud.sam_env import bridge_address
from local_cloud.scheduler.firing import Schedules
from local_cloud.template import ROOT, TEMPLATE_PATH, Template
from local_cloud.timeline import Timeline, json_field, order_id_in
from local_cloud.watchers import DeadLetterWatcher, ExecutionWatcher, report_invocation, watch_the_bus

DELIVERY_SECONDS = 0.05  # how often streams and queues are polled: Lambda's pollers are about this eager
WATCH_SECONDS = 0.25  # how often executions and DLQs are looked at
RELOAD_SECONDS = 1.0  # how often function files are checked for changes
STOP_GRACE_SECONDS = 3.0  # for the work in hand when the local cloud stops: a delivery pass, a request


@dataclass
class LocalCloud:
    """What is running, and where."""

    cloud: Cloud
    api: ApiGateway
    aws_endpoint: str
    control_url: str
    timeline: Timeline
    sources: EventSources
    schedules: Schedules
    customers: dict[str, DemoCustomer]
    console_url: str | None = None  # set by whoever serves the console (local_cloud.console)

    @property
    def api_url(self) -> str:
        return self.api.url

    def token(self, customer: str) -> str:
        """A fresh Cognito ID token for a demo customer ("alice" or "bob")."""
        login = self.customers[customer]
        return id_token(self.cloud, login.username, login.password)

    def outputs(self) -> dict[str, str]:
        """The template's outputs with local values; URLs of the API point at the local API."""
        deployed_api = f"https://{self.api.api_id}.execute-api."
        resolved: dict[str, str] = {}
        for key, value in self.cloud.template.outputs.items():
            text = str(self.cloud.template.resolve(value))
            if text.startswith(deployed_api):
                text = self.api.url + text.split(f"/{self.api.stage}", 1)[1]
            resolved[key] = text
        return resolved


class _DeliveryLoop:
    """Lambda's pollers, Scheduler's clock and an operator's eyes, in one background thread."""

    def __init__(self, local: LocalCloud, watch_code: bool) -> None:
        self._local = local
        self._watch_code = watch_code
        self._executions = ExecutionWatcher(local.cloud, local.timeline)
        self._dead_letters = DeadLetterWatcher(local.cloud, local.timeline)
        self._last_reload_check = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-cloud-delivery", daemon=True)

        self._step: str | None = None  # what the loop is doing now, when it is doing anything

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_seconds: float) -> str | None:
        """Finish the pass under way (for up to `timeout_seconds`); what it was still doing if it did not."""
        self._stop.set()
        self._thread.join(timeout_seconds)
        return self.doing if self._thread.is_alive() else None

    @property
    def doing(self) -> str | None:
        delivering = self._local.sources.delivering
        return f"delivering to {delivering}" if delivering else self._step

    def running_executions(self) -> list[tuple[str, str | None]]:
        """Saga executions not ended when last looked at: (name, order id)."""
        return self._executions.running()

    def _run(self) -> None:
        last_look = 0.0
        while not self._stop.is_set():
            try:
                self._step = "delivering streams and queues"
                delivered = self._local.sources.deliver()
                self._step = "firing due schedules"
                for firing in self._local.schedules.fire_due():
                    self._local.timeline.add("schedule", str(firing), order_id_in(firing.response))
                if time.monotonic() - last_look > WATCH_SECONDS:
                    last_look = time.monotonic()
                    self._step = "looking at executions and dead-letter queues"
                    self._look_around()
            except Exception as error:  # one bad pass must not stop delivery for everything else
                self._local.timeline.add("local", f"delivery pass failed: {type(error).__name__}: {error}")
                delivered = 0
            self._step = None
            if not delivered:
                self._stop.wait(DELIVERY_SECONDS)

    def _look_around(self) -> None:
        self._executions.poll()
        self._dead_letters.poll()
        if self._watch_code and time.monotonic() - self._last_reload_check > RELOAD_SECONDS:
            self._last_reload_check = time.monotonic()
            for logical_id in self._local.cloud.functions.reload_changed():
                self._local.timeline.add("reload", f"{logical_id}: code changed, reloaded")


FUNCTION_LOG = ROOT / ".local" / "functions.log"


@contextmanager
def handler_logs_in_file(path: Path = FUNCTION_LOG) -> Iterator[Path]:
    """The handlers' JSON logs (Powertools writes to stdout) go to a file, so the terminal stays readable.

    Enter it before the functions load: a Powertools Logger keeps the stream it was created with.
    """
    path.parent.mkdir(exist_ok=True)
    saved = sys.stdout
    with path.open("a", buffering=1) as log:
        sys.stdout = log
        try:
            yield path
        finally:
            sys.stdout = saved


class _KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, keeping each connection open for the client's next request (HTTP/1.1 keep-alive).

    werkzeug's development server closes every connection after one answer, then waits up to 10 ms for more
    of the request: so every AWS call of every function cost a new connection, a new thread in this process
    and that wait. Here the request's body is read whole before the app runs (an AWS call's body is small; a
    chunked one is read to its end), so nothing of it can be left on the connection for the next request,
    and the answer goes with its length.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # The answer's head and body are two writes: on a kept connection Nagle's algorithm holds the body
        # until the client acknowledges the head, which it delays (up to 40 ms on Linux): per AWS call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _open_connections(self.server).add(self.connection)

    def finish(self) -> None:
        _open_connections(self.server).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's reader reads it to its end
            body = environ["wsgi.input"].read()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        environ.pop("wsgi.input_terminated", None)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        answered: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            del exc_info  # nothing is sent before the app returns, so a later start_response simply replaces
            answered[:] = [status, headers]
            return written.append

        try:
            result = self.server.app(environ, start_response)
            try:
                written.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # what werkzeug answers too: the app's failure is a 500, the server goes on
            logging.getLogger(__name__).exception("the local AWS failed to answer %s %s", self.command, self.path)
            answered[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]]
            written[:] = [b"Internal Server Error"]
        self._answer(answered, b"".join(written))

    def _answer(self, answered: list[Any], payload: bytes) -> None:
        status, headers = answered
        code, _, reason = str(status).partition(" ")
        self.send_response(int(code), reason)
        bodiless = self.command == "HEAD" or int(code) < 200 or int(code) in {204, 304}
        for key, value in headers:
            # A HEAD answer keeps the length of what GET would send; every other gets the length sent here.
            if key.lower() in {"connection", "transfer-encoding"} or (key.lower() == "content-length" and not bodiless):
                continue
            self.send_header(key, value)
        if not bodiless:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not bodiless:
            self.wfile.write(payload)


def _open_connections(server: Any) -> set[socket.socket]:
    """The connections a server's handlers hold open (kept alive between requests), so that `stop` can end them."""
    if not hasattr(server, "open_connections"):
        server.open_connections = set()
    connections: set[socket.socket] = server.open_connections
    return connections


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server, except that a port it cannot listen on fails `start` instead of hanging it,
    and that with `roles` its app sits behind IAM's gate.

    moto binds in its own thread and sets its ready event only once bound; werkzeug answers a taken port
    with sys.exit in that thread, so `start` used to wait for the event forever.
    """

    bind_error: BaseException | None = None
    roles: Roles | None = None  # set: IAM is enforced, the gate checks the calls of the roles' credentials

    def _server_entry(self) -> None:
        try:
            app = DomainDispatcherApplication(create_backend_app)
            gated = Gate(app, self.roles) if self.roles else app
            self._server = make_server(self._ip_address, self._port, gated, True, request_handler=_KeepAliveHandler)
            self._server_ready_event.set()
            self._server.serve_forever()
        except (OSError, SystemExit) as error:
            self.bind_error = error
            self._server_ready_event.set()

    def stop(self) -> None:
        """Stop listening, and end the connections kept alive: a client's next call must not reach a stopped cloud."""
        super().stop()
        if self._server is not None:
            for connection in list(_open_connections(self._server)):
                with contextlib.suppress(OSError):  # the client closed it meanwhile
                    connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def local_aws(port: int, roles: Roles | None = None) -> Iterator[str]:
    """moto as a server on HOST:port (0: any free port), with this process's boto3 pointed at it.

    `roles`: IAM enforced, each call signed with a role's credentials checked against the role's policies.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call would bury the timeline
    server = _MotoServer(ip_address=HOST, port=port, verbose=False)
    server.roles = roles
    server.start()
    if server.bind_error is not None:
        raise PortUnavailable(f"port {port} on {HOST} for {AWS.what} cannot be listened on: {server.bind_error}")
    port = server.get_host_and_port()[1]
    endpoint = f"http://{HOST}:{port}"
    servers = [server]
    bridge = bridge_address()
    if bridge:  # `sam local`'s containers reach the host here, not on loopback (moto's state is shared)
        on_bridge = _MotoServer(ip_address=bridge, port=port, verbose=False)
        on_bridge.roles = roles
        on_bridge.start()
        if on_bridge.bind_error is None:
            servers.append(on_bridge)
        else:  # the local cloud still runs; only sam local's containers cannot reach it
            logging.getLogger(__name__).warning("moto not served on %s:%s: %s", bridge, port, on_bridge.bind_error)
    saved_sfn = dict(default_user_config["stepfunctions"])
    # Run state machines (moto only records executions by default).
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    account = fake_account(endpoint) | {"MOTO_PORT": str(port)}
    try:
        # MOTO_PORT is where moto's ASL executor sends its Lambda calls.
        with temporary_environment(account):
            yield endpoint
    finally:
        for running in servers:
            running.stop()
        moto_api_backend.reset()  # a later local cloud in this process starts from an empty account
        default_user_config["stepfunctions"].update(saved_sfn)  # type: ignore[typeddict-item]  # restoring a copy


@contextmanager
def running_local_cloud(  # noqa: PLR0917 - ports first, as `python -m local_cloud` takes them
    api_port: int = API.configured,
    aws_port: int = AWS.configured,
    control_port: int = CONTROL.configured,
    parameters: dict[str, Any] | None = None,
    timeline: Timeline | None = None,
    watch_code: bool = True,
    sandboxes: bool = False,
    template_path: Path = TEMPLATE_PATH,
) -> Iterator[LocalCloud]:
    """Everything `make local` runs, until the block ends. Ports 0 take free ports (the tests use that).

    `sandboxes`: each function in worker processes of its own (`make local`), not in this process, with
    its own role's credentials, and IAM enforced on them (and on the state machines' and targets' roles).

    PortUnavailable, before anything starts, if a port is taken.
    """
    timeline = timeline or Timeline()
    ensure_free({API: api_port, AWS: aws_port, CONTROL: control_port})
    with ExitStack() as stack:
        stack.enter_context(lighter_moto())
        stack.enter_context(atomic_dynamodb())  # after lighter_moto: it wraps what that patched
        stack.enter_context(without_handled_missing_paths())
        roles = Roles(observe=lambda denial: timeline.add("iam", denial.text())) if sandboxes else None
        endpoint = stack.enter_context(local_aws(aws_port, roles))
        cloud = provision(Template.load(template_path, overrides=parameters))
        if roles:
            roles.create(cloud.template)
            settings = SandboxSettings(endpoint, timeline_observer(timeline), _handler_log(), roles.credentials)
            cloud.functions.run_in_sandboxes(settings)
            stack.callback(cloud.functions.close)  # last: after the work in hand has wound down
            stack.enter_context(state_machines_sign_as_their_roles(roles))
        stack.enter_context(invoke_in_process(cloud.functions))
        stack.enter_context(deliver_rule_targets(roles.authorise if roles else None))
        stack.enter_context(watch_the_bus(timeline))
        seed_demo_stock(cloud)
        for logical_id in cloud.template.of_type("AWS::Lambda::Function"):
            cloud.functions.get(logical_id)  # warm, as Lambda sandboxes would be after the first requests
        api = ApiGateway(cloud, HOST, api_port, observe=partial(_report_exchange, timeline))
        stack.callback(api.stop)  # closes its socket, had the start-up failed before _wind_down is registered
        cloud.template.physical_ids[api.api_logical_id] = api.api_id  # what `!Ref OrdersApi` gives, for outputs
        local = LocalCloud(
            cloud=cloud,
            api=api,
            aws_endpoint=endpoint,
            control_url="",
            timeline=timeline,
            sources=EventSources(cloud, observe=partial(report_invocation, timeline)),
            schedules=Schedules(cloud, authorise=roles.authorise if roles else None),
            customers=seed_demo_customers(cloud),
        )
        control = LoopbackHTTPServer((HOST, control_port), partial(_ControlHandler, local=local))
        local.control_url = f"http://{HOST}:{control.server_address[1]}"
        stack.callback(control.server_close)
        delivery = _DeliveryLoop(local, watch_code)
        stack.callback(_wind_down, local, control, delivery)
        api.start()
        threading.Thread(target=control.serve_forever, name="local-cloud-control", daemon=True).start()
        delivery.start()
        yield local


def _handler_log() -> IO[str] | None:
    """Where sandboxed handlers write: the function log when `handler_logs_in_file` is on, else this stderr."""
    try:
        sys.stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return sys.stdout if sys.stdout is not sys.__stdout__ else None


def _wind_down(local: LocalCloud, control: LoopbackHTTPServer, delivery: _DeliveryLoop) -> None:
    """Take no new work, give the work in hand STOP_GRACE_SECONDS, and name in the timeline what did not finish."""
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    local.api.stop()
    control.shutdown()
    control.server_close()
    unfinished = delivery.stop(STOP_GRACE_SECONDS)
    while local.api.answering() and time.monotonic() < deadline:
        time.sleep(DELIVERY_SECONDS)
    cut_short = [f"answering {request}" for request in local.api.answering()]
    cut_short += [unfinished] if unfinished else []
    for what in cut_short:
        local.timeline.add("local", f"stopped after {STOP_GRACE_SECONDS:.0f} s while still {what}: not finished")
    for name, order_id in delivery.running_executions():
        local.timeline.add("local", f"saga execution {name} was still running: gone with the in-memory state", order_id)


def _report_exchange(timeline: Timeline, exchange: Exchange) -> None:
    answered = f"-> {exchange.status} ({exchange.duration_ms:.0f} ms)"
    status = json_field(exchange.response_body, "status")
    message = json_field(exchange.response_body, "message")
    detail = f" {status}" if status else (f" {message}" if message and exchange.status >= 400 else "")
    order_id = order_id_in(exchange.path, exchange.response_body, exchange.request_body)
    timeline.add("api", f"{exchange.method} {exchange.path} {answered}{detail}", order_id)


class _ControlHandler(BaseHTTPRequestHandler):
    """GET /outputs, GET /token/<customer>, POST /schedules/<name>/fire: what the scripts ask of a local cloud."""

    def __init__(self, *args: Any, local: LocalCloud, **kwargs: Any) -> None:
        self._local = local
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path == "/outputs":
            self._answer(200, {"endpoint": self._local.aws_endpoint, "outputs": self._local.outputs()})
        elif self.path.startswith("/token/") and self.path.removeprefix("/token/") in self._local.customers:
            self._answer(200, {"idToken": self._local.token(self.path.removeprefix("/token/"))})
        else:
            self._answer(404, {"message": f"no {self.path} here; try /outputs or /token/alice"})

    def do_POST(self) -> None:
        name = self.path.removeprefix("/schedules/").removesuffix("/fire")
        if self.path.startswith("/schedules/") and self.path.endswith("/fire") and name in self._local.schedules.names:
            firing = self._local.schedules.fire(name)
            self._local.timeline.add("schedule", f"fired by hand: {firing}")
            self._answer(200, {"fired": name, "outcome": str(firing.outcome), "response": firing.response})
        else:
            self._answer(404, {"message": f"no schedule {name}; there are {self._local.schedules.names}"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # the timeline says what matters
