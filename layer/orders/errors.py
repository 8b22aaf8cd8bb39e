"""Domain errors. Each means one thing to a caller; api.py maps them to HTTP once."""


class OrderError(Exception):
    """Base of every error the domain raises on purpose."""


class OrderNotFound(OrderError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found")


class OrderConflict(OrderError):
    """The order's state does not allow the command (cancelling a shipped order, say)."""


class IdempotencyKeyReused(OrderError):
    """The Idempotency-Key already placed an order with a different body."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different request body")


class RequestInProgress(OrderError):
    """The same Idempotency-Key is being served by another request right now."""

    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still in progress; retry shortly")


class VersionConflict(OrderError):
    """Another writer appended this version first; reload and decide again."""

    def __init__(self, order_id: str, version: int) -> None:
        super().__init__(f"order {order_id} already has version {version}")


class Unauthenticated(OrderError):
    """The request carries no customer identity (no Cognito claims)."""


class InvalidRequest(OrderError):
    """A request value the model could not check on its own, such as a tampered page token."""


class ProjectionGap(OrderError):
    """An event arrived before the one that creates the order's view; retry it later."""
