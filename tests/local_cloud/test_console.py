"""The console in a real browser: Debian's chromium driven by Playwright, against a local cloud in this process.

Each test does what a person would on the page (place an order, answer as the payment provider,
redrive a DLQ, fire a schedule, replay the archive, try the API) and checks what the page then
shows, live, without a reload. The browser may reach loopback only: every other request is
refused and recorded, and the page must have made none. The screenshots in the README are taken
here (`make screenshots` writes them to docs/screenshots; otherwise they go to a temporary folder).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from drivers.api_client import Customer, request
from drivers.payment_provider import PaymentProvider
from local_cloud.console import serving_console
from local_cloud.server import LocalCloud, running_local_cloud
from local_cloud.timeline import Timeline
from orders.webhook import PaymentWebhookType
from tests.support import sample_event

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")

pytestmark = pytest.mark.local_cloud

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `make test` installs it (scripts/install_chromium.sh)
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Anything not on loopback goes to a proxy nobody runs (Chromium never proxies loopback).
    "--proxy-server=http://127.0.0.1:9",
]
WAIT_MS = 30_000
HAPPY_PATH = ["ReserveInventory", "RequestPayment", "ArrangeShipment", "CompleteOrder"]
COMPENSATION_PATH = [
    "ReserveInventory",
    "RequestPayment",
    "RefundPayment",
    "ReleaseInventory",
    "Compensated",  # the Choice: every compensation done, so the order is recorded as failed
    "FailOrder",
    "NotFulfilled",
]
SCHEDULE = "ReconcileOrdersFunctionEvery5Minutes"

if not CHROMIUM.exists():
    pytest.skip(f"no {CHROMIUM}: `make test` installs it (scripts/install_chromium.sh)", allow_module_level=True)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalCloud]:
    with (
        running_local_cloud(0, 0, 0, timeline=Timeline(out=None), watch_code=False) as started,
        serving_console(started, 0) as console_url,
    ):
        started.console_url = console_url
        yield started


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def off_machine_requests() -> list[str]:
    return []


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, off_machine_requests: list[str]) -> Iterator[Any]:
    """One chromium for the module, with a fresh profile, that can reach loopback only."""
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]  # chromium's sandbox refuses root
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=args,
            viewport={"width": 1360, "height": 900},
        )

        def loopback_only(route: Any) -> None:
            if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
                route.continue_()
            else:
                off_machine_requests.append(route.request.url)
                route.abort()

        context.route("**/*", loopback_only)
        yield context
        context.close()


@pytest.fixture
def page(browser: Any, off_machine_requests: list[str]) -> Iterator[Any]:
    opened = browser.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(WAIT_MS)
    yield opened
    opened.close()
    assert errors == [], errors  # no script error on any page
    assert off_machine_requests == []  # everything the console needs is served from this machine


def lit_states(page: Any) -> list[str]:
    """The saga's states lit on the page, in the order the execution entered them."""
    states: list[str] = page.eval_on_selector_all(
        "#saga [data-state].lit",
        "nodes => nodes.sort((a, b) => a.dataset.step - b.dataset.step).map(node => node.dataset.state)",
    )
    return states


def place_from_page(page: Any, local: LocalCloud, payment_token: str = "") -> str:
    page.goto(f"{local.console_url}/#/orders")
    page.select_option("#order-customer", "alice")
    page.fill("#order-token", payment_token)
    page.click("#place-order")
    order_id = str(page.text_content("#placed-link"))
    page.click("#placed-link")
    page.wait_for_selector("#saga")
    return order_id


def placed_by_alice(local: LocalCloud) -> tuple[Customer, str]:
    """Alice places the sample order through the API, for a test whose subject comes after that."""
    alice = Customer(local.api_url, local.token("alice"))
    placed = alice.place_order(json.loads(sample_event("place_order/valid.json")["body"]))
    assert placed.status == 201, placed
    return alice, str(placed.body["orderId"])


def watch_saga_until(page: Any, status: str) -> list[list[str]]:
    """Every distinct set of lit states the page showed, in order, until the order shows `status`."""
    seen: list[list[str]] = []
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        lit = lit_states(page)
        if not seen or lit != seen[-1]:
            seen.append(lit)
        if page.query_selector(f"#order-status [data-status='{status}']") and page.query_selector(
            "h2 [data-status='SUCCEEDED']"
        ):
            final = lit_states(page)
            return [*seen, final] if final != seen[-1] else seen
        time.sleep(0.05)
    raise AssertionError(f"the page did not show {status} within {WAIT_MS} ms; it showed {seen}")


def test_an_order_placed_from_the_page_completes_with_its_saga_lit_in_order(
    page: Any, local: LocalCloud, screenshots: Path
) -> None:
    order_id = place_from_page(page, local)

    # The saga waits for the provider: the page shows it there, current, without a reload.
    page.wait_for_selector("#saga [data-state='RequestPayment'].current")
    page.screenshot(path=str(screenshots / "order-awaiting-payment.png"), full_page=True)
    page.click("#pay-succeeded")
    seen = watch_saga_until(page, "COMPLETED")

    assert seen[-1] == HAPPY_PATH
    assert all(snapshot == HAPPY_PATH[: len(snapshot)] for snapshot in seen), seen  # lit one after another
    assert page.query_selector_all("#saga .compensating.lit") == []
    assert page.query_selector_all("#saga .failed") == []
    stream = page.text_content("#event-stream")
    for event_type in ("OrderPlaced", "InventoryReserved", "PaymentRequested", "PaymentCaptured", "OrderCompleted"):
        assert event_type in stream
    assert f"{order_id}  api      POST /orders -> 201" in page.text_content("#timeline")
    page.screenshot(path=str(screenshots / "order-completed.png"), full_page=True)

    page.click("a[href='#/orders']")
    page.select_option("#filter-status", "COMPLETED")
    page.wait_for_selector(f"#orders tr[data-order='{order_id}']")
    statuses = page.eval_on_selector_all("#orders [data-status]", "nodes => nodes.map(node => node.dataset.status)")
    assert statuses
    assert set(statuses) == {"COMPLETED"}
    page.screenshot(path=str(screenshots / "orders.png"))


def test_a_declined_payment_shows_the_compensation_path(page: Any, local: LocalCloud, screenshots: Path) -> None:
    place_from_page(page, local)
    page.wait_for_selector("#saga [data-state='RequestPayment'].current")

    page.click("#pay-failed")
    seen = watch_saga_until(page, "FAILED")

    assert seen[-1] == COMPENSATION_PATH
    assert all(snapshot == COMPENSATION_PATH[: len(snapshot)] for snapshot in seen), seen
    assert page.get_attribute("#saga [data-state='RequestPayment']", "class") == "state lit failed"
    compensated = page.eval_on_selector_all(
        "#saga .compensating.lit", "nodes => nodes.map(node => node.dataset.state).sort()"
    )
    assert compensated == sorted(["RefundPayment", "ReleaseInventory", "Compensated", "FailOrder", "NotFulfilled"])
    assert page.query_selector("#saga [data-state='ArrangeShipment'].lit") is None
    assert "taken" in str(page.get_attribute("#saga [data-edge='RequestPayment>RefundPayment']", "class"))  # the Catch
    assert "declined" in str(page.text_content("#order-reason"))
    page.screenshot(path=str(screenshots / "order-compensated.png"), full_page=True)


def test_a_poison_message_lands_in_its_dlq_and_is_redriven_from_the_page(
    page: Any, local: LocalCloud, screenshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, order_id = placed_by_alice(local)
    consumer = local.cloud.functions.get("ProcessPaymentEventsFunction")

    def payment_processor_down(event: dict[str, Any]) -> Any:
        raise RuntimeError(f"payment processor unreachable for {len(event['Records'])} message(s)")

    # The consumer fails every delivery while "down": its message is retried up to maxReceiveCount, then dead-lettered.
    monkeypatch.setattr(consumer, "invoke", payment_processor_down)
    assert PaymentProvider(local.outputs()).send(order_id, PaymentWebhookType.SUCCEEDED).status == 202
    page.goto(f"{local.console_url}/#/queues")
    dead_letters = "#queues tr[data-queue='PaymentEventsDeadLetterQueue'] [data-count='visible']"
    page.wait_for_function(f"document.querySelector(\"{dead_letters}\")?.textContent === '1'")
    monkeypatch.undo()  # fixed: what is redriven now is processed
    assert alice.order(order_id).body["status"] == "AWAITING_PAYMENT"

    page.click("[data-peek='PaymentEventsDeadLetterQueue']")
    peeked = str(page.text_content("#peeked"))
    assert order_id in peeked  # the webhook's message, its group the order
    page.screenshot(path=str(screenshots / "queues-dead-letter.png"), full_page=True)
    page.click("[data-redrive='PaymentEventsDeadLetterQueue']")

    assert "moved 1 of 1 message(s)" in str(page.text_content("#redriven"))
    assert alice.wait_for(order_id, {"COMPLETED"}).body["status"] == "COMPLETED"
    page.wait_for_function(f"document.querySelector(\"{dead_letters}\")?.textContent === '0'")
    lines = [entry.text for entry in local.timeline.entries(order_id) if entry.source == "queue"]
    assert any("ProcessPaymentEventsFunction" in line and line.endswith(": ok") for line in lines), lines


def test_a_schedule_fired_from_the_page_runs(page: Any, local: LocalCloud, screenshots: Path) -> None:
    before = len(local.schedules.firings)
    page.goto(f"{local.console_url}/#/schedules")

    page.click(f"[data-fire='{SCHEDULE}']")

    assert page.text_content("#fire-outcome") == f"{SCHEDULE}: succeeded"
    fired = local.schedules.firings[before:]
    assert [(firing.schedule, str(firing.outcome)) for firing in fired] == [(SCHEDULE, "succeeded")]
    page.wait_for_selector(f"#schedules tr[data-schedule='{SCHEDULE}'] td:has-text('succeeded')")
    page.screenshot(path=str(screenshots / "schedules.png"))


def analytics_deliveries(local: LocalCloud, order_id: str) -> int:
    """How many of the order's messages the analytics consumer has been given, first deliveries and replays."""
    return sum(entry.text.startswith("RecordAnalyticsFunction <- ") for entry in local.timeline.entries(order_id))


def settled(local: LocalCloud, order_id: str, deliveries_before: int = 0) -> None:
    """Until the order's sale has been counted, the analytics consumer was given more of the order's messages
    than `deliveries_before`, and the outcome queues hold nothing more to count."""
    deadline = time.monotonic() + WAIT_MS / 1000
    queues_url = f"{local.console_url}/data/queues"
    while time.monotonic() < deadline:
        counted = any(
            entry.text == "RecordAnalyticsFunction <- OrderCompleted: ok" for entry in local.timeline.entries(order_id)
        )
        rows = {row["queue"]: row for row in request("GET", queues_url).body["queues"]}
        waiting = sum(
            rows[queue]["visible"] + rows[queue]["inFlight"] for queue in ("AnalyticsQueue", "NotificationsQueue")
        )
        if counted and not waiting and analytics_deliveries(local, order_id) > deliveries_before:
            return
        time.sleep(0.1)
    raise AssertionError(f"the sale of {order_id} was not counted within {WAIT_MS} ms")


def test_a_replay_from_the_page_leaves_the_analytics_counters_unchanged(
    page: Any, local: LocalCloud, screenshots: Path
) -> None:
    alice, order_id = placed_by_alice(local)
    assert PaymentProvider(local.outputs()).send(order_id, PaymentWebhookType.SUCCEEDED).status == 202
    alice.wait_for(order_id, {"COMPLETED"})
    settled(local, order_id)  # every sale so far counted: what changes the counters now is the replay alone
    page.goto(f"{local.console_url}/#/bus")
    page.wait_for_function("document.querySelector('#analytics tbody tr') !== null")
    replayed_before = sum("replayed by" in entry.text for entry in local.timeline.entries())
    delivered_before = analytics_deliveries(local, order_id)

    page.click("#replay")

    before = json.loads(str(page.text_content("#analytics-before")))
    after = json.loads(str(page.text_content("#analytics-after")))
    assert before
    assert after == before
    replayed = [entry for entry in local.timeline.entries() if "replayed by" in entry.text][replayed_before:]
    assert any(entry.order_id == order_id for entry in replayed)  # this order's events went onto the bus again
    # The consumers were given the replayed messages (and had counted them again, had they not deduplicated).
    settled(local, order_id, deliveries_before=delivered_before)
    assert json.loads(page.context.request.get(f"{local.console_url}/data/bus").text())["analytics"] == before
    page.screenshot(path=str(screenshots / "bus.png"))


def test_a_replay_of_a_range_replays_only_the_events_in_it(page: Any, local: LocalCloud) -> None:
    page.goto(f"{local.console_url}/#/bus")
    replayed_before = sum("replayed by" in entry.text for entry in local.timeline.entries())

    page.fill("#replay-from", "2020-01-01T00:00:00")
    page.fill("#replay-to", "2020-01-02T00:00:00")
    page.click("#replay")

    page.wait_for_selector("#analytics-after")
    assert "COMPLETED" in str(page.text_content("#replayed"))
    assert sum("replayed by" in entry.text for entry in local.timeline.entries()) == replayed_before


def test_the_api_page_sends_the_chosen_customers_token_and_shows_only_their_orders(
    page: Any, local: LocalCloud, screenshots: Path
) -> None:
    alice, order_id = placed_by_alice(local)
    alice.wait_for(order_id, {"AWAITING_PAYMENT", "PAID", "COMPLETED"})
    page.goto(f"{local.console_url}/api")
    page.wait_for_selector('#signed-in:has-text("alice\'s token")')

    def list_orders() -> str:
        block = page.locator(".opblock-get:has([data-path='/orders'])").first
        if not block.locator(".try-out__btn").count():
            block.locator(".opblock-summary").click()
        if block.locator(".try-out__btn:has-text('Try it out')").count():
            block.locator(".try-out__btn").click()
        block.locator(".execute").click()
        answered = block.locator(".live-responses-table tbody tr.response").first
        answered.wait_for()
        assert str(answered.locator(".response-col_status").text_content()).split()[0] == "200"
        return str(answered.locator(".response-col_description pre").first.text_content())

    as_alice = list_orders()
    page.screenshot(path=str(screenshots / "api.png"), full_page=True)
    page.select_option("#customer", "bob")
    page.wait_for_selector('#signed-in:has-text("bob\'s token")')
    page.locator(".opblock-get:has([data-path='/orders']) .btn-clear").first.click()
    as_bob = list_orders()

    assert order_id in as_alice
    assert order_id not in as_bob
    assert local.customers["alice"].sub not in as_bob


def test_the_console_is_on_loopback_and_takes_actions_only_as_json_from_its_own_page(local: LocalCloud) -> None:
    console = str(local.console_url)
    port = urlsplit(console).port
    fire = f"{console}/actions/schedules/{SCHEDULE}/fire"
    before = len(local.schedules.firings)

    rebound = request("GET", f"{console}/data/queues", headers={"Host": f"console.example:{port}"})
    as_a_form = request("POST", fire, "x=1", {"Content-Type": "application/x-www-form-urlencoded"})
    from_elsewhere = request("POST", fire, "{}", {"Content-Type": "application/json", "Origin": "http://example.com"})

    assert urlsplit(console).hostname == "127.0.0.1"
    assert (rebound.status, as_a_form.status, from_elsewhere.status) == (421, 403, 403)
    assert len(local.schedules.firings) == before  # none of them fired anything
    assert request("POST", fire, "{}", {"Content-Type": "application/json"}).status == 200
    assert len(local.schedules.firings) == before + 1
