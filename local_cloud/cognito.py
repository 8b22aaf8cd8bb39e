"""The template's Cognito user pool on moto: provisioning, demo customers, and the check API Gateway makes.

A client signs in (`id_token`) the way a browser app does, with USER_PASSWORD_AUTH on the
template's app client. `verify_id_token` is what a REST API's Cognito authorizer does with the
Authorization header before any function runs. moto signs every pool's tokens with one RSA key
it ships with; its public half stands in for the pool's `/.well-known/jwks.json`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from moto.utilities.utils import load_resource

if TYPE_CHECKING:
    from local_cloud.provision import Cloud

# The same shape as local_cloud.provision.Provisioner, which cannot be imported here: provision imports this module.
Attributes = dict[str, Any]
Provisioner = Callable[[str, dict[str, Any]], tuple[Any, Attributes]]


class Unauthorized(Exception):
    """The token does not get past a Cognito authorizer; API Gateway answers 401 "Unauthorized"."""


class TokenExpired(Unauthorized):
    """Past its `exp`: API Gateway says so in its 401, unlike for any other refusal."""

    def __init__(self) -> None:
        super().__init__("The incoming token has expired")


USER_POOL_TYPE = "AWS::Cognito::UserPool"
USER_POOL_CLIENT_TYPE = "AWS::Cognito::UserPoolClient"

# CloudFormation properties that CreateUserPool / CreateUserPoolClient take under the same name and shape.
_USER_POOL_PROPERTIES = (
    "Policies",
    "Schema",
    "AutoVerifiedAttributes",
    "AliasAttributes",
    "UsernameAttributes",
    "UsernameConfiguration",
    "MfaConfiguration",
    "AccountRecoverySetting",
    "AdminCreateUserConfig",
    "DeletionProtection",
    "UserAttributeUpdateSettings",
    "UserPoolTags",
)
_CLIENT_PROPERTIES = (
    "ExplicitAuthFlows",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "ReadAttributes",
    "WriteAttributes",
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
)


def issuer(user_pool_arn: str) -> str:
    """The `iss` of the pool's tokens, and its ProviderURL: `https://cognito-idp.<region>.amazonaws.com/<pool id>`."""
    region, pool_id = user_pool_arn.split(":")[3], user_pool_arn.rsplit("/", 1)[-1]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def _user_pool(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    client = boto3.client("cognito-idp")
    request: dict[str, Any] = {"PoolName": properties.get("UserPoolName", logical_id)}
    request |= {name: properties[name] for name in _USER_POOL_PROPERTIES if name in properties}
    pool = client.create_user_pool(**request)["UserPool"]
    if "SOFTWARE_TOKEN_MFA" in properties.get("EnabledMfas", []):
        # EnabledMfas is CloudFormation's; the API sets it apart, as CloudFormation itself does.
        client.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            SoftwareTokenMfaConfiguration={"Enabled": True},
            MfaConfiguration=properties.get("MfaConfiguration", "OFF"),
        )
    provider_url = issuer(pool["Arn"])
    return pool["Id"], {
        "Arn": pool["Arn"],
        "UserPoolId": pool["Id"],
        "ProviderURL": provider_url,
        "ProviderName": provider_url.removeprefix("https://"),
    }


def _user_pool_client(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    request: dict[str, Any] = {
        "UserPoolId": properties["UserPoolId"],
        "ClientName": properties.get("ClientName", logical_id),
        "GenerateSecret": bool(properties.get("GenerateSecret", False)),
    }
    request |= {name: properties[name] for name in _CLIENT_PROPERTIES if name in properties}
    app_client = boto3.client("cognito-idp").create_user_pool_client(**request)["UserPoolClient"]
    attributes: Attributes = {"ClientId": app_client["ClientId"], "Name": app_client["ClientName"]}
    if "ClientSecret" in app_client:
        attributes["ClientSecret"] = app_client["ClientSecret"]
    return app_client["ClientId"], attributes


PROVISIONERS: dict[str, Provisioner] = {
    USER_POOL_TYPE: _user_pool,
    USER_POOL_CLIENT_TYPE: _user_pool_client,
}


# ---------------------------------------------------------------- the template's pool and client


def _only(cloud: Cloud, resource_type: str) -> str:
    """The logical id of the template's one resource of this type: which pool is meant is never a guess."""
    logical_ids = sorted(cloud.template.of_type(resource_type))
    if len(logical_ids) != 1:
        raise LookupError(f"expected one {resource_type} in the template, found {logical_ids or 'none'}")
    return logical_ids[0]


def user_pool_id(cloud: Cloud) -> str:
    return str(cloud.physical_id(_only(cloud, USER_POOL_TYPE)))


def user_pool_client_id(cloud: Cloud) -> str:
    return str(cloud.physical_id(_only(cloud, USER_POOL_CLIENT_TYPE)))


def user_pool_arns(cloud: Cloud) -> list[str]:
    """Every user pool the template made: whom an authorizer trusts when nothing narrower is named."""
    return [cloud.template.resolve({"Fn::GetAtt": [pool, "Arn"]}) for pool in cloud.template.of_type(USER_POOL_TYPE)]


# ---------------------------------------------------------------- demo customers


@dataclass(frozen=True)
class DemoLogin:
    """How a demo customer signs in. Local only: these accounts exist only on moto."""

    email: str
    password: str


# Passwords meet the template's policy (12+ characters, upper, lower and a digit).
DEMO_CUSTOMERS: dict[str, DemoLogin] = {
    "alice": DemoLogin(email="alice@example.com", password="AliceLocalDemo2026"),  # noqa: S106 - local demo password
    "bob": DemoLogin(email="bob@example.com", password="BobLocalDemo2026x"),  # noqa: S106 - local demo password
}


@dataclass(frozen=True)
class DemoCustomer:
    """A seeded customer: what they sign in with, and the `sub` the API knows them by."""

    username: str
    password: str
    sub: str


def seed_customer(pool_id: str, login: DemoLogin) -> DemoCustomer:
    """A confirmed user of the pool that signs in with `login`, through Cognito's own API (moto's or AWS's)."""
    cognito = boto3.client("cognito-idp")
    # Seeded before: the account stays, and its password is set again below.
    with suppress(cognito.exceptions.UsernameExistsException):
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=login.email,
            UserAttributes=[{"Name": "email", "Value": login.email}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
    # Permanent: the customer can sign in straight away, without the first-login password change.
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=login.email, Password=login.password, Permanent=True)
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=login.email)
    sub = next(attribute["Value"] for attribute in user["UserAttributes"] if attribute["Name"] == "sub")
    return DemoCustomer(username=login.email, password=login.password, sub=sub)


def seed_demo_customers(cloud: Cloud) -> dict[str, DemoCustomer]:
    """DEMO_CUSTOMERS as confirmed users of the template's pool, by name ("alice", "bob"). Safe to run again."""
    pool_id = user_pool_id(cloud)
    return {name: seed_customer(pool_id, login) for name, login in DEMO_CUSTOMERS.items()}


def id_token(cloud: Cloud, username: str, password: str) -> str:
    """Sign in as a client app does, with the template's app client, and keep the ID token."""
    return sign_in(user_pool_client_id(cloud), username, password)


def sign_in(client_id: str, username: str, password: str) -> str:
    """The ID token an app client gets for a password sign-in."""
    answer = boto3.client("cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    if "AuthenticationResult" not in answer:
        raise Unauthorized(f"signing in as {username} asks for {answer.get('ChallengeName')}, not a password only")
    return answer["AuthenticationResult"]["IdToken"]


# ---------------------------------------------------------------- what the authorizer checks


@cache
def _signing_keys() -> KeySet:
    """The public keys moto signs Cognito tokens with: every local pool's JWKS."""
    return KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))


# App clients seen per pool ARN. Asking moto on every request doubled the API's latency;
# a miss asks again, so a client created while the local cloud runs is trusted at once.
_known_app_clients: dict[str, frozenset[str]] = {}


def _is_app_client(pool_arn: str, client_id: object) -> bool:
    if client_id in _known_app_clients.get(pool_arn, frozenset()):
        return True
    pool_id = pool_arn.rsplit("/", 1)[-1]
    clients = boto3.client("cognito-idp").list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
    _known_app_clients[pool_arn] = frozenset(client["ClientId"] for client in clients["UserPoolClients"])
    return client_id in _known_app_clients[pool_arn]


def _signed_claims(token: str) -> dict[str, Any]:
    try:
        return dict(jwt.decode(token, _signing_keys(), algorithms=["RS256"]).claims)
    except (JoseError, ValueError) as error:
        # Not a JWT, an unknown key, another algorithm (`none` included) or a bad signature: all one answer.
        raise Unauthorized(f"the token is not signed by a local user pool: {error!r}") from None


def verify_id_token(cloud: Cloud, token: str, pool_arns: Iterable[str] | None = None) -> dict[str, Any]:
    """The token's claims, if a REST API Cognito authorizer trusting `pool_arns` lets it through.

    Without scopes on the method, that authorizer takes ID tokens only, from an app client of one of
    its pools. `pool_arns` defaults to every user pool of the template.
    """
    claims = _signed_claims(token)
    trusted = {issuer(arn): arn for arn in (user_pool_arns(cloud) if pool_arns is None else pool_arns)}
    pool_arn = trusted.get(str(claims.get("iss")))
    if pool_arn is None:
        raise Unauthorized(f"the token's issuer {claims.get('iss')!r} is not a user pool this authorizer trusts")
    if claims.get("token_use") != "id":
        raise Unauthorized(f"an ID token is required, this is token_use={claims.get('token_use')!r}")
    if not _is_app_client(pool_arn, claims.get("aud")):
        raise Unauthorized(f"the token's audience {claims.get('aud')!r} is not an app client of its pool")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise Unauthorized(f"the token's exp {expires!r} is not a time")
    if expires <= time.time():
        raise TokenExpired
    return claims
