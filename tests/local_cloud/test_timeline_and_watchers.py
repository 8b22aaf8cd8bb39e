"""The timeline keeps a long session's entries bounded and finds one order's without scanning the rest;
the execution watcher finds new executions without listing (and so sorting) every one moto holds."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local_cloud.cloud import Cloud
from local_cloud.in_process import MOTO_CONFIG
from local_cloud.timeline import Timeline
from local_cloud.watchers import ExecutionWatcher

ORDERS = [f"{number:08x}-0000-4000-8000-000000000000" for number in range(3)]


def test_one_orders_entries_are_its_own_in_the_order_they_came() -> None:
    timeline = Timeline(out=None)
    for step in range(4):
        for order_id in [*ORDERS, None]:
            timeline.add("api", f"step {step}", order_id)
    assert [entry.text for entry in timeline.entries(ORDERS[1])] == [f"step {step}" for step in range(4)]
    assert {entry.order_id for entry in timeline.entries(ORDERS[1])} == {ORDERS[1]}
    assert len(timeline.entries()) == 16
    assert timeline.entries("no-such-order") == []


def test_the_oldest_entries_go_once_the_bound_is_reached_and_so_do_their_orders() -> None:
    timeline = Timeline(out=None, max_entries=5)
    for number, order_id in enumerate([ORDERS[0], ORDERS[0], ORDERS[1], ORDERS[2], ORDERS[1], ORDERS[2], ORDERS[2]]):
        timeline.add("api", f"entry {number}", order_id)
    assert [entry.text for entry in timeline.entries()] == [f"entry {number}" for number in range(2, 7)]
    assert timeline.entries(ORDERS[0]) == []  # both of its entries were the oldest
    assert [entry.text for entry in timeline.entries(ORDERS[1])] == ["entry 2", "entry 4"]
    assert [entry.text for entry in timeline.entries(ORDERS[2])] == ["entry 3", "entry 5", "entry 6"]


@dataclass
class _Template:
    machine_arn: str

    def of_type(self, resource_type: str) -> list[str]:
        return ["Machine"] if resource_type == "AWS::StepFunctions::StateMachine" else []


@dataclass
class _OneMachine:
    """What the watcher reads of a cloud: its state machines' ARNs."""

    template: _Template
    physical_ids: dict[str, str] = field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str:
        assert logical_id == "Machine"
        return self.template.machine_arn


def _finished(states: Any, arns: list[str]) -> None:
    deadline = time.monotonic() + 10
    while any(states.describe_execution(executionArn=arn)["status"] == "RUNNING" for arn in arns):
        assert time.monotonic() < deadline, "a Pass state machine's executions did not end"
        time.sleep(0.01)


def test_the_watcher_reports_each_new_execution_once_without_listing_executions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_listing(*_: object, **__: object) -> None:
        raise AssertionError("list_executions sorts every execution: the watcher must not call it")

    monkeypatch.setattr(StepFunctionsParserBackend, "list_executions", no_listing)
    with mock_aws(config=MOTO_CONFIG):
        states = boto3.client("stepfunctions")
        machine = states.create_state_machine(
            name="machine",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/machine",
        )["stateMachineArn"]
        timeline = Timeline(out=None)
        watcher = ExecutionWatcher(cast(Cloud, _OneMachine(_Template(machine))), timeline)

        def start(order_id: str) -> str:
            arn = states.start_execution(
                stateMachineArn=machine, name=f"order-{order_id[:8]}", input=json.dumps({"orderId": order_id})
            )
            return str(arn["executionArn"])

        _finished(states, [start(order_id) for order_id in ORDERS[:2]])
        watcher.poll()
        _finished(states, [start(ORDERS[2])])
        watcher.poll()
        watcher.poll()

    for order_id in ORDERS:
        assert [entry.text for entry in timeline.entries(order_id)] == [
            f"execution order-{order_id[:8]} started",
            "-> Done",
            "ExecutionSucceeded",
        ]
    assert watcher.running() == []
