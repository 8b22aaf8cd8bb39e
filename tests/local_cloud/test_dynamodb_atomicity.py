"""Under `atomic_dynamodb`, a read on one thread never sees another thread's item operation half done."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.parsing import executors

from local_cloud.dynamodb_atomicity import atomic_dynamodb

VIEW = {"status": {"S": "PLACED"}, "customerId": {"S": "c-1"}}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="views",
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _read_during_an_update(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What a GetItem on another thread reads while an UpdateItem that creates the item is applying its update.

    moto stores the key-only item before it applies the SET; the update pauses right there until the
    reader has started (and had a moment to reach moto), so the read falls in that gap unless it waits.
    """
    reader_started, seen = threading.Event(), {}
    apply_update: Callable[..., Any] = executors.UpdateExpressionExecutor.execute

    def paused(executor: Any, node: Any = None) -> Any:
        if node is None:  # the whole update, before any of it is applied (execute recurses into its parts)
            reader.start()
            reader_started.wait(5)
            reader.join(0.3)  # returns at once without the lock; with it the reader waits for this update
        return apply_update(executor, node)

    def read() -> None:
        reader_started.set()
        seen.update(dynamodb.get_item(TableName="views", Key={"orderId": {"S": "o-1"}}).get("Item", {}))

    reader = threading.Thread(target=read)

    monkeypatch.setattr(executors.UpdateExpressionExecutor, "execute", paused)
    dynamodb.update_item(
        TableName="views",
        Key={"orderId": {"S": "o-1"}},
        UpdateExpression="SET #status = :status, #customerId = :customerId",
        ExpressionAttributeNames={"#status": "status", "#customerId": "customerId"},
        ExpressionAttributeValues={":status": VIEW["status"], ":customerId": VIEW["customerId"]},
        ConditionExpression="attribute_not_exists(orderId)",
    )
    reader.join(5)
    return seen


@pytest.mark.parametrize(
    ("guard", "whole"),
    [(atomic_dynamodb, True), (nullcontext, False)],  # without it, moto's gap shows: the check can fail
    ids=["atomic", "moto-alone"],
)
def test_a_read_sees_an_item_before_or_after_an_update_never_half_written(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, guard: Callable[[], AbstractContextManager[Any]], whole: bool
) -> None:
    with guard():
        seen = _read_during_an_update(dynamodb, monkeypatch)
    assert (seen == {"orderId": {"S": "o-1"}, **VIEW}) is whole, seen
    if not whole:
        assert seen == {"orderId": {"S": "o-1"}}  # the key alone: the view GetOrder once failed on


def test_the_operations_are_moto_s_own_again_after_the_block() -> None:
    before = DynamoDBBackend.update_item
    with atomic_dynamodb():
        assert DynamoDBBackend.update_item is not before
    assert DynamoDBBackend.update_item is before
