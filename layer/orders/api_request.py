"""An API Gateway REST request (the proxy integration's event), read as the API functions need it.

The event is a plain dict; this names its parts once. Header names are case-insensitive, as in HTTP:
API Gateway passes them as the client spelled them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any


class Headers(Mapping[str, str]):
    """A request's headers, looked up whatever the case of the name."""

    def __init__(self, headers: Mapping[str, Any] | None) -> None:
        self._by_lower_name = {str(name).lower(): str(value) for name, value in (headers or {}).items()}

    def __getitem__(self, name: str) -> str:
        return self._by_lower_name[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_lower_name)

    def __len__(self) -> int:
        return len(self._by_lower_name)


class ApiRequest:
    """One request: what API Gateway matched it to, its parameters, headers and body, and who sent it."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self.headers = Headers(event.get("headers"))

    @property
    def method(self) -> str:
        return str(self.event.get("httpMethod", ""))

    @property
    def resource(self) -> str | None:
        """The API's path template API Gateway matched, e.g. /orders/{orderId}; None in a hand-made event."""
        resource = self.event.get("resource")
        return str(resource) if resource else None

    @property
    def path(self) -> str:
        return str(self.event.get("path", ""))

    @property
    def path_parameters(self) -> dict[str, str]:
        return dict(self.event.get("pathParameters") or {})

    @property
    def query_string_parameters(self) -> dict[str, str]:
        return dict(self.event.get("queryStringParameters") or {})

    @property
    def decoded_body(self) -> str | None:
        """The body as text; API Gateway base64-encodes a body it was told is binary (binascii.Error if that is
        not base64, UnicodeDecodeError if what it encodes is not UTF-8)."""
        body = self.event.get("body")
        if body is None:
            return None
        if self.event.get("isBase64Encoded"):
            return base64.b64decode(body, validate=True).decode()
        return str(body)

    @property
    def claims(self) -> Mapping[str, Any]:
        """The Cognito authorizer's claims of the caller's token; empty without an authorizer (`sam local`)."""
        authorizer = (self.event.get("requestContext") or {}).get("authorizer") or {}
        return authorizer.get("claims") or {}

    @property
    def request_id(self) -> str | None:
        return (self.event.get("requestContext") or {}).get("requestId")
