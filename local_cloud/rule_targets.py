"""EventBridge rule targets moto does not deliver to: Step Functions state machines and SNS topics.

moto matches events against rules and delivers to queues, log groups and archives; a rule
targeting a state machine or a topic would raise NotImplementedError. While
`deliver_rule_targets` is active, those targets are delivered in-process: InputPath applied,
the execution started (with a fresh name, as EventBridge does) or the topic published to.
A delivery that fails goes to the target's DeadLetterConfig queue, with the error attributes
EventBridge adds, instead of being lost.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.events.models import Rule
from moto.events.utils import EventMessageType
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.responses import get_backend
from moto.utilities.arns import parse_arn

Deliver = Callable[[Rule, str, str], None]  # rule, target ARN, payload


def _start_execution(rule: Rule, state_machine_arn: str, payload: str) -> None:
    backend = get_backend(rule.account_id, rule.region_name)
    backend.start_execution(state_machine_arn, name=str(uuid.uuid4()), execution_input=payload)


def _publish(rule: Rule, topic_arn: str, payload: str) -> None:
    sns_backends[rule.account_id][rule.region_name].publish(message=payload, arn=topic_arn)


DELIVERIES: dict[str, Deliver] = {"states": _start_execution, "sns": _publish}


def _input(target: dict[str, Any], event: EventMessageType) -> str:
    """What the target receives: the whole event, a constant Input, or the part InputPath names."""
    if "Input" in target:
        return str(target["Input"])
    selected: Any = event
    path = target.get("InputPath", "$")
    for key in [part for part in path.removeprefix("$").split(".") if part]:
        selected = selected[key]
    return json.dumps(selected)


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
def deliver_rule_targets() -> Iterator[None]:
    moto_send_to_targets = Rule.send_to_targets

    def send_to_targets(rule: Rule, event: EventMessageType, transform_input: bool = True) -> None:
        ours = [target for target in rule.targets if parse_arn(target["Arn"]).service in DELIVERIES]
        if ours and rule.event_pattern.matches_event(event):
            for target in ours:
                try:
                    DELIVERIES[parse_arn(target["Arn"]).service](rule, target["Arn"], _input(target, event))
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
