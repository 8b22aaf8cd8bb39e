"""POST /webhooks/payments: only a delivery signed by the provider, and recent, reaches the payment events queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from drivers.payment_provider import Delivery, signed_delivery
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from orders import webhook
from orders.errors import InvalidSignature
from orders.webhook import PaymentWebhookType
from tests.support import ALICES_ORDER, body, sample_event, table_sizes, webhook_secret

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def receive(function: Callable[[str], LocalFunction]) -> Invoke:
    return function("ReceivePaymentWebhookFunction").invoke


@pytest.fixture
def secret(cloud: Cloud) -> str:
    """The signing secret the local cloud generated for PaymentWebhookSecret."""
    return webhook_secret(cloud)


def succeeded(secret: str, **overrides: Any) -> Delivery:
    return signed_delivery(secret, ALICES_ORDER, PaymentWebhookType.SUCCEEDED, 2400, "USD", **overrides)


def api_event(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """The request as API Gateway hands it to the function, on the shape of the sample events."""
    event = sample_event("receive_payment_webhook/unsigned.json")
    event["body"] = body
    event["headers"] |= headers
    event["multiValueHeaders"] |= {name: [value] for name, value in headers.items()}
    return event


def delivered(delivery: Delivery, **header_changes: str | None) -> dict[str, Any]:
    """The delivery as an API event; a header given as None is left out."""
    headers = {name: value for name, value in (delivery.headers | header_changes).items() if value is not None}
    return api_event(delivery.body, headers)


def queued(cloud: Cloud) -> list[dict[str, Any]]:
    """Every message on the payment events queue, with its FIFO attributes."""
    sqs = boto3.client("sqs")
    url = cloud.physical_id("PaymentEventsQueue")
    messages: list[dict[str, Any]] = []
    while page := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]).get(
        "Messages", []
    ):
        messages.extend(dict(message) for message in page)
    return messages


def assert_refused(response: dict[str, Any], status: int, says: str, cloud: Cloud) -> None:
    assert response["statusCode"] == status, response["body"]
    assert says in body(response)["message"]
    assert queued(cloud) == []


# ---------------------------------------------------------------- accepted


def test_a_signed_delivery_is_queued_for_its_order_and_answered_202(receive: Invoke, secret: str, cloud: Cloud) -> None:
    delivery = succeeded(secret)
    sizes = table_sizes(cloud)

    response = receive(delivered(delivery))

    assert response["statusCode"] == 202, response["body"]
    assert body(response) == {"received": True, "id": delivery.event_id}
    [message] = queued(cloud)
    assert message["Body"] == delivery.body
    assert message["Attributes"]["MessageGroupId"] == ALICES_ORDER
    assert message["Attributes"]["MessageDeduplicationId"] == delivery.event_id
    assert table_sizes(cloud) == sizes  # the webhook only queues; the consumer settles


def test_a_redelivered_event_is_answered_202_again_and_queued_once(receive: Invoke, secret: str, cloud: Cloud) -> None:
    first = succeeded(secret)
    # The provider's retry: the same event id and body, signed again at a later time.
    retry = succeeded(secret, event_id=first.event_id, now=int(time.time()) + 1)

    responses = [receive(delivered(first)), receive(delivered(retry))]

    assert [response["statusCode"] for response in responses] == [202, 202]
    [message] = queued(cloud)  # the FIFO queue drops the repeat: same deduplication id within 5 minutes
    assert message["Attributes"]["MessageDeduplicationId"] == first.event_id


def test_header_names_are_case_insensitive(receive: Invoke, secret: str, cloud: Cloud) -> None:
    delivery = succeeded(secret)
    headers = {name.lower(): value for name, value in delivery.headers.items()}  # as HTTP/2 clients send them

    response = receive(api_event(delivery.body, headers))

    assert response["statusCode"] == 202, response["body"]
    assert len(queued(cloud)) == 1


def test_a_failed_payment_with_its_reason_is_queued(receive: Invoke, secret: str, cloud: Cloud) -> None:
    delivery = signed_delivery(
        secret, ALICES_ORDER, PaymentWebhookType.FAILED, 2400, "USD", reason="card_declined: insufficient funds"
    )

    response = receive(delivered(delivery))

    assert response["statusCode"] == 202
    [message] = queued(cloud)
    assert json.loads(message["Body"])["data"]["failureReason"] == "card_declined: insufficient funds"


def test_the_secret_is_read_once_per_container_not_per_request(receive: Invoke, secret: str, cloud: Cloud) -> None:
    """Rotating the secret applies once the cached value ages out (5 minutes), not on the next request."""
    receive(delivered(succeeded(secret)))
    boto3.client("secretsmanager").put_secret_value(
        SecretId=cloud.physical_id("PaymentWebhookSecret"), SecretString="rotated-" + secret
    )

    response = receive(delivered(succeeded(secret)))

    assert response["statusCode"] == 202
    assert len(queued(cloud)) == 2


# ---------------------------------------------------------------- refused: not from the provider


def test_a_signature_made_with_another_secret_is_refused(receive: Invoke, secret: str, cloud: Cloud) -> None:
    response = receive(delivered(succeeded("not-" + secret)))

    assert_refused(response, 401, "does not match", cloud)


def test_a_body_changed_after_signing_is_refused(receive: Invoke, secret: str, cloud: Cloud) -> None:
    delivery = succeeded(secret)
    tampered = Delivery(delivery.event_id, delivery.headers, delivery.body.replace('"amount": 2400', '"amount": 1'))

    response = receive(delivered(tampered))

    assert_refused(response, 401, "does not match", cloud)


@pytest.mark.parametrize("skew", [-webhook.TOLERANCE_SECONDS - 1, webhook.TOLERANCE_SECONDS + 60])
def test_a_delivery_signed_more_than_5_minutes_away_is_refused(
    receive: Invoke, secret: str, cloud: Cloud, skew: int
) -> None:
    """A captured delivery replayed later, or a clock far ahead, is refused even though its signature holds."""
    response = receive(delivered(succeeded(secret, now=int(time.time()) + skew)))

    assert_refused(response, 401, "seconds away from now", cloud)


@pytest.mark.parametrize(
    "missing",
    [(webhook.TIMESTAMP_HEADER, webhook.SIGNATURE_HEADER), (webhook.TIMESTAMP_HEADER,), (webhook.SIGNATURE_HEADER,)],
)
def test_a_delivery_without_its_headers_is_refused(
    receive: Invoke, secret: str, cloud: Cloud, missing: tuple[str, ...]
) -> None:
    response = receive(delivered(succeeded(secret), **dict.fromkeys(missing)))

    assert_refused(response, 401, "headers are required", cloud)


@pytest.mark.parametrize(
    "malformed",
    [
        ({webhook.TIMESTAMP_HEADER: "yesterday"}, "unix seconds"),
        ({webhook.TIMESTAMP_HEADER: "-1"}, "unix seconds"),
        ({webhook.SIGNATURE_HEADER: "sha256=abc"}, "must be v1="),
        ({webhook.SIGNATURE_HEADER: "v1=ünïcödé"}, "does not match"),
    ],
)
def test_a_malformed_header_is_refused(
    receive: Invoke, secret: str, cloud: Cloud, malformed: tuple[dict[str, str], str]
) -> None:
    headers, says = malformed
    response = receive(delivered(succeeded(secret), **headers))

    assert_refused(response, 401, says, cloud)


# ---------------------------------------------------------------- refused: signed, but not a payment webhook


def signed(secret: str, raw_body: str) -> dict[str, Any]:
    now = int(time.time())
    return api_event(
        raw_body, {webhook.TIMESTAMP_HEADER: str(now), webhook.SIGNATURE_HEADER: webhook.sign(secret, now, raw_body)}
    )


def test_the_signature_is_checked_before_the_body_is_read(receive: Invoke, cloud: Cloud) -> None:
    response = receive(api_event("{not json", {}))

    assert_refused(response, 401, "headers are required", cloud)


def test_a_signed_body_that_is_not_json_is_refused(receive: Invoke, secret: str, cloud: Cloud) -> None:
    response = receive(signed(secret, "{not json"))

    assert_refused(response, 422, "the request is invalid", cloud)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda event: event | {"type": "payment.refunded"}, "body.type"),
        (lambda event: event | {"id": "not an event id"}, "body.id"),
        (lambda event: event | {"data": event["data"] | {"amount": "2400"}}, "body.data.amount"),
        (
            lambda event: event | {"data": {k: v for k, v in event["data"].items() if k != "orderId"}},
            "body.data.orderId",
        ),
    ],
)
def test_a_signed_body_the_model_refuses_names_the_field(
    receive: Invoke, secret: str, cloud: Cloud, change: Callable[[dict[str, Any]], dict[str, Any]], field: str
) -> None:
    raw_body = json.dumps(change(json.loads(succeeded(secret).body)))

    response = receive(signed(secret, raw_body))

    assert_refused(response, 422, "the request is invalid", cloud)
    assert field in {error["field"] for error in body(response)["errors"]}


def test_fields_the_provider_adds_later_are_ignored(receive: Invoke, secret: str, cloud: Cloud) -> None:
    delivery = json.loads(succeeded(secret).body)
    delivery["livemode"] = False
    delivery["data"]["receiptUrl"] = "https://pay.example.com/r/1"

    response = receive(signed(secret, json.dumps(delivery)))

    assert response["statusCode"] == 202, response["body"]
    assert len(queued(cloud)) == 1


# ---------------------------------------------------------------- the signature itself


def test_verify_accepts_what_sign_signed_within_the_tolerance() -> None:
    body_text = '{"id": "evt_1"}'
    signature = webhook.sign("s3cret", 1_800_000_000, body_text)

    assert signature.startswith("v1=")
    assert len(signature) == len("v1=") + 64  # hex SHA-256
    for now in (1_800_000_000 - webhook.TOLERANCE_SECONDS, 1_800_000_000, 1_800_000_000 + webhook.TOLERANCE_SECONDS):
        webhook.verify("s3cret", "1800000000", signature, body_text, now=now)
    with pytest.raises(InvalidSignature, match="seconds away"):
        webhook.verify("s3cret", "1800000000", signature, body_text, now=1_800_000_000 + webhook.TOLERANCE_SECONDS + 1)
    with pytest.raises(InvalidSignature, match="does not match"):
        webhook.verify("s3cret", "1800000001", signature, body_text, now=1_800_000_000)  # the timestamp is signed too
