"""The local cloud's patches to moto change what its calls cost, never what they answer.

Each test asks moto the same with and without `lighter_moto` (in-process moto, two tables with streams)
and compares; the failing transaction must leave items and streams as they were, and other callers' writes.
What grew with moto's state (a Kinesis shard's records, a state machine's executions) is no longer walked
through whole: a put, a read of the newest records, an execution's lookup or a task's answer.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.kinesis.models import kinesis_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_cloud.in_process import MOTO_CONFIG
from local_cloud.moto_dispatch import lighter_moto

ACCOUNT = "123456789012"  # moto's default account


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


# ---------------------------------------------------------------------------------------------- Kinesis


class Walked(OrderedDict[int, Any]):
    """A shard's records that count the walks through all of them (moto's listing of every key or record)."""

    walks = 0

    def keys(self) -> Any:
        Walked.walks += 1
        return super().keys()

    def values(self) -> Any:
        Walked.walks += 1
        return super().values()

    def items(self) -> Any:
        Walked.walks += 1
        return super().items()


@pytest.fixture
def kinesis() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("kinesis", region_name="eu-west-1")
        client.create_stream(StreamName="activity", ShardCount=1)
        for number in range(5):
            client.put_record(StreamName="activity", Data=f"r{number}".encode(), PartitionKey="k")
        yield client


def _shard() -> Any:
    return next(iter(kinesis_backends[ACCOUNT]["eu-west-1"].streams["activity"].shards.values()))


def _kinesis_answers(client: Any) -> list[Any]:
    """Pages read from each kind of iterator, with and without a limit, then after a new record."""
    shard_id = client.list_shards(StreamName="activity")["Shards"][0]["ShardId"]

    def iterator(kind: str, **at: Any) -> str:
        answer = client.get_shard_iterator(StreamName="activity", ShardId=shard_id, ShardIteratorType=kind, **at)
        return str(answer["ShardIterator"])

    def page(shard_iterator: str, **limit: Any) -> Any:
        answer = client.get_records(ShardIterator=shard_iterator, **limit)
        answer.pop("ResponseMetadata")
        return [record["Data"] for record in answer["Records"]], answer["NextShardIterator"]

    answers = [
        page(iterator("TRIM_HORIZON")),
        page(iterator("TRIM_HORIZON"), Limit=2),
        page(iterator("AT_SEQUENCE_NUMBER", StartingSequenceNumber="2"), Limit=2),
        page(iterator("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber="4")),
        page(iterator("LATEST")),
        client.list_shards(StreamName="activity")["Shards"],
    ]
    latest = iterator("LATEST")
    client.put_record(StreamName="activity", Data=b"new", PartitionKey="k")
    answers.append(page(latest))
    answers.append(page(answers[-1][1]))  # nothing after the newest
    return answers


def test_kinesis_reads_answer_as_moto_does(kinesis: Any) -> None:
    expected = _kinesis_answers(kinesis)
    _shard().records.popitem()  # as it was: the record the answers added
    with lighter_moto():
        assert _kinesis_answers(kinesis) == expected
    assert expected[1][0] == [b"r0", b"r1"]
    assert expected[2][0] == [b"r1", b"r2"]
    assert expected[6][0] == [b"new"]


def test_a_put_and_a_read_of_the_newest_records_walk_none_of_the_older(kinesis: Any) -> None:
    shard = _shard()
    shard.records = Walked(shard.records)
    shard_id = kinesis.list_shards(StreamName="activity")["Shards"][0]["ShardId"]
    with lighter_moto():
        latest = kinesis.get_shard_iterator(StreamName="activity", ShardId=shard_id, ShardIteratorType="LATEST")
        Walked.walks = 0
        kinesis.put_record(StreamName="activity", Data=b"new", PartitionKey="k")
        page = kinesis.get_records(ShardIterator=latest["ShardIterator"])
    assert [record["Data"] for record in page["Records"]] == [b"new"]
    assert Walked.walks == 0


def test_a_shard_not_numbered_one_by_one_is_read_as_moto_reads_it(kinesis: Any) -> None:
    shard = _shard()
    del shard.records[2]  # moto never leaves a gap; if it did, its own walk answers
    shard_id = kinesis.list_shards(StreamName="activity")["Shards"][0]["ShardId"]
    with lighter_moto():
        start = kinesis.get_shard_iterator(StreamName="activity", ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
        page = kinesis.get_records(ShardIterator=start["ShardIterator"], Limit=2)
    assert [record["Data"] for record in page["Records"]] == [b"r0", b"r2"]


# ---------------------------------------------------------------------------------------------- Step Functions


class Iterated(list[Any]):
    """A state machine's executions that count the walks through all of them."""

    walks = 0

    def __iter__(self) -> Iterator[Any]:
        Iterated.walks += 1
        return super().__iter__()


WAITING = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}})
PASSING = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture
def states() -> Iterator[Any]:
    with mock_aws(config=MOTO_CONFIG), lighter_moto():
        client = boto3.client("stepfunctions", region_name="eu-west-1")
        role = f"arn:aws:iam::{ACCOUNT}:role/states"
        machines = [
            client.create_state_machine(name=name, definition=definition, roleArn=role)["stateMachineArn"]
            for name, definition in (("passing", PASSING), ("waiting", WAITING))
        ]
        yield client, *machines
        for machine in machines:
            for execution in client.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
                client.stop_execution(executionArn=execution["executionArn"])


def _ended(client: Any, execution_arn: str) -> str:
    for _ in range(200):
        status = str(client.describe_execution(executionArn=execution_arn)["status"])
        if status != "RUNNING":
            return status
        time.sleep(0.01)
    raise AssertionError(f"{execution_arn} still running")


def test_executions_are_found_by_name_and_arn_as_moto_finds_them(states: Any) -> None:
    client, passing, waiting = states
    ended = [client.start_execution(stateMachineArn=passing, name=f"p{n}", input="{}") for n in range(3)]
    assert {_ended(client, execution["executionArn"]) for execution in ended} == {"SUCCEEDED"}
    running = client.start_execution(stateMachineArn=waiting, name="w", input='{"a": 1}')
    # The same name and input while it runs: the same execution; otherwise the name is taken.
    again = client.start_execution(stateMachineArn=waiting, name="w", input='{"a": 1}')
    assert again["executionArn"] == running["executionArn"]
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=waiting, name="w", input='{"a": 2}')
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=passing, name="p1", input="{}")  # ended: its name stays taken
    described = client.describe_execution(executionArn=ended[1]["executionArn"])
    assert (described["name"], described["status"]) == ("p1", "SUCCEEDED")
    history = client.get_execution_history(executionArn=ended[1]["executionArn"])["events"]
    assert [event["type"] for event in history][-1] == "ExecutionSucceeded"
    with pytest.raises(client.exceptions.ExecutionDoesNotExist):
        client.describe_execution(executionArn=ended[1]["executionArn"].replace(":p1", ":nobody"))
    with pytest.raises(client.exceptions.InvalidToken):  # no running execution waits on it
        client.send_task_success(taskToken="not-a-token", output="{}")


def test_lookups_and_task_answers_walk_no_machines_executions(states: Any) -> None:
    client, passing, waiting = states
    ended = [client.start_execution(stateMachineArn=passing, name=f"p{n}", input="{}") for n in range(3)]
    assert {_ended(client, execution["executionArn"]) for execution in ended} == {"SUCCEEDED"}
    client.start_execution(stateMachineArn=waiting, name="w", input="{}")
    for machine in stepfunctions_parser_backends[ACCOUNT]["eu-west-1"].state_machines:
        machine.executions = Iterated(machine.executions)
    Iterated.walks = 0
    client.start_execution(stateMachineArn=passing, name="p3", input="{}")
    client.describe_execution(executionArn=ended[0]["executionArn"])
    client.get_execution_history(executionArn=ended[2]["executionArn"])
    with pytest.raises(client.exceptions.InvalidToken):
        client.send_task_success(taskToken="not-a-token", output="{}")
    assert Iterated.walks == 0
