"""What the local cloud reports on its timeline besides the API: the bus, executions, consumers, DLQs.

Each watcher turns one kind of activity into timeline entries. The bus is watched from inside
moto (its put_events and rule delivery), the rest by polling the local AWS APIs, the way an
operator would look at them.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.events.models import EventsBackend, Rule
from moto.events.utils import EventMessageType
from moto.stepfunctions.responses import get_backend

from local_cloud.cloud import Cloud
from local_cloud.moto_state import execution_history, queue_holds_messages
from local_cloud.queues import Invocation
from local_cloud.streams import StreamInvocation
from local_cloud.timeline import Timeline, json_field, order_id_in, parsed_json

_matched = threading.local()  # the rules that matched while one put_events call runs


@contextmanager
def watch_the_bus(timeline: Timeline) -> Iterator[None]:
    """Report each event put on a bus with the rules it matched (none is worth saying too)."""
    put_events, send_to_targets = EventsBackend.put_events, Rule.send_to_targets

    def sending(rule: Rule, event: EventMessageType, *args: Any, **kwargs: Any) -> Any:
        if rule.event_pattern.matches_event(event):  # moto offers every event to every rule of the bus
            getattr(_matched, "rules", []).append((rule.name, event.get("detail-type")))
        return send_to_targets(rule, event, *args, **kwargs)

    def putting(backend: EventsBackend, entries: list[dict[str, Any]]) -> Any:
        _matched.rules = []
        try:
            return put_events(backend, entries)
        finally:
            matched, _matched.rules = _matched.rules, []
            for entry in entries:
                detail_type = entry.get("DetailType")
                rules = [name for name, matched_type in matched if matched_type == detail_type]
                detail = parsed_json(entry.get("Detail") or "{}")
                version = f" v{detail['version']}" if isinstance(detail, dict) and "version" in detail else ""
                bus = entry.get("EventBusName", "default")
                timeline.add(
                    "bus",
                    f"{detail_type}{version} on {bus} -> {', '.join(rules) if rules else 'no rule matched'}",
                    order_id_in(detail),
                    data={
                        "bus": bus,
                        "source": entry.get("Source"),
                        "detailType": detail_type,
                        "detail": detail,
                        "rules": rules,
                    },
                )

    EventsBackend.put_events = putting  # type: ignore[method-assign,assignment]  # observing, then the original
    Rule.send_to_targets = sending  # type: ignore[method-assign,assignment]  # same call, observed
    try:
        yield
    finally:
        EventsBackend.put_events = put_events  # type: ignore[method-assign]
        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def report_invocation(timeline: Timeline, function: str, invocation: StreamInvocation | Invocation) -> None:
    """One line per record a stream or queue consumer was given, saying whether it failed."""
    if isinstance(invocation, StreamInvocation):
        if invocation.closes_window:
            window = invocation.event.get("window", {})
            outcome = "ok" if invocation.succeeded else f"failed ({_error(invocation.error, invocation.response)})"
            timeline.add("stream", f"{function} <- window {window.get('start')} closed: {outcome}", None)
        for record in invocation.event["Records"]:
            what, order_id = _stream_record(record)
            timeline.add("stream", f"{function} <- {what}: {_stream_outcome(invocation, record)}", order_id)
        return
    for record in invocation.event["Records"]:
        failed = record["messageId"] in invocation.failed
        outcome = f"failed ({_error(invocation.error, invocation.response)}), left for redelivery" if failed else "ok"
        body = record.get("body", "")
        kind = json_field(body, "type") or "message"
        timeline.add("queue", f"{function} <- {kind}: {outcome}", order_id_in(body))


def _stream_record(record: dict[str, Any]) -> tuple[str, str | None]:
    """What a stream record holds (event type and version) and its order: an event store item or a bus event."""
    if "kinesis" in record:
        try:
            detail = json.loads(base64.b64decode(record["kinesis"]["data"])).get("detail", {})
        except ValueError:
            return "unreadable record", None
        return f"{detail.get('type', 'record')} v{detail.get('version', '?')}", order_id_in(detail.get("orderId"))
    image = record.get("dynamodb", {}).get("NewImage", {})
    what = f"{image.get('type', {}).get('S', 'record')} v{image.get('version', {}).get('N', '?')}"
    return what, order_id_in(image.get("aggregateId", {}).get("S"))


def _stream_outcome(invocation: StreamInvocation, record: dict[str, Any]) -> str:
    if invocation.processed(record):
        return "ok"
    failed = f"failed ({_error(invocation.error, invocation.response)})"
    return f"{failed}, retries exhausted: discarded to the on-failure destination" if invocation.discarded else failed


def _error(error: Exception | None, response: Any) -> str:
    if error is not None:
        return f"{getattr(error, 'error_type', type(error).__name__)}: {error}"
    return "partial batch failure" if response else "error"


class ExecutionWatcher:
    """Reports each execution's states as its history grows: entered, failed, caught, ended."""

    _REPORTED: frozenset[str] = frozenset(
        {
            "TaskStateEntered",
            "PassStateEntered",
            "ChoiceStateEntered",
            "SucceedStateEntered",
            "FailStateEntered",
            "TaskFailed",
            "TaskTimedOut",
            "ExecutionSucceeded",
            "ExecutionFailed",
            "ExecutionTimedOut",
            "ExecutionAborted",
        }
    )

    _ENDED: frozenset[str] = frozenset(
        {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
    )

    def __init__(self, cloud: Cloud, timeline: Timeline) -> None:
        self._timeline = timeline
        machines = cloud.template.of_type("AWS::StepFunctions::StateMachine")
        self._machines = [str(cloud.physical_id(logical_id)) for logical_id in machines]
        self._listed: dict[str, int] = {}  # state machine ARN -> executions found so far
        self._running: dict[str, str] = {}  # execution ARN -> name, until its history shows its end
        self._seen: dict[str, int] = {}  # execution ARN -> last history event reported
        self._order_of: dict[str, str | None] = {}

    def poll(self) -> None:
        # Only running executions cost a call, so a long session's finished ones do not slow it down.
        for machine in self._machines:
            self._running.update(self._started_since_last_poll(machine))
        for arn, name in list(self._running.items()):
            if self._report(arn, name):
                del self._running[arn]  # an ended execution's history no longer grows: nothing of it is kept
                self._seen.pop(arn, None)
                self._order_of.pop(arn, None)

    def running(self) -> list[tuple[str, str | None]]:
        """The executions not seen to end yet: (name, order id)."""
        return [(name, self._order_of.get(arn)) for arn, name in list(self._running.items())]  # one atomic copy

    def _started_since_last_poll(self, machine: str) -> dict[str, str]:
        """Executions not found before: those moto appended to the machine's list since the last look.

        moto's list_executions sorts every execution of the machine on each call, so a long session's
        finished ones would slow each look; its list only grows at the end, so a count is enough.
        """
        _, _, _, region, account, _ = machine.split(":", 5)
        new = get_backend(account, region).describe_state_machine(machine).executions[self._listed.get(machine, 0) :]
        self._listed[machine] = self._listed.get(machine, 0) + len(new)  # a slice is one atomic copy of the new ones
        return {execution.execution_arn: execution.name for execution in new}

    def _report(self, arn: str, name: str) -> bool:
        """Report the history events not reported yet; whether the execution has ended."""
        events = execution_history(arn)  # from moto in this process: each look a request would cost the API's GIL
        for event in events:
            if event["id"] <= self._seen.get(arn, 0):
                continue
            self._seen[arn] = event["id"]
            kind = event["type"]
            if kind == "ExecutionStarted":
                self._order_of[arn] = order_id_in(event["executionStartedEventDetails"].get("input"))
                self._timeline.add("saga", f"execution {name} started", self._order_of[arn])
            elif kind in self._REPORTED:
                self._timeline.add("saga", _describe(kind, dict(event)), self._order_of.get(arn))
        return bool(events) and events[-1]["type"] in self._ENDED


def _describe(kind: str, event: dict[str, Any]) -> str:
    details: dict[str, Any] = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
    if kind.endswith("StateEntered"):
        return f"-> {details.get('name')}"
    if "error" in details:
        return f"{kind}: {details['error']}"
    return kind


class DeadLetterWatcher:
    """Reports each message that lands on a dead-letter queue of the template, once."""

    def __init__(self, cloud: Cloud, timeline: Timeline) -> None:
        self._timeline = timeline
        self._sqs = boto3.client("sqs")
        self._queues = {
            str(cloud.physical_id(logical_id)): logical_id
            for logical_id in cloud.template.of_type("AWS::SQS::Queue")
            if cloud.template.attributes.get((logical_id, "Arn")) in dead_letter_targets(cloud)
        }
        self._arns = {url: str(cloud.template.attributes[queue, "Arn"]) for url, queue in self._queues.items()}
        self._seen: set[str] = set()

    @property
    def queues(self) -> list[str]:
        return sorted(self._queues.values())

    def poll(self) -> None:
        for url, logical_id in self._queues.items():
            if not queue_holds_messages(self._arns[url]):
                continue  # empty: not asked
            # A zero visibility timeout leaves the message where it is: this is a look, not a consume.
            messages = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            for message in messages.get("Messages", []):
                if message["MessageId"] not in self._seen:
                    self._seen.add(message["MessageId"])
                    body = message["Body"]
                    kind = json_field(body, "type") or json_field(body, "detail-type") or "message"
                    self._timeline.add("dlq", f"{logical_id} <- {kind}", order_id_in(body))


def dead_letter_targets(cloud: Cloud) -> set[str]:
    """ARNs the template names as where failed work goes: redrive policies, DLQs, on-failure destinations."""
    found: set[str] = set()
    holders = {"RedrivePolicy": "deadLetterTargetArn", "DeadLetterConfig": "Arn", "OnFailure": "Destination"}

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in holders and isinstance(item, dict) and holders[key] in item:
                    found.add(str(item[holders[key]]))
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    for spec in cloud.template.resources.values():
        try:
            visit(cloud.template.resolve(spec.get("Properties", {})))
        except LookupError:
            continue  # refers to something not provisioned locally: it holds no local queue either
    return found
