"""How a delivery of the payment provider's webhook is signed and checked (the contract: orders.webhook).

Apart from orders.webhook so that the receiving API function, which checks the signature and nothing
else of the delivery's records, does not import the domain's events with them at every cold start.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from orders.errors import InvalidSignature

TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
SIGNATURE_SCHEME = "v1"
TOLERANCE_SECONDS = 300

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: int, body: str) -> str:
    """The Webhook-Signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify(secret: str, timestamp: str | None, signature: str | None, body: str, now: float | None = None) -> None:
    """Raise InvalidSignature unless `signature` signs `body` at `timestamp`, and `timestamp` is recent.

    Checks the raw body, before anything parses it: what is not signed is not read.
    """
    if not timestamp or not signature:
        raise InvalidSignature(f"the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise InvalidSignature(f"{TIMESTAMP_HEADER} must be a time in unix seconds")
    if not signature.startswith(f"{SIGNATURE_SCHEME}="):
        raise InvalidSignature(f"{SIGNATURE_HEADER} must be {SIGNATURE_SCHEME}=<hex HMAC-SHA256>")
    # The age before the digest: a stale delivery is refused as stale whatever secret signed it.
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is more than {TOLERANCE_SECONDS} seconds away from now")
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header may carry anything.
    if not hmac.compare_digest(sign(secret, int(timestamp), body).encode(), signature.encode()):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body")
