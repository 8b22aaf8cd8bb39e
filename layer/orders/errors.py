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


class InvalidSignature(OrderError):
    """A webhook delivery whose signature or timestamp does not hold: it is not from the provider, or is replayed."""


class InvalidRequest(OrderError):
    """A request value the model could not check on its own, such as a tampered page token."""


class ProjectionGap(OrderError):
    """An event arrived before the one that creates the order's view; retry it later."""


class TransientFailure(OrderError):
    """A dependency is throttling or briefly unavailable; the caller retries with backoff."""


# The fulfilment state machine catches these by class name (the Lambda errorType): keep the names.
class FulfilmentStopped(OrderError):
    """A business outcome that ends fulfilment and starts its compensation."""


class OutOfStock(FulfilmentStopped):
    pass


class PaymentDeclined(FulfilmentStopped):
    pass


class ShipmentFailed(FulfilmentStopped):
    pass


class OrderCancelled(FulfilmentStopped):
    """The order was cancelled (or expired) while fulfilment was under way."""


class DuplicateFulfilment(FulfilmentStopped):
    """Another execution already fulfils this order (a redelivered OrderPlaced); this one stops, touching nothing."""
