"""The local cloud's patches to moto change what its calls cost, never what they answer.

Each test asks moto the same with and without `lighter_moto` (in-process moto, two tables with streams)
and compares; the failing transaction must leave items and streams as they were, and other callers' writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_cloud.moto_dispatch import lighter_moto


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        stream: Any = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        client.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification=stream,
        )
        client.create_table(
            TableName="stock",
            KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification=stream,
        )
        for pk in ("a", "b", "c"):
            for sk in (3, 1, 2):
                client.put_item(
                    TableName="events", Item={"pk": {"S": pk}, "sk": {"N": str(sk)}, "v": {"S": f"{pk}{sk}"}}
                )
        client.put_item(TableName="stock", Item={"sku": {"S": "x"}, "available": {"N": "1"}})
        yield client


def _query(client: Any, **extra: Any) -> list[Any]:
    values = {":pk": {"S": "b"}, **extra.pop("values", {})}
    request = {"TableName": "events", "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": values}
    return list(client.query(**request | extra)["Items"])


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"ScanIndexForward": False},
        {"Limit": 2},
        {"KeyConditionExpression": "pk = :pk AND sk > :one", "values": {":one": {"N": "1"}}},
    ],
)
def test_a_query_on_the_key_answers_as_moto_does(dynamodb: Any, extra: dict[str, Any]) -> None:
    expected = _query(dynamodb, **dict(extra))
    with lighter_moto():
        assert _query(dynamodb, **dict(extra)) == expected
    assert [item["v"]["S"] for item in _query(dynamodb)] == ["b1", "b2", "b3"]


def test_a_query_of_a_partition_that_does_not_exist_finds_nothing(dynamodb: Any) -> None:
    with lighter_moto():
        answer = dynamodb.query(
            TableName="events", KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "zz"}}
        )
        assert answer["Items"] == []
        assert dynamodb.scan(TableName="events")["Count"] == 9  # nor does asking create it


def _stream_records(table: str) -> list[Any]:
    streams = boto3.client("dynamodbstreams", region_name="eu-west-1")
    arn = boto3.client("dynamodb", region_name="eu-west-1").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_a_failed_transaction_leaves_its_items_and_streams_as_they_were(dynamodb: Any) -> None:
    before = {table: dynamodb.scan(TableName=table)["Items"] for table in ("events", "stock")}
    records = {table: len(_stream_records(table)) for table in ("events", "stock")}
    with lighter_moto(), pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "events", "Item": {"pk": {"S": "d"}, "sk": {"N": "1"}}}},
                {
                    "Update": {
                        "TableName": "events",
                        "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "changed"}},
                    }
                },
                {
                    "Update": {
                        "TableName": "stock",
                        "Key": {"sku": {"S": "x"}},
                        "UpdateExpression": "SET available = available - :two",
                        "ConditionExpression": "available >= :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
            ]
        )
    assert {table: dynamodb.scan(TableName=table)["Items"] for table in ("events", "stock")} == before
    assert {table: len(_stream_records(table)) for table in ("events", "stock")} == records


def test_a_transaction_that_succeeds_writes_every_item_and_its_records(dynamodb: Any) -> None:
    records = len(_stream_records("events"))
    with lighter_moto():
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "events", "Item": {"pk": {"S": "d"}, "sk": {"N": "1"}}}},
                {"Delete": {"TableName": "events", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}},
                {
                    "Update": {
                        "TableName": "stock",
                        "Key": {"sku": {"S": "x"}},
                        "UpdateExpression": "SET available = :zero",
                        "ExpressionAttributeValues": {":zero": {"N": "0"}},
                    }
                },
            ]
        )
    assert "Item" in dynamodb.get_item(TableName="events", Key={"pk": {"S": "d"}, "sk": {"N": "1"}})
    assert "Item" not in dynamodb.get_item(TableName="events", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    assert dynamodb.get_item(TableName="stock", Key={"sku": {"S": "x"}})["Item"]["available"] == {"N": "0"}
    assert [record["eventName"] for record in _stream_records("events")[records:]] == ["INSERT", "REMOVE"]


def _item_answers(client: Any) -> list[Any]:
    """One answer of each item operation, on the same items each time (the writes put back what they change)."""
    key = {"pk": {"S": "a"}, "sk": {"N": "2"}}
    rich = {
        **key,
        "blob": {"B": b"\x00\xffbytes"},
        "set": {"SS": ["x", "y"]},
        "nested": {"M": {"list": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
    }
    answers = [
        client.put_item(TableName="events", Item=rich, ReturnValues="ALL_OLD"),
        client.get_item(TableName="events", Key=key),
        client.get_item(TableName="events", Key={"pk": {"S": "none"}, "sk": {"N": "1"}}),
        client.update_item(
            TableName="events",
            Key=key,
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"S": "a2"}},
            ReturnValues="ALL_NEW",
        ),
        client.query(
            TableName="events",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "a"}},
            Limit=1,
        ),
        client.scan(TableName="events"),
        client.batch_get_item(RequestItems={"events": {"Keys": [key]}}),
        client.transact_get_items(TransactItems=[{"Get": {"TableName": "events", "Key": key}}]),
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "stock",
                        "Key": {"sku": {"S": "x"}},
                        "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "1"}},
                    }
                }
            ]
        ),
        client.batch_write_item(RequestItems={"stock": [{"PutRequest": {"Item": {"sku": {"S": "y"}}}}]}),
        client.delete_item(TableName="events", Key=key, ReturnValues="ALL_OLD"),
        client.describe_table(TableName="events")["Table"]["KeySchema"],  # not an item operation: moto's serialiser
    ]
    client.put_item(TableName="events", Item={**key, "v": {"S": "a2"}})  # as the fixture left it
    for answer in answers:
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata", None)
    return answers


def test_item_operations_answer_as_moto_serialises_them(dynamodb: Any) -> None:
    expected = _item_answers(dynamodb)
    with lighter_moto():
        assert _item_answers(dynamodb) == expected
    assert expected[1]["Item"]["blob"] == {"B": b"\x00\xffbytes"}
    assert "LastEvaluatedKey" in expected[4]
    assert "Item" not in expected[2]
