"""A client's bad bytes, sent over HTTP to the local API Gateway: a 4xx in the one error shape, and nothing written.

Each case is one that answered 502, closed the connection or answered in another shape (issue 10,
section 2). Every test reads the tables and the payment events queue afterwards: a refusal writes nothing.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from drivers.customers import DemoCustomer
from local_cloud.account import fake_account
from local_cloud.api_gateway.gateway import ApiGateway
from local_cloud.cloud import Cloud
from local_cloud.demo_account import id_token, seed_demo_customers
from local_cloud.environment import temporary_environment
from local_cloud.in_process import in_process_cloud
from tests.support import sample_event, table_sizes

ORDER: dict[str, Any] = json.loads(sample_event("place_order/valid.json")["body"])
NOTHING = {"EventStoreTable": 0, "OrdersTable": 0, "IdempotencyTable": 0}


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    """One cloud for the module: every test asserts it stays empty, so none can leave anything for the next."""
    with temporary_environment(fake_account()), in_process_cloud() as provisioned:
        yield provisioned


@pytest.fixture(scope="module")
def alice(cloud: Cloud) -> DemoCustomer:
    return seed_demo_customers(cloud)["alice"]


@pytest.fixture(scope="module")
def gateway(cloud: Cloud) -> Iterator[ApiGateway]:
    with ApiGateway(cloud, port=0) as started:
        yield started


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str | None
    raw: bytes


def call(
    gateway: ApiGateway,
    method: str,
    target: str,
    *,
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a socket to 127.0.0.1, the target's bytes as given (http.client encodes nothing)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    try:
        connection.request(
            method, target, body=body, headers=(headers or {}) | ({"Authorization": token} if token else {})
        )
        response = connection.getresponse()
        return Reply(response.status, response.getheader("Content-Type"), response.read())
    finally:
        connection.close()


def token_of(cloud: Cloud, customer: DemoCustomer) -> str:
    return id_token(cloud, customer.username, customer.password)


def queued(cloud: Cloud) -> int:
    """Messages on the payment events queue, where an accepted webhook delivery would be."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=cloud.physical_id("PaymentEventsQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def assert_refused(reply: Reply, status: int, cloud: Cloud) -> dict[str, Any]:
    """`status`, in the documented ErrorResponse shape, with every table and the webhook queue left empty."""
    assert reply.status == status, reply.raw[:500]
    assert reply.content_type == "application/json"
    error: dict[str, Any] = json.loads(reply.raw)
    assert set(error) <= {"message", "errors"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    for problem in error.get("errors", []):
        assert set(problem) == {"field", "message"}, problem
        assert all(isinstance(value, str) for value in problem.values())
    assert table_sizes(cloud) == NOTHING
    assert queued(cloud) == 0
    return error


def fields(error: dict[str, Any]) -> set[str]:
    return {problem["field"] for problem in error.get("errors", [])}


def place(gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer, body: bytes, content_type: str) -> Reply:
    headers = {"Content-Type": content_type, "Idempotency-Key": "bad-input-1"}
    return call(gateway, "POST", "/orders", token=token_of(cloud, alice), body=body, headers=headers)


def order_with(**changes: Any) -> bytes:
    return json.dumps(ORDER | changes).encode()


# ---------------------------------------------------------------- bodies that are no UTF-8 JSON


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe{}", id="not-utf8-at-all"),
        # Valid JSON around one Latin-1 byte: API Gateway would hand "Al\ufffdce" on, and it would be placed.
        pytest.param(order_with().replace(b"Alice", b"Al\xe9ce"), id="latin1"),
        pytest.param(order_with().replace(b"Alice", "Al\ufffdce".encode()), id="a-replacement-character-sent-as-is"),
    ],
)
def test_a_body_that_is_not_utf8_is_a_400(raw: bytes, gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer) -> None:
    error = assert_refused(place(gateway, cloud, alice, raw, "application/json"), 400, cloud)

    assert error["message"] == "the body is not UTF-8 text"


def test_a_webhook_body_that_is_not_utf8_is_a_400_before_any_signature_work(gateway: ApiGateway, cloud: Cloud) -> None:
    # Unsigned on purpose: a 401 would mean the signature was looked at first.
    reply = call(
        gateway, "POST", "/webhooks/payments", body=b'{"id": "evt_\xff"}', headers={"Content-Type": "application/json"}
    )

    error = assert_refused(reply, 400, cloud)

    assert error["message"] == "the body is not UTF-8 text"


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary: Powertools raised ValueError, a 502
        "multipart/form-data; boundary=xyz",
        "text/plain",  # Powertools' own 415, in its own shape
        "application/x-www-form-urlencoded",
    ],
)
def test_a_body_that_is_not_json_is_a_415(
    content_type: str, gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer
) -> None:
    error = assert_refused(place(gateway, cloud, alice, order_with(), content_type), 415, cloud)

    assert error["message"] == "the body must be application/json"
    assert fields(error) == {"header.Content-Type"}


def test_the_webhook_takes_json_only_too(gateway: ApiGateway, cloud: Cloud) -> None:
    reply = call(gateway, "POST", "/webhooks/payments", body=b"id=evt_1", headers={"Content-Type": "text/plain"})

    assert_refused(reply, 415, cloud)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="arrays"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, id="objects"),
        pytest.param(b'{"items": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", id="in-a-field"),
    ],
)
def test_json_nested_10000_deep_is_a_422(raw: bytes, gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer) -> None:
    error = assert_refused(place(gateway, cloud, alice, raw, "application/json"), 422, cloud)

    assert any("nested too deeply" in problem["message"] for problem in error["errors"]), error


# ---------------------------------------------------------------- bodies the model refuses


def test_an_array_body_is_a_422_not_its_first_element_placed(
    gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer
) -> None:
    raw = json.dumps([ORDER]).encode()

    error = assert_refused(place(gateway, cloud, alice, raw, "application/json"), 422, cloud)

    assert any("must be a JSON object" in problem["message"] for problem in error["errors"]), error


@pytest.mark.parametrize("quantity", ["1", 1.0, True], ids=["string", "float", "boolean"])
def test_a_quantity_that_is_not_an_integer_is_a_422(
    quantity: object, gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer
) -> None:
    raw = order_with(items=[{"sku": "SKU-RED-MUG", "quantity": quantity}])

    error = assert_refused(place(gateway, cloud, alice, raw, "application/json"), 422, cloud)

    assert fields(error) == {"body.items.0.quantity"}


@pytest.mark.parametrize(
    ("snake", "camel"), [("shipping_address", "shippingAddress"), ("payment_token", "paymentToken")]
)
def test_only_the_contracts_camel_case_names_are_read(
    snake: str, camel: str, gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer
) -> None:
    order = ORDER | {"paymentToken": "tok_visa"}
    raw = json.dumps({snake if name == camel else name: value for name, value in order.items()}).encode()

    error = assert_refused(place(gateway, cloud, alice, raw, "application/json"), 422, cloud)

    assert f"body.{snake}" in fields(error)


# ---------------------------------------------------------------- query and path


def page_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize("value", [None, [], ["a"], {}, {"S": "x"}, 1, True], ids=repr)
def test_a_page_token_with_our_key_names_but_values_that_are_no_strings_is_a_400(
    value: object, gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer
) -> None:
    """Such a start key reached DynamoDB: moto's server failed on it with a 500 the SDK retried for 26 s."""
    token = page_token({"orderId": value, "customerId": alice.sub, "createdAt": value})

    reply = call(gateway, "GET", f"/orders?nextToken={token}", token=token_of(cloud, alice))

    error = assert_refused(reply, 400, cloud)
    assert error["message"] == "nextToken is not a token this API issued"


@pytest.mark.parametrize("order_id", ["abc%00def", "abc%FFdef", "%C3%A9t%C3%A9", "a%20b", "x" * 65])
@pytest.mark.parametrize("route", ["/orders/{}", "/orders/{}/cancel"])
def test_a_path_parameter_the_route_does_not_take_is_a_422_naming_it(
    order_id: str, route: str, gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer
) -> None:
    method = "POST" if route.endswith("/cancel") else "GET"

    reply = call(gateway, method, route.format(order_id), token=token_of(cloud, alice))

    error = assert_refused(reply, 422, cloud)
    assert fields(error) == {"path.orderId"}


def test_an_empty_body_that_says_it_is_not_json_is_a_415(
    gateway: ApiGateway, cloud: Cloud, alice: DemoCustomer
) -> None:
    assert_refused(place(gateway, cloud, alice, b"", "text/plain"), 415, cloud)


def test_a_path_no_route_of_the_function_serves_is_a_404_in_the_one_shape(cloud: Cloud) -> None:
    """What Powertools answered in its own shape, {"statusCode": 404, ...}, when it matched no route."""
    event = sample_event("list_orders/valid.json") | {"path": "/elsewhere", "resource": "/elsewhere"}

    response = cloud.functions.get("ListOrdersFunction").invoke(event)

    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"message": "no resource at /elsewhere"}
