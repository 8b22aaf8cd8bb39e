"""`make demo`: scripted orders against the local cloud, each checked for the end it must reach.

Uses the running local cloud (`make local`) when one answers, or starts one in this process.
Every scenario goes through the API as a client would, with the payment provider's signed
webhook where a payment ends. Each prints the order's timeline (its domain events, from the
event store) and final state; the exit status is 1 if any scenario ends otherwise than expected.
Then the completed orders' per-minute sales, once the sales aggregator's windows have closed (up to a
minute), and the daily sales summary fired by hand through the local cloud's control endpoint.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3

from drivers.api_client import FINAL_STATUSES, Answer, Customer
from drivers.payment_provider import PaymentProvider
from drivers.sample_events import sample_event
from local_cloud.server import FUNCTION_LOG, handler_logs_in_file, running_local_cloud
from local_cloud.template import ROOT
from local_cloud.timeline import Timeline
from orders.analytics import timed_sale_from
from orders.event_store import EventStore
from orders.sales_windows import SalesPerMinute, minute_of
from orders.webhook import PaymentWebhookType
from scripts.local_control import LOCAL_CONTROL_URL, NoLocalCloud, ask
from scripts.stack_outputs import local_outputs

say = partial(print, file=sys.stdout, flush=True)  # the terminal, even while the handlers' logs go to a file


@dataclass
class Shop:
    """What a scenario can use: two customers, the payment provider and the local cloud's outputs."""

    alice: Customer
    bob: Customer
    provider: PaymentProvider
    outputs: dict[str, str]
    control_url: str = LOCAL_CONTROL_URL


@dataclass(frozen=True)
class Result:
    order_id: str | None
    status: str | None
    expected: str
    detail: str = ""

    @property
    def as_expected(self) -> bool:
        return self.status == self.expected


def an_order(**changes: Any) -> dict[str, Any]:
    """The sample order (two mugs and a plate, to Berlin), with changes."""
    order: dict[str, Any] = json.loads(sample_event("place_order/valid.json")["body"])
    return order | changes


def placed(answer: Answer) -> str:
    if answer.status != 201:
        raise AssertionError(f"POST /orders answered {answer.status}: {answer.body}")
    return str(answer.body["orderId"])


def completed(shop: Shop) -> Result:
    order_id = placed(shop.alice.place_order(an_order()))
    shop.provider.send(order_id, PaymentWebhookType.SUCCEEDED)
    view = shop.alice.wait_for(order_id, FINAL_STATUSES).body
    return Result(order_id, view["status"], "COMPLETED", f"tracking {view.get('trackingId')}")


def payment_declined(shop: Shop) -> Result:
    order_id = placed(shop.alice.place_order(an_order()))
    shop.provider.send(order_id, PaymentWebhookType.FAILED, reason="card_declined: insufficient funds")
    view = shop.alice.wait_for(order_id, FINAL_STATUSES).body
    return Result(order_id, view["status"], "FAILED", view.get("reason", ""))


def out_of_stock(shop: Shop) -> Result:
    order_id = placed(shop.alice.place_order(an_order(items=[{"sku": "SKU-SOLD-OUT", "quantity": 1}])))
    view = shop.alice.wait_for(order_id, FINAL_STATUSES).body
    return Result(order_id, view["status"], "FAILED", view.get("reason", ""))


def cancelled_awaiting_payment(shop: Shop) -> Result:
    order_id = placed(shop.alice.place_order(an_order()))
    shop.provider.wait_for_request(order_id)
    answer = shop.alice.cancel(order_id)
    view = shop.alice.wait_for(order_id, FINAL_STATUSES).body
    return Result(order_id, view["status"], "CANCELLED", f"cancel answered {answer.status}")


def replayed_post(shop: Shop) -> Result:
    key, order = f"demo-replay-{uuid.uuid4()}", an_order()
    first, replay = shop.alice.place_order(order, key), shop.alice.place_order(order, key)
    same = first.body == replay.body and first.status == replay.status == 201
    order_id = placed(first)
    shop.provider.send(order_id, PaymentWebhookType.SUCCEEDED)
    view = shop.alice.wait_for(order_id, FINAL_STATUSES).body
    detail = "the replay answered the first response" if same else f"the replay answered {replay}"
    return Result(order_id, view["status"] if same else "DIFFERENT ANSWER", "COMPLETED", detail)


SCENARIOS: dict[str, Callable[[Shop], Result]] = {
    "a completed order (the provider's signed webhook says succeeded)": completed,
    "a declined payment (the webhook says failed)": payment_declined,
    "an out-of-stock order (SKU-SOLD-OUT)": out_of_stock,
    "a cancellation while awaiting payment": cancelled_awaiting_payment,
    "a replayed POST /orders (same Idempotency-Key and body)": replayed_post,
}


def order_timeline(outputs: dict[str, str], order_id: str) -> list[str]:
    store = EventStore(boto3.client("dynamodb"), outputs["EventStoreTableName"])
    lines = []
    for event in store.load(order_id):
        extra = {key: event.data[key] for key in ("reason", "trackingId", "paymentId") if key in event.data}
        lines.append(f"    v{event.version:<2} {event.occurred_at}  {event.type.value:<18} {extra or ''}")
    return lines


DAILY_SUMMARY_SCHEDULE = "SummariseDailySalesFunctionDailyAt0200Utc"
WINDOW_WAIT_SECONDS = 120  # a tumbling window of 60 s closes, then the aggregator's batch waits up to 5 s


def sales_per_minute(outputs: dict[str, str], order_ids: list[str]) -> list[str]:
    """The per-minute sales of the minutes these orders completed in, once the aggregator has counted them all."""
    store = EventStore(boto3.client("dynamodb"), outputs["EventStoreTableName"])
    ours: Counter[tuple[str, str]] = Counter()  # (minute, currency) -> the demo's completed orders in it
    for order_id in order_ids:
        for event in store.load(order_id):
            timed = timed_sale_from(event.envelope())
            if timed is not None:
                ours[minute_of(timed[1]), timed[0].currency] += 1
    table = SalesPerMinute(boto3.client("dynamodb"), outputs["SalesPerMinuteTableName"])
    deadline = time.monotonic() + WINDOW_WAIT_SECONDS
    while True:
        totals = [table.read(minute, currency) for minute, currency in sorted(ours)]
        if all(total.orders >= ours[total.minute, total.currency] for total in totals) or time.monotonic() > deadline:
            break
        time.sleep(2)
    return [
        f"    {total.minute} {total.currency}: {total.orders} order(s), {total.revenue / 100:.2f}"
        f" (the demo's: {ours[total.minute, total.currency]})"
        + ("" if total.orders >= ours[total.minute, total.currency] else "  <- NOT COUNTED YET")
        for total in totals
    ]


def daily_summary(control_url: str) -> str:
    """Fire the daily summary now: it summarises the UTC day before (the demo's orders are today's)."""
    answer = ask(f"/schedules/{DAILY_SUMMARY_SCHEDULE}/fire", method="POST", control_url=control_url)
    response = answer.get("response") or {}
    sales = ", ".join(
        f"{s['currency']} {s['orders']} order(s) {s['revenue'] / 100:.2f}" for s in response.get("sales", [])
    )
    published = "published" if response.get("published") else "published before"
    return f"  {answer['outcome']}: {response.get('day')} {published}: {sales or 'no sales'}"


def run(shop: Shop) -> int:
    failures = 0
    completed_orders: list[str] = []
    for title, scenario in SCENARIOS.items():
        say(f"\n== {title}")
        try:
            result = scenario(shop)
        except (AssertionError, TimeoutError) as error:
            result = Result(None, None, "?", f"{type(error).__name__}: {error}")
        if result.order_id:
            say(f"  order {result.order_id}")
            say("\n".join(order_timeline(shop.outputs, result.order_id)))
        verdict = "ok" if result.as_expected else f"UNEXPECTED (expected {result.expected})"
        say(f"  final state: {result.status}  {result.detail}  -> {verdict}")
        failures += not result.as_expected
        if result.order_id and result.status == "COMPLETED":
            completed_orders.append(result.order_id)
    say(f"\n{len(SCENARIOS) - failures} of {len(SCENARIOS)} scenarios ended as expected")
    say("\n== sales per minute (the aggregator's table, written as each stream window closes)")
    lines = sales_per_minute(shop.outputs, completed_orders)
    say("\n".join(lines) or "    no order completed")
    failures += any(line.endswith("NOT COUNTED YET") for line in lines)
    say(f"\n== the daily sales summary, fired by hand (make fire SCHEDULE={DAILY_SUMMARY_SCHEDULE})")
    say(daily_summary(shop.control_url))
    return 1 if failures else 0


@contextmanager
def a_shop() -> Iterator[Shop]:
    """The running local cloud's shop, or one started here for the demo."""
    try:
        outputs = local_outputs()
    except NoLocalCloud:
        say("no local cloud is running: starting one in this process (make local keeps one running)")
        say(f"(the handlers' logs go to {FUNCTION_LOG.relative_to(ROOT)})")
        with (
            handler_logs_in_file(),
            running_local_cloud(0, 0, 0, timeline=Timeline(out=None), watch_code=False) as local,
        ):
            outputs = local.outputs()
            yield Shop(
                Customer(local.api_url, local.token("alice")),
                Customer(local.api_url, local.token("bob")),
                PaymentProvider(outputs),
                outputs,
                local.control_url,
            )
        return
    say(f"using the local cloud at {outputs['ApiUrl']}")
    yield Shop(
        Customer(outputs["ApiUrl"], _token("alice")),
        Customer(outputs["ApiUrl"], _token("bob")),
        PaymentProvider(outputs),
        outputs,
    )


def _token(customer: str) -> str:
    return str(ask(f"/token/{customer}")["idToken"])


def main() -> int:
    with a_shop() as shop:
        return run(shop)


if __name__ == "__main__":
    sys.exit(main())
