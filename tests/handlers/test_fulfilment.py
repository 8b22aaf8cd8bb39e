"""The fulfilment saga, executed: moto runs the state machine and its Lambda tasks run the real handlers.

Each path starts with POST /orders and ends when the execution does, with every stream and
queue delivered: the order's final state, the stock, the payment and the events on the bus.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from drivers.bus_tap import BusTap
from drivers.payment_provider import signed_delivery
from drivers.seed import seed_inventory
from local_cloud.cloud import Cloud
from local_cloud.event_sources import EventSources
from local_cloud.in_process import in_process_cloud
from orders.inventory import Inventory
from orders.order import Order
from orders.payments import PaymentLedger, PaymentState
from orders.webhook import PaymentWebhookType
from tests.support import ALICE, ALICES_ORDER, body, sample_event, stored_events, webhook_secret, with_header

SEEDED = {"SKU-RED-MUG": 100, "SKU-BLUE-PLATE": 50}  # seed/inventory.json, for the SKUs of place_order/valid.json
ALICES_TOTAL = 2 * 1250 + 1 * 1800  # two mugs and a plate, in cents


class Shop:
    """The local cloud with stock, driven the way a customer and the payment provider would."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.sources = EventSources(cloud)
        self.bus = BusTap(cloud.physical_id("OrdersEventBus"))
        self.inventory = Inventory(boto3.client("dynamodb"), cloud.physical_id("InventoryTable"))
        self.payments = PaymentLedger(boto3.client("dynamodb"), cloud.physical_id("PaymentsTable"))
        self.states = boto3.client("stepfunctions")
        seed_inventory(self.inventory)

    def place(self, **changes: Any) -> str:
        event = sample_event("place_order/valid.json")
        order = json.loads(event["body"]) | changes
        event["body"] = json.dumps(order)
        response = self.cloud.functions.get("PlaceOrderFunction").invoke(event)
        assert response["statusCode"] == 201, response["body"]
        return str(body(response)["orderId"])

    def cancel(self, order_id: str) -> dict[str, Any]:
        event = sample_event("cancel_order/valid.json")
        event["pathParameters"]["orderId"] = order_id
        event["path"] = f"/orders/{order_id}/cancel"
        response: dict[str, Any] = self.cloud.functions.get("CancelOrderFunction").invoke(event)
        return response

    def pay(self, order_id: str, outcome: PaymentWebhookType) -> None:
        """The provider's webhook, signed with the stack's secret, through the real API function."""
        secret = webhook_secret(self.cloud)
        payment = self.payments.get(order_id)
        assert payment is not None
        delivery = signed_delivery(secret, order_id, outcome, payment.amount, payment.currency, reason="card expired")
        event = sample_event("receive_payment_webhook/stale.json")  # its headers and body are replaced
        event["body"] = delivery.body
        for name, value in delivery.headers.items():
            event = with_header(event, name, value)
        response = self.cloud.functions.get("ReceivePaymentWebhookFunction").invoke(event)
        assert response["statusCode"] == 202, response["body"]

    def execution(self, order_id: str) -> dict[str, Any] | None:
        """The execution fulfilling the order (the one whose input is its OrderPlaced)."""
        machine = self.cloud.physical_id("OrderFulfillmentStateMachine")
        for summary in self.states.list_executions(stateMachineArn=machine)["executions"]:
            execution = self.states.describe_execution(executionArn=summary["executionArn"])
            if json.loads(execution["input"])["orderId"] == order_id:
                return dict(execution)
        return None

    def execution_status(self, order_id: str) -> str | None:
        execution = self.execution(order_id)
        return str(execution["status"]) if execution else None

    def finished(self, order_id: str) -> bool:
        return self.execution_status(order_id) not in {None, "RUNNING"}

    def awaiting_payment(self, order_id: str) -> bool:
        payment = self.payments.get(order_id)
        return (
            payment is not None
            and payment.state is PaymentState.REQUESTED
            and self.status(order_id) == "AWAITING_PAYMENT"
        )

    def view(self, order_id: str) -> dict[str, Any]:
        """The order as its stored events say it is (the read model may lag behind)."""
        return Order.from_events(stored_events(self.cloud, order_id)).view

    def status(self, order_id: str) -> str:
        return str(self.view(order_id)["status"])

    def payment_state(self, order_id: str) -> PaymentState | None:
        payment = self.payments.get(order_id)
        return payment.state if payment else None

    def run_until_finished(self, order_id: str) -> dict[str, Any]:
        self.sources.settle(until=lambda: self.finished(order_id))
        execution = self.execution(order_id)
        assert execution is not None
        return execution

    def stock(self) -> dict[str, int]:
        return {sku: item["available"] for sku, item in self.inventory.stock(SEEDED).items()}

    def published(self, order_id: str) -> list[str]:
        return [event["detail-type"] for event in self.bus.drain() if event["detail"]["orderId"] == order_id]


@pytest.fixture
def shop(cloud: Cloud) -> Shop:
    return Shop(cloud)


@pytest.fixture
def impatient_shop() -> Iterator[Shop]:
    """A stack deployed with a one-second payment timeout."""
    with in_process_cloud({"PaymentTimeoutSeconds": 1}) as cloud:
        yield Shop(cloud)


def events_of(cloud: Cloud, order_id: str) -> list[str]:
    return [event.type.value for event in stored_events(cloud, order_id)]


def test_an_order_that_is_paid_for_is_shipped_and_completed(shop: Shop) -> None:
    order_id = shop.place()
    assert order_id == ALICES_ORDER
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))
    assert shop.stock() == {"SKU-RED-MUG": 98, "SKU-BLUE-PLATE": 49}

    shop.pay(order_id, PaymentWebhookType.SUCCEEDED)
    execution = shop.run_until_finished(order_id)

    assert execution["status"] == "SUCCEEDED"
    assert shop.status(order_id) == "COMPLETED"
    assert shop.stock() == {"SKU-RED-MUG": 98, "SKU-BLUE-PLATE": 49}
    payment = shop.payments.get(order_id)
    assert payment is not None
    assert (payment.state, payment.amount) == (PaymentState.CAPTURED, ALICES_TOTAL)
    expected = [
        "OrderPlaced",
        "InventoryReserved",
        "PaymentRequested",
        "PaymentCaptured",
        "ShipmentArranged",
        "OrderCompleted",
    ]
    assert events_of(shop.cloud, order_id) == expected
    assert shop.published(order_id) == expected


def test_an_order_for_more_than_the_stock_fails_and_takes_nothing(shop: Shop) -> None:
    order_id = shop.place(items=[{"sku": "SKU-RED-MUG", "quantity": 1}, {"sku": "SKU-SOLD-OUT", "quantity": 1}])

    execution = shop.run_until_finished(order_id)

    assert execution["status"] == "SUCCEEDED"  # a business failure is compensated, not an execution failure
    view = shop.view(order_id)
    assert (view["status"], view["reason"]) == ("FAILED", "not enough stock for SKU-SOLD-OUT")
    assert shop.stock() == SEEDED
    assert shop.payments.get(order_id) is None
    assert events_of(shop.cloud, order_id) == ["OrderPlaced", "OrderFailed"]
    assert shop.published(order_id) == ["OrderPlaced", "OrderFailed"]


def test_a_declined_card_releases_the_stock_and_fails_the_order(shop: Shop) -> None:
    order_id = shop.place(paymentToken="tok_declined")

    shop.run_until_finished(order_id)

    assert shop.view(order_id)["status"] == "FAILED"
    assert shop.stock() == SEEDED
    assert shop.payment_state(order_id) is PaymentState.DECLINED
    expected = ["OrderPlaced", "InventoryReserved", "InventoryReleased", "OrderFailed"]
    assert events_of(shop.cloud, order_id) == expected
    assert shop.published(order_id) == expected


def test_a_payment_the_provider_fails_later_is_compensated(shop: Shop) -> None:
    order_id = shop.place()
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))

    shop.pay(order_id, PaymentWebhookType.FAILED)
    shop.run_until_finished(order_id)

    # moto's SendTaskFailure drops the cause ("card expired"), so the reason is the error's own.
    view = shop.view(order_id)
    assert (view["status"], view["reason"]) == ("FAILED", "the payment was declined")
    assert shop.stock() == SEEDED
    assert shop.payment_state(order_id) is PaymentState.DECLINED
    assert events_of(shop.cloud, order_id) == [
        "OrderPlaced",
        "InventoryReserved",
        "PaymentRequested",
        "InventoryReleased",
        "OrderFailed",
    ]


def test_a_payment_that_never_arrives_times_out_and_is_compensated(impatient_shop: Shop) -> None:
    shop = impatient_shop
    order_id = shop.place()

    shop.run_until_finished(order_id)

    view = shop.view(order_id)
    assert (view["status"], view["reason"]) == ("FAILED", "no payment outcome arrived in time")
    assert shop.stock() == SEEDED
    expected = ["OrderPlaced", "InventoryReserved", "PaymentRequested", "InventoryReleased", "OrderFailed"]
    assert events_of(shop.cloud, order_id) == expected
    assert shop.published(order_id) == expected
    # The provider captures anyway and says so late: nobody waits any more, so the money goes back.
    shop.pay(order_id, PaymentWebhookType.SUCCEEDED)
    shop.sources.settle()
    assert events_of(shop.cloud, order_id) == [*expected, "PaymentRefunded"]
    assert shop.payment_state(order_id) is PaymentState.REFUNDED
    assert shop.view(order_id)["status"] == "FAILED"


def test_an_address_the_carrier_refuses_refunds_then_releases(shop: Shop) -> None:
    address = json.loads(sample_event("place_order/valid.json")["body"])["shippingAddress"] | {"country": "AQ"}
    order_id = shop.place(shippingAddress=address)
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))

    shop.pay(order_id, PaymentWebhookType.SUCCEEDED)
    shop.run_until_finished(order_id)

    view = shop.view(order_id)
    assert (view["status"], view["reason"]) == ("FAILED", "the carrier does not deliver to AQ")
    assert shop.stock() == SEEDED
    assert shop.payment_state(order_id) is PaymentState.REFUNDED
    expected = [
        "OrderPlaced",
        "InventoryReserved",
        "PaymentRequested",
        "PaymentCaptured",
        "PaymentRefunded",
        "InventoryReleased",
        "OrderFailed",
    ]
    assert events_of(shop.cloud, order_id) == expected
    assert shop.published(order_id) == expected


def test_cancelling_while_awaiting_payment_resumes_the_saga_to_compensate(shop: Shop) -> None:
    order_id = shop.place()
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))

    response = shop.cancel(order_id)
    shop.run_until_finished(order_id)

    assert response["statusCode"] == 200
    view = shop.view(order_id)
    assert (view["status"], view["reason"]) == ("CANCELLED", "cancelled by customer")
    assert shop.stock() == SEEDED
    expected = ["OrderPlaced", "InventoryReserved", "PaymentRequested", "OrderCancelled", "InventoryReleased"]
    assert events_of(shop.cloud, order_id) == expected
    assert shop.published(order_id) == expected


def test_a_step_that_meets_throttling_is_retried_and_reserves_once(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    step = shop.cloud.functions.get("ReserveInventoryFunction").module
    reserve = step.inventory.reserve
    calls: list[str] = []

    def throttled_once(order_id: str, items: Any) -> Any:
        calls.append(order_id)
        if len(calls) == 1:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "TransactWriteItems")  # type: ignore[arg-type]  # botocore's error shape, minimal
        return reserve(order_id, items)

    monkeypatch.setattr(step.inventory, "reserve", throttled_once)
    order_id = shop.place()

    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))

    assert len(calls) == 2
    assert shop.stock() == {"SKU-RED-MUG": 98, "SKU-BLUE-PLATE": 49}
    assert events_of(shop.cloud, order_id) == ["OrderPlaced", "InventoryReserved", "PaymentRequested"]


def test_a_redelivered_order_placed_starts_a_second_execution_that_changes_nothing(shop: Shop) -> None:
    order_id = shop.place()
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))
    placed = next(event for event in stored_events(shop.cloud, order_id) if event.type.value == "OrderPlaced")
    machine = shop.cloud.physical_id("OrderFulfillmentStateMachine")

    duplicate = shop.states.start_execution(stateMachineArn=machine, input=json.dumps(placed.envelope()))
    shop.sources.settle(
        until=lambda: shop.states.describe_execution(executionArn=duplicate["executionArn"])["status"] != "RUNNING"
    )

    assert shop.states.describe_execution(executionArn=duplicate["executionArn"])["status"] == "SUCCEEDED"
    assert shop.stock() == {"SKU-RED-MUG": 98, "SKU-BLUE-PLATE": 49}
    assert events_of(shop.cloud, order_id) == ["OrderPlaced", "InventoryReserved", "PaymentRequested"]


def test_the_saga_starts_from_the_rule_on_order_placed(shop: Shop) -> None:
    """Nothing but the bus starts an execution: the OrderPlaced rule routes to the state machine."""
    order_id = shop.place()
    assert shop.execution(order_id) is None  # not until the outbox publishes

    shop.sources.settle(until=lambda: shop.execution(order_id) is not None)

    execution = shop.execution(order_id)
    assert execution is not None
    assert json.loads(execution["input"])["type"] == "OrderPlaced"
    assert json.loads(execution["input"])["data"]["customerId"] == ALICE


@pytest.fixture
def hasty_shop() -> Iterator[Shop]:
    """A stack deployed so that every order is already past its deadline.

    moto applies StopExecution only once a waiting task returns, so the payment wait is short here.
    """
    with in_process_cloud({"OrderDeadlineMinutes": -1, "PaymentTimeoutSeconds": 3}) as cloud:
        yield Shop(cloud)


def test_the_reconciler_expires_a_stuck_order_stops_its_saga_and_compensates_twice_safely(
    hasty_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = hasty_shop
    order_id = shop.place()
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))
    reconciler = shop.cloud.functions.get("ReconcileOrdersFunction")
    stopped: list[str] = []
    monkeypatch.setattr(
        reconciler.module.states, "stop_execution", lambda **request: stopped.append(request["executionArn"])
    )

    first = reconciler.invoke(sample_event("reconcile_orders/scheduled.json"))
    second = reconciler.invoke(sample_event("reconcile_orders/scheduled.json"))  # the read model still lags
    shop.sources.settle(until=lambda: shop.finished(order_id))
    third = reconciler.invoke(sample_event("reconcile_orders/scheduled.json"))

    assert first == {"expired": [order_id], "settled": [], "skipped": 0}
    assert second["expired"] in ([], [order_id])  # compensations repeated or skipped: either changes nothing
    assert third == {"expired": [], "settled": [], "skipped": 0}
    # moto does not apply StopExecution to a task waiting for its token, so the call itself is what is checked;
    # the execution then times out, and its compensations find nothing left to do.
    execution = shop.execution(order_id)
    assert execution is not None
    assert stopped == [execution["executionArn"]] * len(stopped)
    assert 1 <= len(stopped) <= 2  # once per run that found the order overdue
    view = shop.view(order_id)
    assert (view["status"], view["reason"]) == ("EXPIRED", "not fulfilled before its deadline")
    assert shop.stock() == SEEDED
    expected = ["OrderPlaced", "InventoryReserved", "PaymentRequested", "OrderExpired", "InventoryReleased"]
    assert events_of(shop.cloud, order_id) == expected
    assert shop.published(order_id) == expected


def test_the_reconciler_leaves_orders_within_their_deadline_alone(shop: Shop) -> None:
    order_id = shop.place()
    shop.sources.settle(until=lambda: shop.awaiting_payment(order_id))

    result = shop.cloud.functions.get("ReconcileOrdersFunction").invoke(sample_event("reconcile_orders/scheduled.json"))

    assert result == {"expired": [], "settled": [], "skipped": 0}
    assert shop.status(order_id) == "AWAITING_PAYMENT"
