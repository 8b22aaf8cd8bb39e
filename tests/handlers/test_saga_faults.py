"""Faults injected into every step of the fulfilment saga: whatever fails, no order keeps the money or the stock.

Each step, forward and compensating, meets
  - an unexpected error: its adapter raises RuntimeError on every attempt (the step's Retry does not
    match it, a compensation's does, then its Catch takes over), and
  - a timeout: the step hangs until the whole execution times out (FulfilmentTimeoutSeconds, short
    here), then finishes its work late, as a Lambda invocation outliving its execution does,
with and without the customer cancelling while the step runs. Compensating steps are reached through
a shipment the carrier refuses, so the payment is captured and the stock held when they fail.
Every case then runs the reconciler twice and checks the invariant on PaymentsTable and InventoryTable
read directly (tests/support.py), besides the order's status.

moto runs the state machine; three of its limits shape these tests. Its retrier sleeps each interval for
real, so the waits are recorded instead of slept (the attempts still happen). A task cannot be made
to time out the way Lambda ends an invocation (Sandbox.Timedout), so the timeout is the execution's own.
And that timeout is TimeoutSeconds of real time, so the test runs the execution's clock out (ExecutionClock)
once the execution is where the timeout must find it, instead of waiting the seconds out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program import program

from local_cloud.in_process import in_process_cloud
from orders.payments import PaymentState
from orders.saga import TECHNICAL_FAILURE_REASON
from orders.webhook import PaymentWebhookType
from tests.handlers.test_fulfilment import SEEDED, Shop, events_of
from tests.support import Holdings, assert_keeps_nothing_unless_completed, holdings, sample_event, stored_events

# The execution's TimeoutSeconds in real time: a bound the tests do not wait for (they run the clock out,
# ExecutionClock) and that even a very busy machine's steps before the faulty one stay well inside.
EXECUTION_TIMEOUT_SECONDS = 60
ERROR, TIMEOUT, ABORTED = "error", "timeout", "aborted"


@dataclass
class RecordedWaits:
    seconds: list[float] = field(default_factory=list)
    # Executions of an earlier test may still run in their threads (a step that finishes late): theirs are not ours.
    earlier_threads: frozenset[threading.Thread] = field(default_factory=lambda: frozenset(threading.enumerate()))

    def sleep(self, seconds: float) -> None:
        if threading.current_thread() not in self.earlier_threads:
            self.seconds.append(seconds)


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> RecordedWaits:
    """moto's retrier waits out every interval in real time; record the waits instead (the attempts still happen)."""
    waits = RecordedWaits()
    monkeypatch.setattr(retrier_decl, "time", waits)
    return waits


class ExecutionClock:
    """moto times an execution out by joining its thread for TimeoutSeconds; `run_out` makes that time pass now.

    Every execution started while the clock is installed then times out at once (as it would once its
    TimeoutSeconds passed) unless it has ended; without `run_out` it times out in real time, as in moto.
    """

    POLL_SECONDS = 0.02

    def __init__(self) -> None:
        self._ran_out = threading.Event()
        ran_out = self._ran_out

        class ClockedThread(threading.Thread):
            def join(self, timeout: float | None = None) -> None:
                if timeout is None:
                    super().join()
                    return
                deadline = time.monotonic() + timeout
                while self.is_alive() and not ran_out.is_set() and time.monotonic() < deadline:
                    super().join(ExecutionClock.POLL_SECONDS)

        self.thread = ClockedThread

    def run_out(self) -> None:
        self._ran_out.set()


@pytest.fixture(autouse=True)
def execution_clock(monkeypatch: pytest.MonkeyPatch) -> ExecutionClock:
    clock = ExecutionClock()
    monkeypatch.setattr(program, "threading", SimpleNamespace(Thread=clock.thread))
    return clock


@pytest.fixture
def kind() -> str:
    """The failure a test injects; tests parametrize it."""
    return ERROR


@contextmanager
def provisioned(kind: str) -> Iterator[Shop]:
    """The stack as deployed, or for timeouts with an execution timeout of a few seconds."""
    parameters = {"FulfilmentTimeoutSeconds": EXECUTION_TIMEOUT_SECONDS} if kind == TIMEOUT else {}
    with in_process_cloud(parameters) as cloud:
        yield Shop(cloud)


@pytest.fixture
def shop(kind: str) -> Iterator[Shop]:
    with provisioned(kind) as provisioned_shop:
        yield provisioned_shop


@pytest.fixture
def timing_out_shop() -> Iterator[Shop]:
    with provisioned(TIMEOUT) as provisioned_shop:
        yield provisioned_shop


@dataclass(frozen=True)
class Step:
    """Where a step's fault goes: a method of an adapter its handler module holds."""

    function: str
    adapter: str
    method: str
    fails_after_acting: bool = False  # the adapter's work is done, then the step fails (nothing recorded yet)
    compensating: bool = False  # reached after a refused shipment: the payment captured, the stock held


STEPS = {
    "ReserveInventory": Step("ReserveInventoryFunction", "inventory", "reserve", fails_after_acting=True),
    "RequestPayment": Step("RequestPaymentFunction", "ledger", "record_request", fails_after_acting=True),
    "ArrangeShipment": Step("ArrangeShipmentFunction", "shipping", "arrange"),
    "CompleteOrder": Step("CompleteOrderFunction", "store", "append"),
    "RefundPayment": Step("RefundPaymentFunction", "provider", "refund", compensating=True),
    "ReleaseInventory": Step("ReleaseInventoryFunction", "inventory", "release", compensating=True),
    "FailOrder": Step("FailOrderFunction", "store", "append", compensating=True),
}


class Fault:
    """Replaces one adapter method; on the first call the customer may cancel, from inside the running step."""

    def __init__(
        self, shop: Shop, order_id: str, step: Step, kind: str, cancel: bool, *, clock: ExecutionClock | None = None
    ) -> None:
        self.shop, self.order_id, self.step, self.kind, self.cancel = shop, order_id, step, kind, cancel
        self.clock = clock  # a timeout's hanging step runs it out, rather than wait TimeoutSeconds
        self.calls = 0
        self.cancel_status: int | None = None
        self.finished_late = threading.Event()  # the hung invocation has returned, its late work all done
        self._late = False
        self._function = shop.cloud.functions.get(step.function)
        self._adapter = getattr(self._function.module, step.adapter)
        self._real: Callable[..., Any] = getattr(self._adapter, step.method)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(self._adapter, self.step.method, self)
        module, name = self._function.module, self._function.handler_name
        monkeypatch.setattr(module, name, self._signalling_the_late_finish(getattr(module, name)))

    def _signalling_the_late_finish(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """The step's handler, setting `finished_late` once the late invocation returns: after the adapter, the
        handler still writes (a refund's ledger entry), and the test must read what the whole invocation left."""

        def invoked(event: Any, context: Any) -> Any:
            try:
                return handler(event, context)
            finally:
                if self._late:
                    self.finished_late.set()

        return invoked

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        first = self.calls == 1
        if self.kind == ERROR and self.step.fails_after_acting:
            self._real(*args, **kwargs)
        if first and self.cancel:
            # The customer's cancel, through the API function, in the middle of the step (the same thread:
            # the local cloud runs one invocation at a time).
            self.cancel_status = int(self.shop.cancel(self.order_id)["statusCode"])
        if self.kind == ERROR:
            raise RuntimeError(f"injected into {self.step.function}")
        if not first:
            return self._real(*args, **kwargs)
        if self.kind == ABORTED:
            # An operator stops the execution while the step runs (moto shows it ABORTED once the step returns).
            execution = self.shop.execution(self.order_id)
            assert execution is not None
            self.shop.states.stop_execution(executionArn=execution["executionArn"], error="Operator", cause="stopped")
        else:
            self._wait_for_the_execution_to_end()
        self._late = True
        return self._real(*args, **kwargs)  # the late finish: its work lands after the execution ended

    def _wait_for_the_execution_to_end(self) -> None:
        if self.clock is not None:
            self.clock.run_out()  # the execution's time passes while this step hangs
        deadline = time.monotonic() + 10 * EXECUTION_TIMEOUT_SECONDS
        while self.shop.execution_status(self.order_id) == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError("the execution did not time out")
            time.sleep(0.1)


def place_for(shop: Shop, step: Step) -> str:
    if not step.compensating:
        return shop.place()
    address = json.loads(sample_event("place_order/valid.json")["body"])["shippingAddress"] | {"country": "AQ"}
    return shop.place(shippingAddress=address)


def drive(shop: Shop, order_id: str) -> None:
    """The customer's and the provider's part: pay when asked, until the execution ends."""
    shop.sources.settle(until=lambda: shop.finished(order_id) or shop.awaiting_payment(order_id))
    if not shop.finished(order_id) and shop.awaiting_payment(order_id):
        shop.pay(order_id, PaymentWebhookType.SUCCEEDED)
    shop.sources.settle(until=lambda: shop.finished(order_id))


def reconcile(shop: Shop) -> dict[str, Any]:
    result: dict[str, Any] = shop.cloud.functions.get("ReconcileOrdersFunction").invoke(
        sample_event("reconcile_orders/scheduled.json")
    )
    shop.sources.settle()
    return result


def ledger_and_stock(shop: Shop, order_id: str) -> tuple[Holdings, dict[str, int], list[str]]:
    return holdings(shop.cloud, order_id), shop.stock(), events_of(shop.cloud, order_id)


MONEY, STOCK = "money", "stock"


def left_held(held: Holdings) -> set[str]:
    """What an order that is not completed still holds: a payment not given back, reserved stock."""
    if held.status.value == "COMPLETED":
        return set()
    return ({MONEY} if held.payment in {"CAPTURED", "REQUESTED"} else set()) | ({STOCK} if held.reserved else set())


@dataclass(frozen=True)
class Outcome:
    execution: str  # how the execution ended
    left: set[str]  # what the order still held when it ended, before the reconciler ran
    status: str  # the order's final status
    payment: PaymentState | None  # the payment's final state in the ledger
    settled_by_reconciler: bool


CANCELLED_OR = {False: "FAILED", True: "CANCELLED"}
BOTH: set[str] = {MONEY, STOCK}
# (step, failure, cancelled while the step ran) -> what it ends in. An ended-unfulfilled order holds nothing.
OUTCOMES: dict[tuple[str, str, bool], Outcome] = {}
for cancel in (False, True):
    unfulfilled = CANCELLED_OR[cancel]
    OUTCOMES |= {
        ("ReserveInventory", ERROR, cancel): Outcome("SUCCEEDED", set(), unfulfilled, None, False),
        ("ReserveInventory", TIMEOUT, cancel): Outcome("TIMED_OUT", {STOCK}, unfulfilled, None, True),
        ("RequestPayment", ERROR, cancel): Outcome("SUCCEEDED", set(), unfulfilled, PaymentState.ABANDONED, False),
        ("RequestPayment", TIMEOUT, cancel): Outcome("TIMED_OUT", BOTH, unfulfilled, PaymentState.ABANDONED, True),
        ("ArrangeShipment", ERROR, cancel): Outcome("SUCCEEDED", set(), unfulfilled, PaymentState.REFUNDED, False),
        # Shipped late: the parcel is with the carrier, so the reconciler completes the order...
        ("ArrangeShipment", TIMEOUT, False): Outcome("TIMED_OUT", BOTH, "COMPLETED", PaymentState.CAPTURED, True),
        # ...unless it was cancelled first: then the late shipment is not recorded and the money goes back.
        ("ArrangeShipment", TIMEOUT, True): Outcome("TIMED_OUT", BOTH, "CANCELLED", PaymentState.REFUNDED, True),
        # A shipped order cannot be cancelled (409) and is completed by the reconciler.
        ("CompleteOrder", ERROR, cancel): Outcome("FAILED", BOTH, "COMPLETED", PaymentState.CAPTURED, True),
        ("CompleteOrder", TIMEOUT, cancel): Outcome("TIMED_OUT", set(), "COMPLETED", PaymentState.CAPTURED, False),
        # A refund that keeps failing still lets the stock go back, then fails the execution for the reconciler.
        ("RefundPayment", ERROR, cancel): Outcome("FAILED", {MONEY}, unfulfilled, PaymentState.REFUNDED, True),
        ("RefundPayment", TIMEOUT, cancel): Outcome("TIMED_OUT", {STOCK}, unfulfilled, PaymentState.REFUNDED, True),
        ("ReleaseInventory", ERROR, cancel): Outcome("FAILED", {STOCK}, unfulfilled, PaymentState.REFUNDED, True),
        ("ReleaseInventory", TIMEOUT, cancel): Outcome(
            "TIMED_OUT", set(), unfulfilled, PaymentState.REFUNDED, settled_by_reconciler=not cancel
        ),
        # The cancel already ended the order: failing it again has nothing to do, so the retry succeeds.
        ("FailOrder", ERROR, cancel): Outcome(
            "SUCCEEDED" if cancel else "FAILED", set(), unfulfilled, PaymentState.REFUNDED, not cancel
        ),
        ("FailOrder", TIMEOUT, cancel): Outcome("TIMED_OUT", set(), unfulfilled, PaymentState.REFUNDED, False),
    }


@pytest.mark.parametrize(
    ("step_name", "kind", "cancel"),
    [
        pytest.param(step, kind, cancel, id=f"{step}-{kind}-{'cancelled' if cancel else 'alone'}")
        for step, kind, cancel in OUTCOMES
    ],
)
def test_a_fault_in_any_step_leaves_no_money_or_stock_held(
    shop: Shop,
    step_name: str,
    kind: str,
    cancel: bool,
    *,
    monkeypatch: pytest.MonkeyPatch,
    retry_waits: RecordedWaits,
    execution_clock: ExecutionClock,
) -> None:
    step = STEPS[step_name]
    expected = OUTCOMES[step_name, kind, cancel]
    order_id = place_for(shop, step)
    fault = Fault(shop, order_id, step, kind, cancel, clock=execution_clock)
    fault.install(monkeypatch)

    drive(shop, order_id)
    if kind == TIMEOUT:
        reached = fault.finished_late.wait(timeout=3 * EXECUTION_TIMEOUT_SECONDS)
        assert reached, f"{step_name} never ran before the execution ended {shop.execution_status(order_id)}"
        shop.sources.settle()
    ended = shop.execution_status(order_id)
    left = left_held(holdings(shop.cloud, order_id))
    first = reconcile(shop)
    after_first = ledger_and_stock(shop, order_id)
    second = reconcile(shop)

    # A forward step does not retry an unknown error; a compensation does, three times, then gives up
    # (FailOrder's retry after the cancel finds the order ended: nothing to append, so it succeeds).
    retried = kind == ERROR and step.compensating
    gave_up = retried and not (step_name == "FailOrder" and cancel)
    assert (fault.calls, len(retry_waits.seconds)) == ((4, 3) if gave_up else (1, 1) if retried else (1, 0))
    if cancel:
        assert fault.cancel_status == (409 if step_name == "CompleteOrder" else 200)
    assert (ended, left) == (expected.execution, expected.left)
    held = assert_keeps_nothing_unless_completed(shop.cloud, order_id, SEEDED)
    payment = shop.payment_state(order_id)
    assert (held.status.value, payment) == (expected.status, expected.payment), events_of(shop.cloud, order_id)
    assert first["settled"] == ([order_id] if expected.settled_by_reconciler else [])
    # Delivered twice: the second run finds nothing left to do and changes nothing.
    assert second == {"expired": [], "settled": [], "skipped": 0}
    assert ledger_and_stock(shop, order_id) == after_first
    if held.status.value == "FAILED":
        reason = shop.view(order_id)["reason"]
        if step_name in {"ReserveInventory", "RequestPayment", "ArrangeShipment"}:
            assert reason == TECHNICAL_FAILURE_REASON, reason


# ---------------------------------------------------------------------- executions that ended with the order open


def test_a_cancel_after_every_compensation_failed_refunds_and_releases_itself(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: the order is PAID, its execution is over and did nothing, the customer cancels."""
    order_id = shop.place()
    for step in ("ArrangeShipment", "RefundPayment", "ReleaseInventory"):
        Fault(shop, order_id, STEPS[step], ERROR, cancel=False).install(monkeypatch)
    drive(shop, order_id)
    assert (shop.execution_status(order_id), shop.status(order_id)) == ("FAILED", "PAID")
    assert left_held(holdings(shop.cloud, order_id)) == BOTH

    first = shop.cancel(order_id)
    after_first = ledger_and_stock(shop, order_id)
    second = shop.cancel(order_id)  # delivered twice

    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    held = assert_keeps_nothing_unless_completed(shop.cloud, order_id, SEEDED)
    assert (held.status.value, shop.payment_state(order_id)) == ("CANCELLED", PaymentState.REFUNDED)
    assert ledger_and_stock(shop, order_id) == after_first
    assert events_of(shop.cloud, order_id)[-3:] == ["OrderCancelled", "PaymentRefunded", "InventoryReleased"]
    shop.sources.settle()
    assert reconcile(shop) == {"expired": [], "settled": [], "skipped": 0}


def test_a_stopped_execution_is_settled_by_the_reconciler(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    order_id = shop.place()
    fault = Fault(shop, order_id, STEPS["ReserveInventory"], ABORTED, cancel=False)
    fault.install(monkeypatch)
    shop.sources.settle(until=lambda: shop.finished(order_id))
    assert fault.finished_late.is_set()
    assert (shop.execution_status(order_id), shop.status(order_id)) == ("ABORTED", "INVENTORY_RESERVED")

    first = reconcile(shop)
    after_first = ledger_and_stock(shop, order_id)
    second = reconcile(shop)

    assert first["settled"] == [order_id]
    assert second == {"expired": [], "settled": [], "skipped": 0}
    assert ledger_and_stock(shop, order_id) == after_first
    held = assert_keeps_nothing_unless_completed(shop.cloud, order_id, SEEDED)
    assert (held.status.value, shop.payment_state(order_id)) == ("FAILED", None)
    [failed] = [event.data for event in stored_events(shop.cloud, order_id) if event.type.value == "OrderFailed"]
    assert (failed["reason"], failed["error"]) == (TECHNICAL_FAILURE_REASON, "TechnicalFailure")


def order_timed_out_awaiting_payment(shop: Shop, clock: ExecutionClock) -> str:
    """An order whose webhook never comes: the execution's time runs out while it waits for the payment."""
    order_id = shop.place()
    shop.sources.settle(until=lambda: shop.finished(order_id) or shop.awaiting_payment(order_id))
    assert shop.awaiting_payment(order_id), shop.execution_status(order_id)
    clock.run_out()
    shop.sources.settle(until=lambda: shop.finished(order_id))
    assert shop.execution_status(order_id) == "TIMED_OUT"
    return order_id


def test_an_execution_timed_out_awaiting_payment_is_settled_and_a_late_capture_refunded(
    timing_out_shop: Shop, execution_clock: ExecutionClock
) -> None:
    shop = timing_out_shop
    order_id = order_timed_out_awaiting_payment(shop, execution_clock)
    assert left_held(holdings(shop.cloud, order_id)) == BOTH

    first = reconcile(shop)
    shop.pay(order_id, PaymentWebhookType.SUCCEEDED)  # the provider captures anyway, late
    shop.sources.settle()
    second = reconcile(shop)

    assert (first["settled"], second["settled"]) == ([order_id], [])
    held = assert_keeps_nothing_unless_completed(shop.cloud, order_id, SEEDED)
    assert (held.status.value, shop.payment_state(order_id)) == ("FAILED", PaymentState.REFUNDED)
    assert events_of(shop.cloud, order_id)[-3:] == ["OrderFailed", "InventoryReleased", "PaymentRefunded"]


def test_a_cancel_after_the_execution_timed_out_gives_everything_back_without_the_reconciler(
    timing_out_shop: Shop, execution_clock: ExecutionClock
) -> None:
    shop = timing_out_shop
    order_id = order_timed_out_awaiting_payment(shop, execution_clock)

    first = shop.cancel(order_id)
    after_first = ledger_and_stock(shop, order_id)
    second = shop.cancel(order_id)

    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    held = assert_keeps_nothing_unless_completed(shop.cloud, order_id, SEEDED)
    assert (held.status.value, shop.payment_state(order_id)) == ("CANCELLED", PaymentState.ABANDONED)
    assert ledger_and_stock(shop, order_id) == after_first


def test_a_duplicate_execution_failing_before_it_sees_the_owner_gives_back_nothing_of_the_owners(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redelivered OrderPlaced whose first step fails unexpectedly reaches the compensations: they must hold off."""
    order_id = shop.place()
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))
    store = shop.cloud.functions.get("ReserveInventoryFunction").module.store

    def unreachable(order: str) -> Any:
        raise RuntimeError(f"the event store is unreachable, loading {order}")

    monkeypatch.setattr(store, "load", unreachable)
    placed = next(event for event in stored_events_of(shop, order_id) if event["type"] == "OrderPlaced")
    machine = shop.cloud.physical_id("OrderFulfillmentStateMachine")
    duplicate = shop.states.start_execution(stateMachineArn=machine, input=json.dumps(placed))["executionArn"]
    shop.sources.settle(until=lambda: shop.states.describe_execution(executionArn=duplicate)["status"] != "RUNNING")
    monkeypatch.undo()

    assert shop.states.describe_execution(executionArn=duplicate)["status"] == "SUCCEEDED"
    assert (shop.status(order_id), shop.payment_state(order_id)) == ("AWAITING_PAYMENT", PaymentState.REQUESTED)
    assert holdings(shop.cloud, order_id).reserved == {"SKU-BLUE-PLATE": 1, "SKU-RED-MUG": 2}
    shop.pay(order_id, PaymentWebhookType.SUCCEEDED)
    # Not run_until_finished: it follows the newest execution with this order, the duplicate, already ended.
    shop.sources.settle(until=lambda: shop.status(order_id) == "COMPLETED")
    assert shop.status(order_id) == "COMPLETED"


def stored_events_of(shop: Shop, order_id: str) -> list[dict[str, Any]]:
    return [event.envelope() for event in stored_events(shop.cloud, order_id)]


def test_an_ended_order_still_holding_a_late_capture_is_refunded_by_the_reconciler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The execution compensated and succeeded; then a late capture's refund failed: only the reconciler is left."""
    with in_process_cloud({"PaymentTimeoutSeconds": 1}) as cloud:
        shop = Shop(cloud)
        order_id = shop.place()
        shop.run_until_finished(order_id)  # no outcome in time: compensated, FAILED, payment ABANDONED
        consumer = cloud.functions.get("ProcessPaymentEventsFunction").module

        def provider_down(payment_id: str, amount: int, currency: str) -> str:
            raise RuntimeError(f"the provider is unreachable, refunding {payment_id} ({amount} {currency})")

        monkeypatch.setattr(consumer.settler._provider, "refund", provider_down)
        shop.pay(order_id, PaymentWebhookType.SUCCEEDED)
        shop.sources.settle()  # the consumer records the capture, fails to refund it; the message waits to retry
        assert (shop.execution_status(order_id), shop.status(order_id)) == ("SUCCEEDED", "FAILED")
        assert left_held(holdings(cloud, order_id)) == {MONEY}

        first = reconcile(shop)
        after_first = ledger_and_stock(shop, order_id)
        second = reconcile(shop)

        assert (first["settled"], second["settled"]) == ([order_id], [])
        assert ledger_and_stock(shop, order_id) == after_first
        held = assert_keeps_nothing_unless_completed(cloud, order_id, SEEDED)
        assert (held.status.value, shop.payment_state(order_id)) == ("FAILED", PaymentState.REFUNDED)
