"""The console's HTTP side: the page and its assets, JSON reads, actions, live updates and the API proxy.

GET  /                               the page (static/index.html); /static/* its script and style
GET  /api                            the OpenAPI description in Swagger UI (Powertools' own assets)
GET  /data/...                       what the page shows, as JSON (views.Console)
POST /actions/...                    what the page does, each through an AWS API of the local cloud
GET  /stream                         server-sent events: "changed" whenever the timeline grows
ANY  /try/...                        the orders API, for Swagger UI's "Try it out" (the API sends no CORS
                                     headers, so a page on another port could not call it directly)

Only requests addressed to this server by its loopback name are answered (no DNS rebinding), and an
action must come as JSON from the console's own origin (a form on another site cannot send that).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from aws_lambda_powertools.event_handler.openapi import swagger_ui

from local_cloud.console.views import Console, ConsoleError

STATIC = Path(__file__).parent / "static"
SWAGGER_ASSETS = Path(swagger_ui.__file__).parent  # Powertools ships Swagger UI's bundle and style
_ASSETS = {
    "/static/console.js": (STATIC / "console.js", "text/javascript"),
    "/static/console.css": (STATIC / "console.css", "text/css"),
    "/static/api.js": (STATIC / "api.js", "text/javascript"),
    "/static/swagger-ui-bundle.min.js": (SWAGGER_ASSETS / "swagger-ui-bundle.min.js", "text/javascript"),
    "/static/swagger-ui.min.css": (SWAGGER_ASSETS / "swagger-ui.min.css", "text/css"),
    "/": (STATIC / "index.html", "text/html; charset=utf-8"),
    "/api": (STATIC / "api.html", "text/html; charset=utf-8"),
}
_FORWARDED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Webhook-Signature", "Webhook-Timestamp")
STREAM_POLL_SECONDS = 0.25
STREAM_HEARTBEAT_SECONDS = 2.0  # queues and schedules change without a timeline line too: refresh now and then


class ConsoleHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *args: Any, console: Console, stopping: threading.Event, **kwargs: Any) -> None:
        self._console = console
        self._stopping = stopping
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------------------------------------ routing

    def do_GET(self) -> None:
        if not self._addressed_to_us():
            return
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        path = unquote(url.path)
        if path in _ASSETS:
            self._file(*_ASSETS[path])
        elif path == "/stream":
            self._stream()
        elif path.startswith("/try/"):
            self._proxy()
        elif path.startswith("/data/"):
            self._json_of(lambda: self._read(path.removeprefix("/data"), query))
        else:
            self._answer(404, {"message": f"no {path} here"})

    def do_POST(self) -> None:
        if not self._addressed_to_us():
            return
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/try/"):
            self._proxy()
            return
        if not path.startswith("/actions/"):
            self._answer(404, {"message": f"no {path} here"})
            return
        origin = self.headers.get("Origin")
        if self.headers.get_content_type() != "application/json" or (origin and origin != self._own_origin()):
            self._answer(403, {"message": "actions are JSON requests from the console's own page"})
            return
        body = self._body()
        try:
            arguments = json.loads(body or b"{}")
        except ValueError:
            self._answer(400, {"message": "the body is not JSON"})
            return
        self._json_of(lambda: self._act(path.removeprefix("/actions"), arguments))

    do_PUT = do_PATCH = do_DELETE = do_POST  # noqa: N815 - only /try/ takes them; the rest answers 404

    def _read(self, path: str, query: dict[str, str]) -> Any:
        console = self._console
        routes: list[tuple[str, Callable[..., Any]]] = [
            (r"/orders", lambda: console.orders(query.get("status", ""), query.get("customer", ""))),
            (r"/orders/([^/]+)", console.order),
            (r"/sample-order", console.sample_order),
            (r"/queues", console.queues),
            (r"/queues/([^/]+)/messages", console.peek),
            (r"/bus", console.bus),
            (r"/schedules", console.schedules),
            (r"/openapi.json", lambda: console.openapi(f"{self._own_origin()}/try")),
            (r"/token/([^/]+)", lambda customer: {"idToken": console.token(customer)}),
        ]
        return _route(routes, path)

    def _act(self, path: str, arguments: dict[str, Any]) -> Any:
        console = self._console
        routes: list[tuple[str, Callable[..., Any]]] = [
            (r"/orders", lambda: console.place_order(str(arguments.get("customer")), dict(arguments.get("order", {})))),
            (r"/orders/([^/]+)/payment", lambda order_id: console.pay(order_id, str(arguments.get("outcome")))),
            (r"/queues/([^/]+)/redrive", console.redrive),
            (r"/replay", lambda: console.replay(str(arguments.get("from")), str(arguments.get("to")))),
            (r"/schedules/([^/]+)/fire", console.fire),
        ]
        return _route(routes, path)

    # ------------------------------------------------------------------------------------------------ answers

    def _addressed_to_us(self) -> bool:
        port = self.server.server_address[1]  # type: ignore[index]  # an AF_INET server: (host, port)
        if self.headers.get("Host") in {f"127.0.0.1:{port}", f"localhost:{port}"}:
            return True
        self._answer(421, {"message": f"the console answers to 127.0.0.1:{port} only"})
        return False

    def _own_origin(self) -> str:
        return f"http://{self.headers.get('Host')}"

    def _json_of(self, produce: Callable[[], Any]) -> None:
        try:
            body = produce()
        except NoRoute as error:
            self._answer(404, {"message": str(error)})
        except ConsoleError as error:
            self._answer(400, {"message": str(error)})
        except Exception as error:  # shown on the page, not lost in a dropped connection
            self._answer(500, {"message": f"{type(error).__name__}: {error}"})
        else:
            self._answer(200, body)

    def _answer(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body, default=str).encode(), "application/json")

    def _file(self, path: Path, content_type: str) -> None:
        self._send(200, path.read_bytes(), content_type)

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _stream(self) -> None:
        """Server-sent events: one "changed" event per growth of the timeline, and a heartbeat."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        seen, last_sent = -1, 0.0
        try:
            while not self._stopping.is_set():
                count = len(self._console.local.timeline.entries())
                if count != seen or time.monotonic() - last_sent > STREAM_HEARTBEAT_SECONDS:
                    seen, last_sent = count, time.monotonic()
                    self.wfile.write(f"event: changed\ndata: {count}\n\n".encode())
                    self.wfile.flush()
                self._stopping.wait(STREAM_POLL_SECONDS)
        except OSError:
            return  # the page went away

    def _proxy(self) -> None:
        target = self._console.local.api_url + self.path.removeprefix("/try")
        body = self._body() if self.command != "GET" else None
        call = urllib.request.Request(target, data=body, method=self.command)  # noqa: S310 - the local API's URL
        for name in _FORWARDED_HEADERS:
            if self.headers.get(name):
                call.add_header(name, str(self.headers.get(name)))
        try:
            with urllib.request.urlopen(call, timeout=30) as response:  # noqa: S310 - as above
                status, payload, kind = response.status, response.read(), response.headers.get_content_type()
        except urllib.error.HTTPError as error:
            status, payload, kind = error.code, error.read(), error.headers.get_content_type()
        self._send(status, payload, kind)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # the timeline says what matters


class NoRoute(LookupError):
    pass


def _route(routes: list[tuple[str, Callable[..., Any]]], path: str) -> Any:
    for pattern, action in routes:
        match = re.fullmatch(pattern, path)
        if match:
            return action(*match.groups())
    raise NoRoute(f"no {path} here")
