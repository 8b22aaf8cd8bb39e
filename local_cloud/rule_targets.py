"""EventBridge rule targets moto does not deliver to: state machines, SNS topics and Kinesis streams.

moto matches events against rules and delivers to queues, log groups and archives; a rule
targeting a state machine or a topic would raise NotImplementedError, and one targeting a stream
is ignored. While `deliver_rule_targets` is active, those targets are delivered in-process (after the
target's role is checked, where IAM is enforced):
InputPath applied, the execution started (with a fresh name, as EventBridge does), the topic
published to, or the record put on the stream under the partition key KinesisParameters'
PartitionKeyPath selects from the event (the event id when there is none, as EventBridge does).
A delivery that fails goes to the target's DeadLetterConfig queue, with the error attributes
EventBridge adds, instead of being lost.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.events.models import Rule
from moto.events.utils import EventMessageType
from moto.kinesis.models import kinesis_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.responses import get_backend
from moto.utilities.arns import parse_arn

from local_cloud.iam.policy import Authorise

Deliver = Callable[[Rule, dict[str, Any], EventMessageType], None]  # rule, target, the matched event


def _start_execution(rule: Rule, target: dict[str, Any], event: EventMessageType) -> None:
    backend = get_backend(rule.account_id, rule.region_name)
    backend.start_execution(target["Arn"], name=str(uuid.uuid4()), execution_input=_input(target, event))


def _publish(rule: Rule, target: dict[str, Any], event: EventMessageType) -> None:
    sns_backends[rule.account_id][rule.region_name].publish(message=_input(target, event), arn=target["Arn"])


def _put_record(rule: Rule, target: dict[str, Any], event: EventMessageType) -> None:
    path = target.get("KinesisParameters", {}).get("PartitionKeyPath")
    partition_key = str(_selected(event, path)) if path else str(event["id"])
    kinesis_backends[rule.account_id][rule.region_name].put_record(
        stream_arn=target["Arn"],
        stream_name="",
        partition_key=partition_key,
        explicit_hash_key="",
        data=base64.b64encode(_input(target, event).encode()).decode(),
    )


DELIVERIES: dict[str, Deliver] = {"states": _start_execution, "sns": _publish, "kinesis": _put_record}
# What EventBridge asks of a target's role (RoleArn) before it delivers; a topic is reached by its own policy.
ROLE_ACTIONS = {"states": "states:StartExecution", "kinesis": "kinesis:PutRecord"}


def _selected(event: EventMessageType, path: str) -> Any:
    """The part of the event a simple JSONPath ($.a.b) names."""
    selected: Any = event
    for key in [part for part in path.removeprefix("$").split(".") if part]:
        selected = selected[key]
    return selected


def _input(target: dict[str, Any], event: EventMessageType) -> str:
    """What the target receives: the whole event, a constant Input, or the part InputPath names."""
    if "Input" in target:
        return str(target["Input"])
    return json.dumps(_selected(event, target.get("InputPath", "$")))


def _dead_letter(rule: Rule, target: dict[str, Any], event: EventMessageType, error: Exception) -> None:
    dead_letter_arn = target.get("DeadLetterConfig", {}).get("Arn")
    if not dead_letter_arn:
        raise error
    queue = parse_arn(dead_letter_arn)
    attributes = {
        "ERROR_CODE": type(error).__name__,
        "ERROR_MESSAGE": str(error),
        "RULE_ARN": rule.arn,
        "TARGET_ARN": target["Arn"],
    }
    sqs_backends[queue.account][queue.region].send_message(
        queue_name=queue.resource_id,
        message_body=json.dumps(event),
        message_attributes={name: {"data_type": "String", "string_value": value} for name, value in attributes.items()},
    )


@contextmanager
def deliver_rule_targets(authorise: Authorise | None = None) -> Iterator[None]:
    """`authorise`: IAM enforced, a target with a RoleArn is delivered to only if its role allows it."""
    moto_send_to_targets = Rule.send_to_targets

    def send_to_targets(rule: Rule, event: EventMessageType, transform_input: bool = True) -> None:
        ours = [target for target in rule.targets if parse_arn(target["Arn"]).service in DELIVERIES]
        if ours and rule.event_pattern.matches_event(event):
            for target in ours:
                service = parse_arn(target["Arn"]).service
                try:
                    if authorise and target.get("RoleArn") and service in ROLE_ACTIONS:
                        authorise(str(target["RoleArn"]), ROLE_ACTIONS[service], str(target["Arn"]))
                    DELIVERIES[service](rule, target, event)
                except Exception as error:  # a failed delivery goes to the target's DLQ, as in AWS
                    _dead_letter(rule, target, event, error)
        theirs = [target for target in rule.targets if target not in ours]
        if theirs:
            others = copy.copy(rule)
            others.targets = theirs
            moto_send_to_targets(others, event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]  # the bridge is exactly this replacement
    try:
        yield
    finally:
        Rule.send_to_targets = moto_send_to_targets  # type: ignore[method-assign]
