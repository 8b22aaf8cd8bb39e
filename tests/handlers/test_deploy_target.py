"""make deploy says where it deploys to, and stops when there are no credentials."""

from __future__ import annotations

import os

import pytest
from moto import mock_aws

from tools import deploy_target


def test_it_names_the_account_region_and_caller() -> None:
    with mock_aws():
        account, arn, region = deploy_target.caller()

    assert account.isdigit()
    assert arn.startswith(f"arn:aws:sts::{account}:")
    assert region == os.environ["AWS_DEFAULT_REGION"]


def test_without_credentials_it_stops_saying_how_to_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to find either

    with pytest.raises(SystemExit, match="no AWS credentials: sign in first"):
        deploy_target.caller()


def test_destroy_names_what_the_stack_keeps() -> None:
    assert deploy_target.retained() == [
        "ApiGatewayLoggingRole",
        "CustomerUserPool",
        "EventStoreTable",
        "InventoryTable",
        "PaymentsTable",
    ]
