"""End to end over HTTP, as a client drives it: on the local cloud (default), a stack on ministack, or one on AWS.

The target comes from the environment (tests/e2e/targets.py): E2E_TARGET=sandboxes|local|ministack|aws,
E2E_STACK=<name>; `make e2e STACK=<name>` and `make deploy-check` set them. One target serves the whole module (a local
cloud takes seconds to start). Every scenario places its own orders with fresh Idempotency-Keys and waits
for what it asserts, so the tests do not depend on each other or on their order. They talk to the API and
the payment webhook through `drivers.api_client` and `drivers.payment_provider` only; where a test reads a
table or queue directly, a comment says why no HTTP call could tell. A test about the local cloud itself
skips elsewhere, saying so.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from drivers.api_client import FINAL_STATUSES, Answer, Customer, request
from drivers.payment_provider import PaymentProvider
from local_cloud.terminal import banner
from orders.event_store import EventStore
from orders.payments import PaymentLedger, PaymentState
from orders.webhook import PaymentWebhookType
from tests.e2e.targets import Target, target_from_environment
from tests.support import sample_event
from tools.ministack_gaps import Semantics

pytestmark = pytest.mark.local_cloud

ORDER: dict[str, Any] = json.loads(sample_event("place_order/valid.json")["body"])  # 2 red mugs, 1 blue plate
ORDER_AMOUNT = 2 * 1250 + 1800  # at the prices in seed/inventory.json
WAIT_SECONDS = 60.0  # generous: a deployed stack's functions may start cold


def eventually[T](read: Callable[[], T], ready: Callable[[T], bool], what: str) -> T:
    """`read()` again until `ready` says yes, and that value; the local cloud is eventually consistent, as AWS is."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = read()
        if ready(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_SECONDS}s: {what} (last: {value!r})")
        time.sleep(0.05)


@dataclass
class Shop:
    """The target with its clients: two customers and the payment provider."""

    target: Target
    alice: Customer
    bob: Customer
    provider: PaymentProvider
    placed: list[str] = field(default_factory=list)  # every order the tests placed, for the queue check to await

    def place(self, **changes: Any) -> str:
        """Alice places the sample order (with `changes`) under a fresh Idempotency-Key; returns its id."""
        answer = self.alice.place_order({**ORDER, **changes})
        assert answer.status == 201, answer
        assert answer.body["status"] == "PLACED"
        order_id = str(answer.body["orderId"])
        self.placed.append(order_id)
        return order_id

    def final(self, order_id: str) -> Answer:
        answer = self.alice.wait_for(order_id, FINAL_STATUSES, WAIT_SECONDS)
        assert answer.status == 200, answer
        return answer

    def settle(self, order_id: str) -> Answer:
        """The order once final, its saga ended and every event it stored shown by the read model."""
        self.final(order_id)
        eventually(lambda: self.target.saga_ended(order_id), bool, f"the saga of {order_id} to end")
        # Direct read: only the event store knows how many events there are, the API shows the read model's version.
        dynamodb = self.target.client("dynamodb")
        stored = len(EventStore(dynamodb, self.target.physical_ids["EventStoreTable"]).load(order_id))
        return eventually(
            lambda: self.alice.order(order_id),
            lambda answer: answer.status == 200 and answer.body["version"] == stored,
            f"the read model of {order_id} to show all {stored} stored events",
        )


def all_orders(customer: Customer) -> list[dict[str, Any]]:
    """Every order GET /orders lists for the customer, page after page."""
    orders: list[dict[str, Any]] = []
    url = f"{customer.api_url}/orders?limit=100"
    while True:
        page = request("GET", url, headers={"Authorization": str(customer.token)})
        assert page.status == 200, page
        orders += page.body["orders"]
        if not page.body.get("nextToken"):
            return orders
        url = f"{customer.api_url}/orders?limit=100&nextToken={page.body['nextToken']}"


def listed_ids(customer: Customer) -> list[str]:
    return [order["orderId"] for order in all_orders(customer)]


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with target_from_environment() as started:
        yield started


@pytest.fixture(scope="module")
def shop(target: Target) -> Shop:
    return Shop(
        target=target,
        alice=Customer(target.api_url, target.tokens["alice"]),
        bob=Customer(target.api_url, target.tokens["bob"]),
        provider=PaymentProvider(target.outputs),
    )


# ---------------------------------------------------------------- an order's outcomes


def test_a_paid_order_completes_and_is_listed(shop: Shop) -> None:
    order_id = shop.place()

    paid = shop.provider.send(order_id, PaymentWebhookType.SUCCEEDED)

    assert paid.status == 202, paid
    completed = shop.final(order_id).body
    assert completed["status"] == "COMPLETED"
    assert completed["trackingId"]
    assert completed["amount"] == ORDER_AMOUNT
    listed = eventually(
        lambda: [order for order in all_orders(shop.alice) if order["orderId"] == order_id],
        bool,
        f"{order_id} in GET /orders",
    )
    assert [order["status"] for order in listed] == ["COMPLETED"]
    assert listed[0]["trackingId"] == completed["trackingId"]


def test_a_payment_the_provider_declines_fails_the_order(shop: Shop) -> None:
    order_id = shop.place()

    declined = shop.provider.send(order_id, PaymentWebhookType.FAILED, reason="card expired")

    assert declined.status == 202, declined
    failed = shop.final(order_id).body
    assert failed["status"] == "FAILED"
    # The provider's reason, which SendTaskFailure's cause carries on AWS and ministack. moto's server drops
    # that cause, so on the local cloud the saga gives its own reason for a declined payment.
    assert failed["reason"] == ("the payment was declined" if shop.target.local else "card expired")
    assert failed["trackingId"] is None


def test_a_card_declined_at_once_fails_the_order_without_a_webhook(shop: Shop) -> None:
    shop.target.requires(Semantics.CALLBACK_TASK_FUNCTION_ERROR)  # RequestPayment raises PaymentDeclined
    shop.target.requires(Semantics.FUNCTION_ERROR_TYPE)  # which the saga's Catch matches by name
    order_id = shop.place(paymentToken="tok_declined")

    failed = shop.final(order_id).body

    assert failed["status"] == "FAILED"
    assert "tok_declined" in failed["reason"]
    assert "declined" in failed["reason"]


def test_an_order_of_something_out_of_stock_fails(shop: Shop) -> None:
    shop.target.requires(Semantics.FUNCTION_ERROR_TYPE)  # ReserveInventory raises OutOfStock, which a Catch matches
    order_id = shop.place(items=[{"sku": "SKU-SOLD-OUT", "quantity": 1}])

    failed = shop.final(order_id).body

    assert failed["status"] == "FAILED"
    assert "stock" in failed["reason"]
    assert "SKU-SOLD-OUT" in failed["reason"]
    assert failed["amount"] is None  # nothing was reserved, so nothing was priced


def test_an_order_cancelled_while_awaiting_payment_stays_cancelled_and_is_never_charged(shop: Shop) -> None:
    order_id = shop.place()
    shop.provider.wait_for_request(order_id)

    cancelled = shop.alice.cancel(order_id)

    assert cancelled.status == 200, cancelled
    assert cancelled.body["status"] == "CANCELLED"
    # After the saga has compensated and the read model has caught up with all of it: still cancelled.
    settled = shop.settle(order_id).body
    assert settled["status"] == "CANCELLED"
    assert settled["trackingId"] is None
    # Direct read: no API tells a payment's state; the ledger is where a capture would be recorded.
    payment = PaymentLedger(shop.target.client("dynamodb"), shop.target.outputs["PaymentsTableName"]).get(order_id)
    assert payment is not None
    assert payment.state is PaymentState.ABANDONED  # a capture arriving now would be refunded, not kept


# ---------------------------------------------------------------- the API's promises


def test_a_replayed_order_request_places_one_order(shop: Shop) -> None:
    before = set(listed_ids(shop.alice))
    key = str(uuid.uuid4())

    first = shop.alice.place_order(ORDER, idempotency_key=key)
    again = shop.alice.place_order(ORDER, idempotency_key=key)

    assert first.status == again.status == 201
    assert again.body == first.body
    order_id = first.body["orderId"]
    shop.placed.append(order_id)
    listed = eventually(lambda: listed_ids(shop.alice), lambda ids: order_id in ids, f"{order_id} in GET /orders")
    assert listed.count(order_id) == 1
    assert set(listed) - before == {order_id}
    # Paid, so that it ends like any other order.
    assert shop.provider.send(order_id, PaymentWebhookType.SUCCEEDED).status == 202
    assert shop.final(order_id).body["status"] == "COMPLETED"


def test_another_customers_order_is_not_found(shop: Shop) -> None:
    order_id = shop.place()
    assert shop.provider.send(order_id, PaymentWebhookType.FAILED).status == 202  # so that it ends
    assert shop.final(order_id).body["orderId"] == order_id  # alice sees it

    seen_by_bob = shop.bob.order(order_id)

    assert seen_by_bob.status == 404, seen_by_bob
    assert "not found" in seen_by_bob.message
    assert order_id not in listed_ids(shop.bob)


def test_a_request_without_a_token_is_unauthorized(shop: Shop) -> None:
    anonymous = Customer(shop.target.api_url, None)

    answers = [anonymous.orders(), anonymous.order(str(uuid.uuid4())), anonymous.place_order(ORDER)]

    assert [(answer.status, answer.body) for answer in answers] == [(401, {"message": "Unauthorized"})] * 3


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"items": [{"sku": "SKU-RED-MUG", "quantity": 0}]}, "body.items.0.quantity"),
        ({"giftWrap": True}, "body.giftWrap"),
    ],
    ids=["quantity-0", "unknown-field"],
)
def test_an_invalid_order_is_refused_and_nothing_is_written(
    shop: Shop, changes: dict[str, Any], field_name: str
) -> None:
    before = set(listed_ids(shop.alice))
    key = str(uuid.uuid4())

    refused = shop.alice.place_order({**ORDER, **changes}, idempotency_key=key)

    assert refused.status == 422, refused
    assert [error["field"] for error in refused.body["errors"]] == [field_name]
    assert set(listed_ids(shop.alice)) == before
    # Nothing was kept under the key either: a valid order with it is placed, and it is the list's only new one.
    valid = shop.alice.place_order(ORDER, idempotency_key=key)
    assert valid.status == 201, valid
    order_id = valid.body["orderId"]
    shop.placed.append(order_id)
    listed = eventually(lambda: listed_ids(shop.alice), lambda ids: order_id in ids, f"{order_id} in GET /orders")
    assert set(listed) - before == {order_id}
    assert shop.provider.send(order_id, PaymentWebhookType.FAILED).status == 202  # so that it ends
    assert shop.final(order_id).body["status"] == "FAILED"


# ---------------------------------------------------------------- what the local cloud shows and leaves


def test_the_timeline_follows_a_completed_order_through_every_source(shop: Shop) -> None:
    local = shop.target.only_local()
    order_id = shop.place()
    assert shop.provider.send(order_id, PaymentWebhookType.SUCCEEDED).status == 202
    assert shop.final(order_id).body["status"] == "COMPLETED"

    wanted = {"api", "bus", "saga", "stream", "queue"}
    entries = eventually(
        lambda: local.timeline.entries(order_id),
        lambda found: (
            wanted <= {entry.source for entry in found}
            and any(entry.source == "saga" and entry.text == "ExecutionSucceeded" for entry in found)
        ),
        f"timeline lines for {order_id} from {sorted(wanted)}, down to the saga's end",
    )

    texts = [entry.text for entry in entries]
    assert any(text.startswith("POST /orders -> 201") for text in texts), texts
    assert any(entry.source == "saga" and entry.text == "-> CompleteOrder" for entry in entries), texts
    assert not [entry.line() for entry in entries if "failed" in entry.text]


def test_no_message_is_left_in_any_queue_once_orders_are_settled(shop: Shop) -> None:
    completed, failed = shop.place(), shop.place()
    assert shop.provider.send(completed, PaymentWebhookType.SUCCEEDED).status == 202
    assert shop.provider.send(failed, PaymentWebhookType.FAILED).status == 202
    for order_id in list(shop.placed):  # this test's orders and those of any test before it
        shop.settle(order_id)
    assert shop.final(completed).body["status"] == "COMPLETED"
    assert shop.final(failed).body["status"] == "FAILED"
    # Direct read: a queue's backlog is not visible over HTTP; its attributes count what waits and what is in flight.
    sqs = shop.target.client("sqs")
    queues = {
        logical_id: shop.target.physical_ids[logical_id]
        for logical_id in shop.target.template.of_type("AWS::SQS::Queue")
    }
    assert any("DeadLetter" in logical_id for logical_id in queues)  # the DLQs are among them

    def backlog() -> dict[str, int]:
        counts: dict[str, int] = {}
        for logical_id, url in queues.items():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            counts[logical_id] = sum(int(value) for value in attributes.values())
        return {logical_id: count for logical_id, count in counts.items() if count}

    assert eventually(backlog, lambda left: not left, "every queue and DLQ to be empty") == {}
    if shop.target.local is not None:  # the local cloud also shows each DLQ delivery it made on its timeline
        assert [entry.line() for entry in shop.target.local.timeline.entries() if entry.source == "dlq"] == []


def test_a_changed_function_is_reloaded_and_still_answers(shop: Shop) -> None:
    local = shop.target.only_local()
    order_id = shop.place(paymentToken="tok_declined")
    before = shop.settle(order_id).body
    function = local.cloud.functions.get("GetOrderFunction")
    loaded = function.loaded_code
    app_py = local.cloud.template.code_path("GetOrderFunction") / "app.py"
    original = app_py.stat()
    try:
        os.utime(app_py, ns=(original.st_atime_ns, time.time_ns() + 10 * 10**9))  # as an editor's save would
        reloaded = local.cloud.functions.reload_changed()
        reloaded_again = local.cloud.functions.reload_changed()  # the file is still dated in the future
    finally:
        os.utime(app_py, ns=(original.st_atime_ns, original.st_mtime_ns))

    assert "GetOrderFunction" in reloaded  # others only if someone edited their code meanwhile
    assert "GetOrderFunction" not in reloaded_again  # once per change, however far ahead the file's date
    assert function.loaded_code is not loaded
    after = shop.alice.order(order_id)
    assert after.status == 200, after
    assert after.body == before


def test_start_up_names_every_resource_it_did_not_provision(shop: Shop) -> None:
    local = shop.target.only_local()
    shown = banner(local)

    not_provisioned = local.cloud.not_provisioned
    # Only the schema registry, which nothing reads at run time; anything else needs a provisioner or a reason.
    assert set(not_provisioned.values()) == {"AWS::EventSchemas::Registry", "AWS::EventSchemas::Schema"}
    assert all(logical_id in shown for logical_id in not_provisioned)
    assert "make -s token CUSTOMER=alice" in shown
    assert local.api_url in shown
