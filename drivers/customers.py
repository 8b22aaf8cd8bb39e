"""Customers of a user pool, made and signed in through Cognito's own API (moto's or AWS's).

A customer signs in the way a browser app does, with USER_PASSWORD_AUTH on an app client, and keeps
the ID token the API's Cognito authorizer checks.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import boto3


class SignInRefused(Exception):
    """Cognito did not answer a password sign-in with tokens (it asked for a challenge instead)."""


@dataclass(frozen=True)
class DemoLogin:
    """How a customer signs in: an e-mail address as the username, and a password."""

    email: str
    password: str


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


def sign_in(client_id: str, username: str, password: str) -> str:
    """The ID token an app client gets for a password sign-in."""
    answer = boto3.client("cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    if "AuthenticationResult" not in answer:
        raise SignInRefused(f"signing in as {username} asks for {answer.get('ChallengeName')}, not a password only")
    return answer["AuthenticationResult"]["IdToken"]
