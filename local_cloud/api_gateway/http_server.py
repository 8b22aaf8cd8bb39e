"""The REST API's HTTP side: requests read off a socket as API Gateway reads them, answers written back."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from local_cloud.api_gateway.proxy import PAYLOAD_LIMIT, HttpRequest, HttpResponse


class RequestHandler(BaseHTTPRequestHandler):
    """HTTP in and out; everything API Gateway decides is in `answer` (ApiGateway.handle)."""

    protocol_version = "HTTP/1.1"

    def __init__(self, *args: Any, answer: Callable[[HttpRequest], HttpResponse], **kwargs: Any) -> None:
        self.answer = answer  # set first: the base class serves the request from its constructor
        super().__init__(*args, **kwargs)

    def __getattr__(self, name: str) -> Callable[[], None]:
        """do_GET, do_TRACE, do_QUERY...: http.server calls do_<METHOD>, and would answer 501 in HTML where none is.

        Every method goes to the gateway instead, which answers 403 to those the API does not declare.
        """
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, a line over 64 KiB, over 100 headers) as JSON, not HTML."""
        del message, explain  # they fill in http.server's HTML page; the message here is the status phrase, tersely
        body = json.dumps({"message": HTTPStatus(code).phrase}).encode()
        self.request_version = self.protocol_version  # a line http.server took for HTTP/0.9 still gets a status line
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True  # what follows on the connection cannot be trusted to be a request
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body_length(self) -> int | None:
        """Content-Length, or None after answering a value that is not one or a body over API Gateway's quota."""
        text = self.headers.get("Content-Length") or "0"
        if not text.isdigit() or not text.isascii():
            self.send_error(HTTPStatus.BAD_REQUEST)
            return None
        if int(text) > PAYLOAD_LIMIT:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)  # the body is not read: the connection closes
            return None
        return int(text)

    def _serve(self) -> None:
        length = self._body_length()
        if length is None:
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response = self.answer(request)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `observe` reports every request, the way the caller wants it printed."""
