"""What moto keeps is bounded as AWS bounds it (local_cloud.moto_memory), with the same answers meanwhile.

In-process moto: the instance list of its dashboard holds what is alive, not each answer's copies; a
deleted message's receipt handle deletes again within the window, then is forgotten; a topic keeps its
last notifications; a DynamoDB Streams shard iterator works until it expires; Step Functions' list of
the threads it started forgets those that ended.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.asl.component.program import program
from moto.stepfunctions.parser.utils import TMP_THREADS

from local_cloud import moto_memory
from local_cloud.in_process import MOTO_CONFIG
from local_cloud.moto_memory import MAX_SENT_NOTIFICATIONS, SHARD_ITERATOR_SECONDS, kept_as_aws_keeps

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(), kept_as_aws_keeps():
        yield


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(moto_memory, "_now", clock)
    return clock


def _table(client: Any) -> None:
    client.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )


@pytest.mark.usefixtures("aws")
def test_the_instance_list_holds_the_items_alive_not_each_answers_copies() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    _table(dynamodb)
    for number in range(5):
        dynamodb.put_item(TableName="orders", Item={"pk": {"S": f"o{number}"}})
    for _ in range(50):  # each GetItem answers with a copy of the item
        assert dynamodb.get_item(TableName="orders", Key={"pk": {"S": "o1"}})["Item"] == {"pk": {"S": "o1"}}
    gc.collect()
    alive = list(Item.instances_tracked)  # type: ignore[attr-defined]  # moto's metaclass sets it
    assert 5 <= len(alive) < 20, len(alive)  # the five items (and a stream record's few), not 50 copies more
    assert {item.hash_key.value for item in alive} >= {f"o{number}" for number in range(5)}


@pytest.mark.usefixtures("aws")
def test_a_deleted_handle_deletes_again_within_the_window_then_is_forgotten(clock: Clock) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    clock.now += 59
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)  # again, within the visibility timeout: fine
    sqs.send_message(QueueUrl=url, MessageBody="two")
    other = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    clock.now += 2
    sqs.delete_message(QueueUrl=url, ReceiptHandle=other)  # the first deletion is now past the window
    queue = sqs_backends[ACCOUNT][REGION].queues["work"]
    assert handle not in queue.deleted_messages
    assert other in queue.deleted_messages
    assert len(queue.deleted_messages) == 1


@pytest.mark.usefixtures("aws")
def test_a_topic_keeps_its_last_notifications() -> None:
    sns = boto3.client("sns", region_name=REGION)
    arn = sns.create_topic(Name="outcomes")["TopicArn"]
    for number in range(MAX_SENT_NOTIFICATIONS + 5):
        sns.publish(TopicArn=arn, Message=f"m{number}")
    sent = sns_backends[ACCOUNT][REGION].topics[arn].sent_notifications
    assert [message for _, message, *_ in sent] == [f"m{n}" for n in range(5, MAX_SENT_NOTIFICATIONS + 5)]


@pytest.mark.usefixtures("aws")
def test_a_shard_iterator_works_until_it_expires(clock: Clock) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    _table(dynamodb)
    dynamodb.put_item(TableName="orders", Item={"pk": {"S": "o1"}})
    arn = dynamodb.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    first = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    clock.now += SHARD_ITERATOR_SECONDS - 1
    assert len(streams.get_records(ShardIterator=first)["Records"]) == 1  # still valid, and read again:
    assert len(streams.get_records(ShardIterator=first)["Records"]) == 1
    clock.now += 2
    streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")  # a new one sweeps
    iterators = dynamodbstreams_backends[ACCOUNT][REGION].shard_iterators
    assert first not in iterators
    assert len(iterators) == 3  # the two GetRecords' next iterators and the new one


def test_step_functions_forgets_the_threads_that_ended() -> None:
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    with mock_aws(config=MOTO_CONFIG), kept_as_aws_keeps():
        states = boto3.client("stepfunctions", region_name=REGION)
        machine = states.create_state_machine(
            name="passing", definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/states"
        )["stateMachineArn"]
        arns = [states.start_execution(stateMachineArn=machine, name=f"e{n}")["executionArn"] for n in range(5)]
        for arn in arns:
            for _ in range(200):
                if states.describe_execution(executionArn=arn)["status"] != "RUNNING":
                    break
                time.sleep(0.01)
        started = vars(program)["TMP_THREADS"]  # the list the program module appends each execution's thread to
        for _ in range(200):  # a worker's thread ends just after its execution's status says so
            ended = [thread for thread in started if thread.ident is not None and not thread.is_alive()]
            if len(ended) == len(started):
                break
            time.sleep(0.01)
        states.start_execution(stateMachineArn=machine, name="last")  # an append drops the threads that ended
        assert not set(started) & set(ended), [thread.name for thread in started]
        assert len(started) <= 4, [thread.name for thread in started]  # moto's own list: 2 for each execution
    assert vars(program)["TMP_THREADS"] is TMP_THREADS  # moto's own list again
