"""What a REST API's Cognito authorizer checks in the Authorization header before any function runs.

moto signs every pool's tokens with one RSA key it ships with; its public half stands in for the
pool's `/.well-known/jwks.json`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cache
from typing import Any

import boto3
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from moto.utilities.utils import load_resource

from local_cloud.cloud import Cloud
from local_cloud.cognito import issuer, user_pool_arns


class Unauthorized(Exception):
    """The token does not get past a Cognito authorizer; API Gateway answers 401 "Unauthorized"."""


class TokenExpired(Unauthorized):
    """Past its `exp`: API Gateway says so in its 401, unlike for any other refusal."""

    def __init__(self) -> None:
        super().__init__("The incoming token has expired")


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
