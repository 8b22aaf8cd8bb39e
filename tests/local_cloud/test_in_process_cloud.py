"""A process provisions each set of parameters once and restores moto's state for every later cloud of it.

Whatever one cloud wrote (items, messages, executions, resources of its own, backends moto made on
first use) is gone in the next; the next has the same resources, its own template copy and its own
freshly loaded handler modules, so a patch on one cloud's module is not on the next's. Nor does anything
of one cloud's executions run in the next: moto runs each execution's steps in threads that outlive it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from local_cloud.account import fake_account
from local_cloud.cloud import Cloud
from local_cloud.environment import temporary_environment
from local_cloud.in_process import MOTO_CONFIG, in_process_cloud
from local_cloud.provision import aws_client
from tests.support import item_count


def test_a_cloud_starts_with_nothing_the_previous_cloud_wrote() -> None:
    with in_process_cloud() as first:
        sqs, dynamodb, states = boto3.client("sqs"), boto3.client("dynamodb"), boto3.client("stepfunctions")
        queue = first.physical_id("NotificationsQueue")
        sqs.send_message(QueueUrl=queue, MessageBody="left behind")
        sqs.send_message(QueueUrl=queue, MessageBody="in flight")
        assert sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=900)["Messages"]
        dynamodb.put_item(TableName=first.physical_id("OrdersTable"), Item={"orderId": {"S": "left behind"}})
        machine = first.physical_id("OrderFulfillmentStateMachine")
        states.start_execution(stateMachineArn=machine, name="left-behind", input=json.dumps({"orderId": "x"}))
        dynamodb.create_table(
            TableName="MadeByTheFirstCloud",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("s3").create_bucket(Bucket="made-by-the-first-cloud")  # a backend no provisioning made
        tables = set(dynamodb.list_tables()["TableNames"]) - {"MadeByTheFirstCloud"}
        physical_ids = dict(first.template.physical_ids)
        first_module = first.functions.get("GetOrderFunction").module

    with in_process_cloud() as second:
        sqs, dynamodb, states = boto3.client("sqs"), boto3.client("dynamodb"), boto3.client("stepfunctions")
        attributes = sqs.get_queue_attributes(
            QueueUrl=second.physical_id("NotificationsQueue"),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
        assert item_count(second, "OrdersTable") == 0
        assert (
            states.list_executions(stateMachineArn=second.physical_id("OrderFulfillmentStateMachine"))["executions"]
            == []
        )
        assert set(dynamodb.list_tables()["TableNames"]) == tables
        assert boto3.client("s3").list_buckets()["Buckets"] == []
        assert second.template.physical_ids == physical_ids
        assert second.template is not first.template
        assert second.functions.get("GetOrderFunction").module is not first_module


def test_a_restored_queue_takes_messages_and_its_lock_is_its_own() -> None:
    """SQS's queues hold a lock each, which cannot be copied: a restored queue gets a new one and works."""
    for body in ("first cloud", "second cloud"):
        with in_process_cloud() as cloud:
            sqs = boto3.client("sqs")
            queue = cloud.physical_id("AnalyticsQueue")
            sqs.send_message(QueueUrl=queue, MessageBody=body)
            received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
            assert [message["Body"] for message in received] == [body]


def test_other_parameters_are_provisioned_on_their_own_and_the_defaults_come_back() -> None:
    def timeout_of_payment(parameters: dict[str, int] | None) -> str:
        with in_process_cloud(parameters) as cloud:
            machine = cloud.physical_id("OrderFulfillmentStateMachine")
            definition = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=machine)["definition"]
            return json.dumps(json.loads(definition)).replace(" ", "")

    default = timeout_of_payment(None)
    shorter = timeout_of_payment({"PaymentTimeoutSeconds": 1})

    assert shorter != default
    assert timeout_of_payment(None) == default
    assert timeout_of_payment({"PaymentTimeoutSeconds": 1}) == shorter


def test_a_cloud_stops_its_running_executions_whatever_clients_a_provisioning_elsewhere_left() -> None:
    """A server's provisioning run (make local, the end-to-end suite) leaves local_cloud.provision's clients
    pointing at its own moto; an in-process cloud still stops its executions on its own moto."""
    with in_process_cloud():
        pass  # this process's snapshot exists: the next cloud is restored, not provisioned
    with temporary_environment(fake_account("http://127.0.0.1:9")):  # a moto that is gone
        aws_client.cache_clear()
        aws_client("stepfunctions")
    with mock_aws(config=MOTO_CONFIG):  # around the cloud's own: moto keeps its state after the cloud ends
        with in_process_cloud() as cloud:
            states = boto3.client("stepfunctions")
            machine = cloud.physical_id("OrderFulfillmentStateMachine")
            started = states.start_execution(stateMachineArn=machine, input=json.dumps({"orderId": "x"}))
        # The exit listed this cloud's running executions on its own moto (on the gone one it raised) and
        # stopped them: none of them takes a step after a minute.
        deadline = time.monotonic() + 60
        while states.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING":
            assert time.monotonic() < deadline, "still running a minute after its cloud ended"
            time.sleep(0.05)


def _start_fulfilment(cloud: Cloud) -> None:
    machine = cloud.physical_id("OrderFulfillmentStateMachine")
    execution_input = json.dumps({"orderId": "x", "correlationId": "y"})
    boto3.client("stepfunctions").start_execution(stateMachineArn=machine, input=execution_input)


def test_a_step_still_running_when_its_cloud_ends_has_returned_before_the_next_cloud_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step running on after its cloud ran on the next cloud's moto, even while that was being restored: its
    handler's first DynamoDB call made moto a new, empty account as the restore put the provisioned one back,
    and the next test's every call then failed with ResourceNotFoundException."""
    started, returned = threading.Event(), threading.Event()

    def slow_step(_event: Any, _context: Any) -> dict[str, Any]:
        started.set()
        time.sleep(0.3)  # the step is still running when the test ends
        returned.set()
        return {}

    with in_process_cloud() as first:
        monkeypatch.setattr(first.functions.get("ReserveInventoryFunction").module, "lambda_handler", slow_step)
        _start_fulfilment(first)
        assert started.wait(10)

    assert returned.is_set(), "the step ran on after its cloud had ended"


def test_an_execution_stopped_before_its_step_invoked_invokes_nothing_in_the_next_cloud(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cloud stops its executions as it ends; a step whose thread had not yet invoked its function then would
    have invoked the next cloud's (whose bridge answers every Invoke in the process) with this cloud's order."""
    held, go = threading.Event(), threading.Event()
    steps: list[threading.Thread] = []
    to_payload = lambda_eval_utils.to_payload_type

    def held_before_invoking(payload: Any) -> Any:  # moto's step, on its way to invoking
        steps.append(threading.current_thread())
        held.set()
        go.wait(10)
        return to_payload(payload)

    monkeypatch.setattr(lambda_eval_utils, "to_payload_type", held_before_invoking)
    with in_process_cloud() as first:
        _start_fulfilment(first)
        assert held.wait(10)

    with in_process_cloud() as second:
        invoked: list[Any] = []
        step = second.functions.get("ReserveInventoryFunction").module
        monkeypatch.setattr(step, "lambda_handler", lambda event, _context: invoked.append(event))
        go.set()
        steps[0].join(10)
        assert not steps[0].is_alive()
        assert invoked == [], "an execution of the first cloud invoked the second cloud's function"


def test_an_execution_still_setting_up_when_its_cloud_ends_is_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto cannot stop an execution until its thread has parsed the definition and entered its first state: on a
    loaded machine that took longer than the exit used to retry for, and the saga, not stopped, ran on into the next
    test's cloud (with the same order id: a ReserveInventory there found its stock already reserved)."""
    parsing, parsed = threading.Event(), threading.Event()
    parse = ExecutionWorker._get_evaluation_entrypoint

    def slow_to_parse(worker: ExecutionWorker) -> Any:
        parsing.set()
        time.sleep(3)  # longer than the 2 s the exit gave up after
        parsed.set()
        return parse(worker)

    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", slow_to_parse)
    with mock_aws(config=MOTO_CONFIG):  # around the cloud's own: moto keeps its state after the cloud ends
        with in_process_cloud() as cloud:
            _start_fulfilment(cloud)
            assert parsing.wait(10)
        assert parsed.is_set(), "the cloud ended without waiting for its execution to become stoppable"
        states = boto3.client("stepfunctions")
        [execution] = states.list_executions(stateMachineArn=cloud.physical_id("OrderFulfillmentStateMachine"))[
            "executions"
        ]
        deadline = time.monotonic() + 60  # moto shows the stop once the execution's thread has seen it
        while states.describe_execution(executionArn=execution["executionArn"])["status"] == "RUNNING":
            assert time.monotonic() < deadline, "still running a minute after its cloud ended"
            time.sleep(0.05)
        history = states.get_execution_history(executionArn=execution["executionArn"])["events"]
        # Stopped before or in its first state (whose step, if already invoking, finished in this cloud): run on, it
        # would have gone on through the saga's compensations.
        entered = [step["stateEnteredEventDetails"]["name"] for step in history if "stateEnteredEventDetails" in step]
        assert entered in ([], ["ReserveInventory"]), entered
