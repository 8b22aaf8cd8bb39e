"""Small readers the tests share: sample events, stored events, table sizes, response bodies, the order invariant."""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from drivers.sample_events import EVENTS, sample_event
from local_cloud.cloud import Cloud
from local_cloud.sandbox.pool import FunctionError
from orders.event_store import EventStore
from orders.events import DomainEvent
from orders.order import ENDED_UNFULFILLED, Order, OrderStatus

__all__ = ["EVENTS", "sample_event"]  # re-exported: the tests read sample events through here
ALICE = "3f1c6a2e-5b7d-4c1e-9f3a-2b8d7e6c5a41"  # the customer in events/*/valid.json
BOB = "9a7b3c5d-1e2f-4a6b-8c9d-0e1f2a3b4c5d"  # the customer in events/*/other_customer.json
ALICES_ORDER = "7707faf8-38a5-54a2-aa1d-3613d1d9b133"  # derived from ALICE + the key in place_order/valid.json


# What a new client takes from the environment: a client made under other values is another client.
_CLIENT_ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
)


def aws(service: str) -> Any:
    """A client of the AWS the environment points at (in-process moto, or a local cloud's endpoint).

    Made once per service and environment: making a client costs more than most calls a test makes with it.
    """
    return _client(service, tuple(os.environ.get(name) for name in _CLIENT_ENVIRONMENT))


@functools.cache
def _client(service: str, _environment: tuple[str | None, ...]) -> Any:
    return boto3.client(service)  # type: ignore[call-overload]  # stubs type literal service names only


def stored_events(cloud: Cloud, order_id: str) -> list[DomainEvent]:
    return EventStore(aws("dynamodb"), cloud.physical_id("EventStoreTable")).load(order_id)


def webhook_secret(cloud: Cloud) -> str:
    """The signing secret the cloud generated for PaymentWebhookSecret, as the provider would hold it."""
    secrets = aws("secretsmanager")
    return str(secrets.get_secret_value(SecretId=cloud.physical_id("PaymentWebhookSecret"))["SecretString"])


def enqueue(cloud: Cloud, queue_logical_id: str, *bodies: str) -> list[str]:
    """Puts bodies on a queue as its SNS subscription would (raw delivery); returns the message ids."""
    sqs = aws("sqs")
    url = cloud.physical_id(queue_logical_id)
    return [sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]


def item_count(cloud: Cloud, table_logical_id: str) -> int:
    return int(aws("dynamodb").scan(TableName=cloud.physical_id(table_logical_id), Select="COUNT")["Count"])


def table_sizes(cloud: Cloud) -> dict[str, int]:
    """Items per table: a 4xx must leave every one of these unchanged."""
    return {table: item_count(cloud, table) for table in ("EventStoreTable", "OrdersTable", "IdempotencyTable")}


def failed_with(error: BaseException | None, raised: type[BaseException]) -> bool:
    """Whether an invocation failed because its handler raised `raised`: Lambda reports the class by name."""
    return isinstance(error, FunctionError) and error.error_type == raised.__name__


def lambda_raises(raised: type[BaseException]) -> pytest.RaisesExc[FunctionError]:
    """Expects an invocation to fail because its handler raised `raised`, as Lambda reports it to the caller."""
    return pytest.raises(FunctionError, check=lambda error: failed_with(error, raised))


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def with_header(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """A copy of an API Gateway event with one header set, in both places API Gateway puts headers."""
    changed: dict[str, Any] = json.loads(json.dumps(event))
    changed["headers"][name] = value
    changed["multiValueHeaders"][name] = [value]
    return changed


def with_query(event: dict[str, Any], **query: str) -> dict[str, Any]:
    """A copy of an API Gateway event with exactly this query string."""
    changed: dict[str, Any] = json.loads(json.dumps(event))
    changed["queryStringParameters"] = query or None
    changed["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()} or None
    return changed


# ------------------------------------------------------------------ the invariant, read from the tables themselves


@dataclass(frozen=True)
class Holdings:
    """An order's status, its payment's state in PaymentsTable and its stock still RESERVED in InventoryTable."""

    status: OrderStatus
    payment: str | None
    reserved: dict[str, int]


def holdings(cloud: Cloud, order_id: str) -> Holdings:
    """Read with plain DynamoDB calls, not through orders.payments or orders.inventory, so a bug there cannot hide."""
    dynamodb = aws("dynamodb")
    payment = dynamodb.get_item(
        TableName=cloud.physical_id("PaymentsTable"), Key={"orderId": {"S": order_id}}, ConsistentRead=True
    ).get("Item")
    lines = dynamodb.query(
        TableName=cloud.physical_id("InventoryTable"),
        KeyConditionExpression="pk = :order",
        ExpressionAttributeValues={":order": {"S": f"ORDER#{order_id}"}},
        ConsistentRead=True,
    )["Items"]
    reserved = {
        line["sk"]["S"].removeprefix("SKU#"): int(line["quantity"]["N"])
        for line in lines
        if line["state"]["S"] == "RESERVED"
    }
    return Holdings(
        status=Order.from_events(stored_events(cloud, order_id)).status,
        payment=payment["state"]["S"] if payment else None,
        reserved=reserved,
    )


def stock_accounted_for(cloud: Cloud) -> dict[str, tuple[int, int]]:
    """SKU -> (available, held by RESERVED reservations): their sum is the stock the SKU was seeded with."""
    items = aws("dynamodb").scan(TableName=cloud.physical_id("InventoryTable"), ConsistentRead=True)["Items"]
    available = {
        item["pk"]["S"].removeprefix("SKU#"): int(item["available"]["N"])
        for item in items
        if item["sk"]["S"] == "STOCK"
    }
    held = Counter[str]()
    for item in items:
        if item["pk"]["S"].startswith("ORDER#") and item["state"]["S"] == "RESERVED":
            held[item["sk"]["S"].removeprefix("SKU#")] += int(item["quantity"]["N"])
    return {sku: (count, held[sku]) for sku, count in available.items()}


def assert_keeps_nothing_unless_completed(cloud: Cloud, order_id: str, seeded: dict[str, int]) -> Holdings:
    """The invariant: an order that ended other than COMPLETED has no captured payment unrefunded and no stock reserved.

    Also checks that no stock was lost or made up on the way: for every SKU, available plus reserved is the seed.
    """
    held = holdings(cloud, order_id)
    assert held.status is OrderStatus.COMPLETED or held.status in ENDED_UNFULFILLED, f"{order_id} has not ended: {held}"
    if held.status is not OrderStatus.COMPLETED:
        assert held.payment not in {"CAPTURED", "REQUESTED"}, (
            f"{order_id} ended {held.status} keeping the money: {held}"
        )
        assert not held.reserved, f"{order_id} ended {held.status} keeping stock: {held}"
    stock = stock_accounted_for(cloud)
    assert {sku: sum(stock[sku]) for sku in seeded} == seeded, f"stock not accounted for: {stock}"
    return held
