"""The sample events under events/, the same files `sam local invoke -e` takes, and what each should produce.

One table of expectations: tests/handlers/test_sample_events.py runs every event in-process against it,
and `make sam-local` (scripts/sam_local.py) runs every event through `sam local invoke` against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"


def sample_event(path: str) -> dict[str, Any]:
    """A fresh copy of one event file, e.g. sample_event("place_order/valid.json")."""
    event: dict[str, Any] = json.loads((EVENTS / path).read_text())
    return event


FUNCTION_OF_FOLDER = {
    "place_order": "PlaceOrderFunction",
    "cancel_order": "CancelOrderFunction",
    "get_order": "GetOrderFunction",
    "list_orders": "ListOrdersFunction",
    "project_orders": "ProjectOrdersFunction",
    "publish_events": "PublishEventsFunction",
    "reserve_inventory": "ReserveInventoryFunction",
    "request_payment": "RequestPaymentFunction",
    "arrange_shipment": "ArrangeShipmentFunction",
    "complete_order": "CompleteOrderFunction",
    "refund_payment": "RefundPaymentFunction",
    "release_inventory": "ReleaseInventoryFunction",
    "fail_order": "FailOrderFunction",
    "receive_payment_webhook": "ReceivePaymentWebhookFunction",
    "process_payment_events": "ProcessPaymentEventsFunction",
    "send_notifications": "SendNotificationsFunction",
    "record_analytics": "RecordAnalyticsFunction",
    "reconcile_orders": "ReconcileOrdersFunction",
    "aggregate_sales": "AggregateSalesFunction",
    "summarise_daily_sales": "SummariseDailySalesFunction",
}

SEQUENCE = "4959033827149025660855969253836157109592157598913658889"  # the sample Kinesis records' prefix
# The window state after events/aggregate_sales/window_batch.json: two completed orders, an OrderPlaced ignored.
WINDOW_AFTER_BATCH: dict[str, Any] = {
    "firstSequenceNumber": SEQUENCE + "01",
    "counted": ["4b7e9c2a-1d3f-4e8a-b6c5-0f9e8d7c6c01", "4b7e9c2a-1d3f-4e8a-b6c5-0f9e8d7c6c02"],
    "sales": {
        "2026-11-22T13:20#EUR": {"orders": 1, "revenue": 2599},
        "2026-11-22T13:20#USD": {"orders": 1, "revenue": 1800},
    },
}


@dataclass(frozen=True)
class Expect:
    status: int | None = None  # API events: the HTTP status
    failures: tuple[str, ...] | None = None  # stream events: the sequence numbers reported for retry
    after_order: bool = False  # run once Alice's order from place_order/valid.json is placed and projected
    result: dict[str, Any] | None = None  # saga steps and scheduled jobs: what the handler returns
    error: str | None = None  # saga steps: the error the state machine sees (the exception's class name)
    status_under_sam_local: int | None = None  # where `sam local` (AWS_SAM_LOCAL=true) answers otherwise
    state: dict[str, Any] | None = None  # tumbling-window consumers: the window state the response carries on

    def status_for(self, sam_local: bool) -> int | None:
        if sam_local and self.status_under_sam_local is not None:
            return self.status_under_sam_local
        return self.status

    def mismatch(self, response: Any, raised: str | None, sam_local: bool = False) -> str | None:
        """Why this outcome (the handler's response, or the class name of what it raised) is not the expected one."""
        if self.error is not None or raised is not None:
            return None if raised == self.error else f"expected error {self.error}, got {raised or response!r}"
        if self.result is not None:
            matched = isinstance(response, dict) and response.items() >= self.result.items()
            return None if matched else f"expected {self.result} within {response!r}"
        status = self.status_for(sam_local)
        if status is not None:
            return _api_mismatch(status, response)
        window = {} if self.state is None else {"state": self.state}
        expected = {"batchItemFailures": [{"itemIdentifier": number} for number in self.failures or ()], **window}
        return None if response == expected else f"expected {expected}, got {response!r}"


def _api_mismatch(status: int, response: Any) -> str | None:
    if not isinstance(response, dict) or response.get("statusCode") != status:
        return f"expected status {status}, got {response!r}"
    try:
        body = json.loads(response["body"])
    except (KeyError, TypeError, ValueError):
        return f"the body is not JSON: {response!r}"
    if not isinstance(body, dict):
        return f"the body is not a JSON object: {body!r}"
    if status >= 400 and not body.get("message"):
        return f"a {status} without a message: {body!r}"
    return None


EXPECTATIONS = {
    "place_order/valid.json": Expect(status=201),
    "place_order/duplicate.json": Expect(status=201, after_order=True),
    "place_order/same_key_other_body.json": Expect(status=422, after_order=True),
    "place_order/invalid_body.json": Expect(status=422),
    "place_order/malformed_json.json": Expect(status=422),
    "place_order/missing_key.json": Expect(status=400),
    "place_order/unauthenticated.json": Expect(status=401),
    # The local identity header counts only under `sam local`.
    "place_order/sam_local_identity.json": Expect(status=401, status_under_sam_local=201),
    "cancel_order/valid.json": Expect(status=200, after_order=True),
    "cancel_order/other_customer.json": Expect(status=404, after_order=True),
    "cancel_order/unknown_order.json": Expect(status=404),
    "get_order/valid.json": Expect(status=200, after_order=True),
    "get_order/other_customer.json": Expect(status=404, after_order=True),
    "get_order/unknown_order.json": Expect(status=404),
    "list_orders/valid.json": Expect(status=200, after_order=True),
    "list_orders/other_customer.json": Expect(status=200, after_order=True),
    "list_orders/invalid_limit.json": Expect(status=422),
    "list_orders/foreign_token.json": Expect(status=400),
    "project_orders/stream_batch.json": Expect(failures=()),
    "project_orders/stale_record.json": Expect(failures=(), after_order=True),
    "publish_events/stream_batch.json": Expect(failures=()),
    "publish_events/unreadable_record.json": Expect(failures=("999000000000000000001",)),
    "reserve_inventory/placed_order.json": Expect(result={"status": "INVENTORY_RESERVED"}, after_order=True),
    "reserve_inventory/unknown_order.json": Expect(error="OrderNotFound"),
    # A step that runs before its turn is retried by the state machine, never acted on.
    "request_payment/before_reservation.json": Expect(error="TransientFailure", after_order=True),
    "arrange_shipment/before_payment.json": Expect(error="TransientFailure", after_order=True),
    "complete_order/before_shipment.json": Expect(error="TransientFailure", after_order=True),
    "refund_payment/nothing_captured.json": Expect(result={"status": "PLACED", "version": 1}, after_order=True),
    "release_inventory/nothing_reserved.json": Expect(result={"status": "PLACED", "version": 1}, after_order=True),
    "fail_order/out_of_stock.json": Expect(result={"status": "FAILED", "version": 2}, after_order=True),
    "fail_order/payment_timed_out.json": Expect(result={"status": "FAILED", "version": 2}, after_order=True),
    "receive_payment_webhook/stale.json": Expect(status=401),
    "receive_payment_webhook/unsigned.json": Expect(status=401),
    # Alice's order has not reached its payment yet: the outcome is retried until it has, not dropped.
    "process_payment_events/payment_succeeded.json": Expect(
        failures=("8e0b6c52-4d1f-4a7e-b3c9-2f5a7d9e1c01",), after_order=True
    ),
    "process_payment_events/payment_failed.json": Expect(
        failures=("8e0b6c52-4d1f-4a7e-b3c9-2f5a7d9e1c02",), after_order=True
    ),
    "process_payment_events/before_payment_requested.json": Expect(
        failures=("8e0b6c52-4d1f-4a7e-b3c9-2f5a7d9e1c03",), after_order=True
    ),
    "send_notifications/outcome_batch.json": Expect(failures=()),
    "send_notifications/poison_record.json": Expect(failures=("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02",)),
    "record_analytics/completed_batch.json": Expect(failures=()),
    "record_analytics/duplicate.json": Expect(failures=()),
    "record_analytics/other_outcome.json": Expect(failures=()),
    "reconcile_orders/scheduled.json": Expect(result={"expired": [], "settled": [], "skipped": 0}, after_order=True),
    "aggregate_sales/window_batch.json": Expect(failures=(), state=WINDOW_AFTER_BATCH),
    # The same event put on the stream twice (a new sequence number): counted once, the state is unchanged.
    "aggregate_sales/redelivered_record.json": Expect(failures=(), state=WINDOW_AFTER_BATCH),
    "aggregate_sales/unreadable_record.json": Expect(
        failures=(SEQUENCE + "05",),
        state=WINDOW_AFTER_BATCH
        | {
            "counted": [*WINDOW_AFTER_BATCH["counted"], "4b7e9c2a-1d3f-4e8a-b6c5-0f9e8d7c6c03"],
            "sales": WINDOW_AFTER_BATCH["sales"] | {"2026-11-22T13:20#GBP": {"orders": 1, "revenue": 4200}},
        },
    ),
    # The window closes: its totals are written and the state ends.
    "aggregate_sales/window_closed.json": Expect(failures=(), state={}),
    # The run at 02:00 on 23 November summarises the 22nd; a fresh cloud sold nothing, which is published too.
    "summarise_daily_sales/scheduled.json": Expect(result={"day": "2026-11-22", "published": True, "sales": []}),
}

ALICES_ORDER_EVENT = "place_order/valid.json"  # what `after_order` places (and projects) first


def function_of(path: str) -> str:
    """The logical id of the function a sample event is for: its folder's."""
    return FUNCTION_OF_FOLDER[path.split("/", maxsplit=1)[0]]
