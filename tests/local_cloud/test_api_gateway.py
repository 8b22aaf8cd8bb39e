"""The local API Gateway: the template's REST API over HTTP, its Cognito authorizer enforced, its functions real.

Every request goes through a socket with urllib, as a client's would; moto answers every AWS call,
whichever thread the gateway serves it from.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

import boto3
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from moto.utilities.utils import load_resource

from drivers.customers import DemoCustomer
from local_cloud import cognito, demo_account, provision
from local_cloud.api_gateway.authorizer import verify_id_token
from local_cloud.api_gateway.gateway import ApiGateway, Exchange
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.in_process import in_process_cloud
from local_cloud.streams import StreamMapping
from tests.support import sample_event, table_sizes

ORDER_BODY = sample_event("place_order/valid.json")["body"]
UNAUTHORIZED = {"message": "Unauthorized"}
JAVA_DATE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}")


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """The template on moto, its user pool included, whether or not provision knows Cognito yet."""
    monkeypatch.setattr(provision, "PROVISIONERS", provision.PROVISIONERS | cognito.PROVISIONERS)
    with in_process_cloud() as provisioned:
        yield provisioned


@pytest.fixture
def customers(cloud: Cloud) -> dict[str, DemoCustomer]:
    return demo_account.seed_demo_customers(cloud)


@pytest.fixture
def exchanges() -> list[Exchange]:
    return []


@pytest.fixture
def gateway(cloud: Cloud, exchanges: list[Exchange]) -> Iterator[ApiGateway]:
    with ApiGateway(cloud, port=0, observe=exchanges.append) as started:
        yield started


def token_of(cloud: Cloud, customer: DemoCustomer) -> str:
    return demo_account.id_token(cloud, customer.username, customer.password)


# ---------------------------------------------------------------- a client, with urllib only


@dataclass
class Reply:
    status: int
    headers: Message
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


# No proxy: a proxy in the shell's environment must not stand between the test and localhost.
_CLIENT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    gateway: ApiGateway,
    method: str,
    target: str,
    *,
    token: str | None = None,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1, the gateway under test
        gateway.url + target,
        data=body.encode() if isinstance(body, str) else body,
        method=method,
        headers=(headers or {}) | ({"Authorization": token} if token else {}),
    )
    try:
        with _CLIENT.open(request) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


def place_order(gateway: ApiGateway, token: str, key: str = "order-1") -> Reply:
    return call(
        gateway,
        "POST",
        "/orders",
        token=token,
        body=ORDER_BODY,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


def project(cloud: Cloud) -> None:
    """Deliver the event store's stream to the read model, as its mapping would."""
    StreamMapping.from_template(cloud, cloud.functions.get("ProjectOrdersFunction")).deliver()


# ---------------------------------------------------------------- forged tokens


def _payload(token: str) -> dict[str, Any]:
    """A token's claims, read without checking anything: what a forger starts from."""
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# The private half of the key moto signs Cognito tokens with: what only "Cognito" holds.
MOTO_SIGNING_KEY = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def _signed_by_moto(claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": MOTO_SIGNING_KEY.kid}, claims, MOTO_SIGNING_KEY)


def _signed_with_another_key(token: str, _cloud: Cloud) -> str:
    stranger = RSAKey.generate_key(2048)
    return jwt.encode({"alg": "RS256", "kid": MOTO_SIGNING_KEY.kid}, _payload(token), stranger)


def _unsigned(token: str, _cloud: Cloud) -> str:
    return f"{_b64({'alg': 'none', 'kid': MOTO_SIGNING_KEY.kid})}.{_b64(_payload(token))}."


def _garbage(_token: str, _cloud: Cloud) -> str:
    return "not-a-jwt"


def _tampered(token: str, _cloud: Cloud) -> str:
    """Someone else's sub in a real token, the signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{_b64(_payload(token) | {'sub': 'someone-else'})}.{signature}"


def _for_another_client(token: str, _cloud: Cloud) -> str:
    return _signed_by_moto(_payload(token) | {"aud": "an-app-client-of-someone-else"})


def _issued_elsewhere(token: str, _cloud: Cloud) -> str:
    """Signed with Cognito's key for our app client, yet issued by another pool: the issuer alone must refuse it."""
    elsewhere = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Elsewhere"
    return _signed_by_moto(_payload(token) | {"iss": elsewhere})


def _access_token(token: str, cloud: Cloud) -> str:
    """The customer's access token: without scopes on the method, the authorizer takes ID tokens only."""
    email = _payload(token)["email"]
    password = demo_account.DEMO_CUSTOMERS[email.split("@")[0]].password
    answer = boto3.client("cognito-idp").initiate_auth(
        ClientId=cognito.user_pool_client_id(cloud),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return answer["AuthenticationResult"]["AccessToken"]


def _from_another_pool(_token: str, _cloud: Cloud) -> str:
    """A real ID token of another user pool of the account: signed by Cognito, not issued by our pool."""
    idp = boto3.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="someone-elses")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="theirs", ExplicitAuthFlows=["USER_PASSWORD_AUTH"])
    password = "Elsewhere-2026!"  # noqa: S105 - a throwaway user of a throwaway pool on moto
    idp.admin_create_user(UserPoolId=pool, Username="mallory", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="mallory", Password=password, Permanent=True)
    answer = idp.initiate_auth(
        ClientId=client["UserPoolClient"]["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "mallory", "PASSWORD": password},
    )
    return answer["AuthenticationResult"]["IdToken"]


Forgery = Callable[[str, Cloud], str]


# ---------------------------------------------------------------- the happy path


def test_a_customer_places_an_order_and_reads_it_back(
    cloud: Cloud, customers: dict[str, DemoCustomer], gateway: ApiGateway, exchanges: list[Exchange]
) -> None:
    token = token_of(cloud, customers["alice"])

    placed = place_order(gateway, token)
    assert placed.status == 201
    order = placed.json
    assert order["customerId"] == customers["alice"].sub  # the caller is the token's sub, never the body's
    assert order["status"] == "PLACED"

    project(cloud)
    read = call(gateway, "GET", f"/orders/{order['orderId']}", token=token)

    assert read.status == 200
    assert read.json["orderId"] == order["orderId"]
    assert read.headers["Content-Type"] == "application/json"
    assert [(exchange.method, exchange.status, exchange.function) for exchange in exchanges] == [
        ("POST", 201, "PlaceOrderFunction"),
        ("GET", 200, "GetOrderFunction"),
    ]
    assert exchanges[0].request_body == ORDER_BODY
    assert json.loads(exchanges[1].response_body) == read.json
    assert exchanges[1].path == f"/orders/{order['orderId']}"
    assert all(exchange.duration_ms > 0 for exchange in exchanges)


def test_another_customer_does_not_see_the_order(
    cloud: Cloud, customers: dict[str, DemoCustomer], gateway: ApiGateway
) -> None:
    order_id = place_order(gateway, token_of(cloud, customers["alice"])).json["orderId"]
    project(cloud)

    read = call(gateway, "GET", f"/orders/{order_id}", token=token_of(cloud, customers["bob"]))

    assert read.status == 404
    listed = call(gateway, "GET", "/orders", token=token_of(cloud, customers["bob"]))
    assert listed.status == 200
    assert listed.json["orders"] == []


def test_query_and_path_parameters_reach_the_handler_url_decoded(
    cloud: Cloud, customers: dict[str, DemoCustomer], gateway: ApiGateway
) -> None:
    token = token_of(cloud, customers["alice"])
    first = place_order(gateway, token, key="order-1").json["orderId"]
    second = place_order(gateway, token, key="order-2").json["orderId"]
    project(cloud)

    page = call(gateway, "GET", "/orders?limit=%31", token=token)  # %31 is "1"
    every_character_encoded = "".join(f"%{byte:02X}" for byte in first.encode())
    read = call(gateway, "GET", f"/orders/{every_character_encoded}", token=token)

    assert page.status == 200
    assert len(page.json["orders"]) == 1
    assert page.json["nextToken"]
    assert page.json["orders"][0]["orderId"] in {first, second}
    assert read.status == 200
    assert read.json["orderId"] == first


def test_the_proxy_event_is_shaped_as_api_gateway_shapes_it(
    cloud: Cloud, customers: dict[str, DemoCustomer], gateway: ApiGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, Any]] = []

    def record(event: dict[str, Any], _context: object) -> dict[str, Any]:
        received.append(event)
        return {
            "statusCode": 200,
            "multiValueHeaders": {"X-Seen": ["one", "two"]},
            "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(b"\x00\xff raw").decode(),
            "isBase64Encoded": True,
        }

    monkeypatch.setattr(cloud.functions.get("PlaceOrderFunction").module, "lambda_handler", record)
    alice = customers["alice"]
    binary = b"\x89PNG\r\n\x1a\n\xff"

    reply = call(
        gateway,
        "POST",
        "/orders?tag=a%20b&tag=c&empty=",
        token=token_of(cloud, alice),
        body=binary,
        headers={"Content-Type": "image/png", "X-Correlation-Id": "corr-1"},
    )

    assert reply.status == 200
    assert reply.raw == b"\x00\xff raw"  # the function's base64 body, decoded for the client
    assert reply.headers.get_all("X-Seen") == ["one", "two"]
    assert reply.headers["Content-Type"] == "application/octet-stream"
    (event,) = received
    assert event["resource"] == "/orders"
    assert event["path"] == "/orders"
    assert event["httpMethod"] == "POST"
    assert event["queryStringParameters"] == {"tag": "c", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a b", "c"], "empty": [""]}
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["headers"]["X-Correlation-Id"] == "corr-1"
    assert event["multiValueHeaders"]["X-Correlation-Id"] == ["corr-1"]
    # The template declares no binary media types: every body is UTF-8 text, what is not UTF-8 becomes U+FFFD.
    assert event["isBase64Encoded"] is False
    assert event["body"] == binary.decode("utf-8", "replace")
    context = event["requestContext"]
    assert context["stage"] == "v1"  # the template's StageName
    assert context["path"] == "/v1/orders"
    assert context["resourcePath"] == "/orders"
    assert context["httpMethod"] == "POST"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"]
    assert isinstance(context["requestTimeEpoch"], int)
    claims = context["authorizer"]["claims"]
    assert {name: claims[name] for name in ("sub", "email", "token_use", "aud")} == {
        "sub": alice.sub,
        "email": alice.username,
        "token_use": "id",
        "aud": cognito.user_pool_client_id(cloud),
    }
    assert all(isinstance(value, str) for value in claims.values())
    assert JAVA_DATE.fullmatch(claims["exp"])
    assert JAVA_DATE.fullmatch(claims["iat"])


def test_path_parameters_and_an_empty_body_in_the_event(
    cloud: Cloud, customers: dict[str, DemoCustomer], gateway: ApiGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, Any]] = []

    def record(event: dict[str, Any], _context: object) -> dict[str, Any]:
        received.append(event)
        return {"statusCode": 204}

    monkeypatch.setattr(cloud.functions.get("GetOrderFunction").module, "lambda_handler", record)

    reply = call(gateway, "GET", "/orders/an%20order", token=token_of(cloud, customers["bob"]))

    assert reply.status == 204
    (event,) = received
    assert event["resource"] == "/orders/{orderId}"
    assert event["pathParameters"] == {"orderId": "an order"}
    assert event["requestContext"]["resourcePath"] == "/orders/{orderId}"
    assert event["requestContext"]["path"] == "/v1/orders/an order"
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


# ---------------------------------------------------------------- the authorizer


def test_no_token_is_refused_before_any_function_runs(
    cloud: Cloud, gateway: ApiGateway, exchanges: list[Exchange]
) -> None:
    before = table_sizes(cloud)

    placed = call(gateway, "POST", "/orders", body=ORDER_BODY, headers={"Idempotency-Key": "order-1"})

    assert placed.status == 401
    assert placed.json == UNAUTHORIZED
    assert table_sizes(cloud) == before == {"EventStoreTable": 0, "OrdersTable": 0, "IdempotencyTable": 0}
    assert exchanges[-1].function is None


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(_signed_with_another_key, id="signed-with-another-key"),
        pytest.param(_unsigned, id="alg-none"),
        pytest.param(_garbage, id="not-a-jwt"),
        pytest.param(_tampered, id="claims-changed-after-signing"),
        pytest.param(_for_another_client, id="audience-not-our-app-client"),
        pytest.param(_issued_elsewhere, id="issuer-not-our-pool"),
        pytest.param(_access_token, id="access-token"),
        pytest.param(_from_another_pool, id="id-token-of-another-pool"),
    ],
)
def test_a_token_the_authorizer_does_not_trust_is_refused(
    forge: Forgery, cloud: Cloud, customers: dict[str, DemoCustomer], gateway: ApiGateway, exchanges: list[Exchange]
) -> None:
    forged = forge(token_of(cloud, customers["alice"]), cloud)

    placed = place_order(gateway, forged)
    listed = call(gateway, "GET", "/orders", token=forged)

    assert (placed.status, placed.json) == (401, UNAUTHORIZED)
    assert (listed.status, listed.json) == (401, UNAUTHORIZED)
    assert table_sizes(cloud) == {"EventStoreTable": 0, "OrdersTable": 0, "IdempotencyTable": 0}
    assert [exchange.function for exchange in exchanges] == [None, None]


def test_an_expired_token_is_refused_as_expired(
    cloud: Cloud, customers: dict[str, DemoCustomer], gateway: ApiGateway
) -> None:
    claims = _payload(token_of(cloud, customers["alice"]))
    # Signed by "Cognito" itself, so only its age is wrong: an hour-long token issued two hours ago.
    expired = _signed_by_moto(claims | {"iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600})

    listed = call(gateway, "GET", "/orders", token=expired)

    assert listed.status == 401
    assert listed.json == {"message": "The incoming token has expired"}


def test_the_route_without_an_authorizer_reaches_its_function_without_a_token(
    gateway: ApiGateway, exchanges: list[Exchange]
) -> None:
    delivered = call(gateway, "POST", "/webhooks/payments", body="{}", headers={"Content-Type": "application/json"})

    # The function's own 401, about its signature headers: API Gateway let the request through.
    assert delivered.status == 401
    assert delivered.json != UNAUTHORIZED
    assert "Webhook-Signature" in delivered.json["message"]
    assert exchanges[-1].function == "ReceivePaymentWebhookFunction"


# ---------------------------------------------------------------- API Gateway's own answers


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/nowhere"), ("DELETE", "/orders"), ("GET", "/orders/1/cancel"), ("GET", "/"), ("POST", "/orders/1/x")],
)
def test_an_unknown_route_is_missing_authentication_token(
    method: str,
    target: str,
    *,
    cloud: Cloud,
    customers: dict[str, DemoCustomer],
    gateway: ApiGateway,
    exchanges: list[Exchange],
) -> None:
    without_token = call(gateway, method, target)
    with_token = call(gateway, method, target, token=token_of(cloud, customers["alice"]))

    for reply in (without_token, with_token):
        assert reply.status == 403
        assert reply.json == {"message": "Missing Authentication Token"}
    assert [exchange.function for exchange in exchanges] == [None, None]


def _raises(_event: dict[str, Any], _context: object) -> dict[str, Any]:
    raise RuntimeError("the handler broke")


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(_raises, id="raises"),
        pytest.param(lambda _event, _context: None, id="returns-none"),
        pytest.param(lambda _event, _context: {"statusCode": "200", "body": "{}"}, id="status-not-a-number"),
        pytest.param(lambda _event, _context: {"statusCode": 200, "body": {"a": 1}}, id="body-not-a-string"),
        pytest.param(lambda _event, _context: {"statusCode": 200, "extra": 1}, id="field-not-in-a-proxy-response"),
        pytest.param(lambda _event, _context: {"statusCode": 200, "body": object()}, id="not-serializable"),
    ],
)
def test_a_failing_function_is_a_bad_gateway(
    handler: Callable[[dict[str, Any], object], Any],
    *,
    cloud: Cloud,
    customers: dict[str, DemoCustomer],
    gateway: ApiGateway,
    exchanges: list[Exchange],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    function: LocalFunction = cloud.functions.get("ListOrdersFunction")
    monkeypatch.setattr(function.module, "lambda_handler", handler)

    listed = call(gateway, "GET", "/orders", token=token_of(cloud, customers["alice"]))

    assert listed.status == 502
    assert listed.json == {"message": "Internal server error"}
    assert exchanges[-1].function == "ListOrdersFunction"
    (logged,) = [record for record in caplog.records if record.name == "local_cloud.api_gateway"]
    assert logged.exc_info is not None  # the traceback, for whoever runs the local cloud


# ---------------------------------------------------------------- demo customers


def test_seeding_again_keeps_the_same_customers(cloud: Cloud, customers: dict[str, DemoCustomer]) -> None:
    again = demo_account.seed_demo_customers(cloud)

    assert again == customers
    assert set(again) == {"alice", "bob"}
    assert again["alice"].sub != again["bob"].sub
    claims = verify_id_token(cloud, token_of(cloud, again["bob"]))
    assert claims["sub"] == again["bob"].sub
