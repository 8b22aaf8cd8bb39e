"""EventBridge Scheduler, locally: the template's schedule on moto, due on a clock, fired the way Scheduler fires it.

Scheduler invokes a Lambda function asynchronously: a handler's error is Lambda's to retry, and the schedule's
RetryPolicy and dead-letter queue only see the Invoke call itself failing (throttled, function gone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_cloud import provision
from local_cloud.cloud import Cloud
from local_cloud.in_process import in_process_cloud
from local_cloud.scheduler.expressions import At, Cron
from local_cloud.scheduler.firing import Outcome, Schedules
from local_cloud.scheduler.provisioner import PROVISIONERS
from local_cloud.streams import StreamMapping
from orders.events import EventType
from tests.support import body, failed_with, sample_event, stored_events

SCHEDULE = "ReconcileOrdersFunctionEvery5Minutes"  # the ScheduleV2 event of ReconcileOrdersFunction, translated
START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """The time Schedules reads; tests move it instead of sleeping."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def cloud_with_schedules(monkeypatch: pytest.MonkeyPatch, parameters: dict[str, Any] | None = None) -> Iterator[Cloud]:
    for resource_type, provisioner in PROVISIONERS.items():
        monkeypatch.setitem(provision.PROVISIONERS, resource_type, provisioner)
    with in_process_cloud(parameters) as provisioned:
        yield provisioned


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """template.yaml on moto, its schedules included (overrides conftest's, which the other fixtures then use)."""
    with cloud_with_schedules(monkeypatch) as provisioned:
        yield provisioned


@pytest.fixture
def schedules(cloud: Cloud) -> Schedules:
    return Schedules(cloud, Clock())


def declared(cloud: Cloud) -> dict[str, Any]:
    """The schedule's properties as the template gives them, resolved."""
    properties: dict[str, Any] = cloud.template.resolve(cloud.template.properties(SCHEDULE))
    return properties


def rate_period(expression: str) -> timedelta:
    match = re.fullmatch(r"rate\((\d+) minutes\)", expression)
    assert match, f"this test reads a rate in minutes, not {expression!r}"
    return timedelta(minutes=int(match.group(1)))


def dead_letters(dead_letter_arn: str) -> list[Any]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=dead_letter_arn.rsplit(":", maxsplit=1)[-1])["QueueUrl"]
    return list(
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    )


def string_attributes(message: Any) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}


# ------------------------------------------------------------------------------------------------- provisioning


def test_the_schedule_is_created_with_the_templates_expression_and_target(cloud: Cloud) -> None:
    expected = declared(cloud)

    created = boto3.client("scheduler").get_schedule(Name=cloud.physical_id(SCHEDULE))

    assert SCHEDULE not in cloud.not_provisioned
    assert created["Arn"] == cloud.template.resolve({"Fn::GetAtt": [SCHEDULE, "Arn"]})
    assert (created["ScheduleExpression"], created["State"]) == (expected["ScheduleExpression"], "ENABLED")
    assert created["FlexibleTimeWindow"] == expected["FlexibleTimeWindow"]
    target = created["Target"]
    assert target["Arn"] == cloud.physical_id("ReconcileOrdersFunctionAliaslive")  # the live alias
    assert target["RoleArn"] == expected["Target"]["RoleArn"]
    assert target["RetryPolicy"] == expected["Target"]["RetryPolicy"]
    dead_letter_queue = cloud.template.resolve({"Fn::GetAtt": ["ReconcilerScheduleDeadLetterQueue", "Arn"]})
    assert target["DeadLetterConfig"] == {"Arn": dead_letter_queue}


# ----------------------------------------------------------------------------------------------------- when due


def test_a_rate_schedule_is_due_after_its_period_and_not_before(cloud: Cloud, schedules: Schedules) -> None:
    name = cloud.physical_id(SCHEDULE)
    period = rate_period(declared(cloud)["ScheduleExpression"])

    assert schedules.due(START + period - timedelta(seconds=1)) == []
    assert schedules.due(START + period) == [name]
    [firing] = schedules.fire_due(START + period)
    assert (firing.schedule, firing.scheduled_time, firing.outcome) == (name, START + period, Outcome.SUCCEEDED)
    assert schedules.due(START + 2 * period - timedelta(seconds=1)) == []
    assert schedules.due(START + 2 * period) == [name]


def test_occurrences_missed_while_nothing_polled_fire_once(cloud: Cloud, schedules: Schedules) -> None:
    period = rate_period(declared(cloud)["ScheduleExpression"])
    late = START + 3 * period + period / 2

    assert len(schedules.fire_due(late)) == 1
    assert schedules.fire_due(late) == []
    assert schedules.next_time(cloud.physical_id(SCHEDULE)) == START + 4 * period


# -------------------------------------------------------------------------------------------------------- firing


def test_firing_runs_the_reconciler_with_schedulers_default_event(monkeypatch: pytest.MonkeyPatch) -> None:
    with cloud_with_schedules(monkeypatch, {"OrderDeadlineMinutes": -1}) as cloud:  # every order is overdue
        placed = cloud.functions.get("PlaceOrderFunction").invoke(sample_event("place_order/valid.json"))
        order_id = body(placed)["orderId"]
        StreamMapping.from_template(cloud, cloud.functions.get("ProjectOrdersFunction")).deliver()  # what it queries

        firing = Schedules(cloud, Clock()).fire(cloud.physical_id(SCHEDULE))

        assert (firing.outcome, firing.invoke_attempts, firing.function_runs) == (Outcome.SUCCEEDED, 1, 1)
        assert firing.response == {"expired": [order_id], "settled": [], "skipped": 0}
        assert EventType.ORDER_EXPIRED in [event.type for event in stored_events(cloud, order_id)]
        # The target has no Input, so the reconciler gets Scheduler's own event, shaped as the sample event is.
        assert "Input" not in declared(cloud)["Target"]
        assert set(firing.payload) == set(sample_event("reconcile_orders/scheduled.json"))
        assert (firing.payload["source"], firing.payload["detail-type"]) == ("aws.scheduler", "Scheduled Event")
        assert firing.payload["resources"] == [cloud.template.resolve({"Fn::GetAtt": [SCHEDULE, "Arn"]})]


def test_a_reconciler_that_keeps_failing_is_retried_by_lambda_and_never_reaches_the_schedules_dlq(
    cloud: Cloud, schedules: Schedules, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[dict[str, Any]] = []

    def unreachable_table(event: dict[str, Any], _context: Any) -> Any:
        runs.append(event)
        raise ConnectionError("DynamoDB is unreachable")

    monkeypatch.setattr(cloud.functions.get("ReconcileOrdersFunction").module, "lambda_handler", unreachable_table)

    firing = schedules.fire(cloud.physical_id(SCHEDULE))

    assert firing.outcome is Outcome.FUNCTION_FAILED
    assert failed_with(firing.error, ConnectionError)
    assert firing.invoke_attempts == 1  # Lambda accepted the asynchronous Invoke: Scheduler is done
    assert not cloud.template.of_type("AWS::Lambda::EventInvokeConfig")  # so Lambda's default of 2 retries holds
    assert len(runs) == 1 + 2
    assert dead_letters(declared(cloud)["Target"]["DeadLetterConfig"]["Arn"]) == []


def test_an_invoke_that_keeps_being_throttled_is_retried_then_dead_lettered_with_schedulers_attributes(
    cloud: Cloud, schedules: Schedules, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = declared(cloud)["Target"]
    calls: list[str] = []

    def throttled(name_or_arn: str) -> None:
        calls.append(name_or_arn)
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}, "Invoke")

    monkeypatch.setattr(cloud.functions, "by_name", throttled)

    firing = schedules.fire(cloud.physical_id(SCHEDULE))

    retries = target["RetryPolicy"]["MaximumRetryAttempts"]
    assert calls == [target["Arn"]] * (1 + retries)
    assert (firing.outcome, firing.invoke_attempts) == (Outcome.DEAD_LETTERED, 1 + retries)
    [message] = dead_letters(target["DeadLetterConfig"]["Arn"])
    assert message["MessageId"] == firing.dead_letter_message_id
    assert json.loads(message["Body"]) == firing.payload
    attributes = string_attributes(message)
    assert re.fullmatch(r"[0-9a-f]{16}", attributes.pop("EXECUTION_ID"))
    assert attributes == {
        "ERROR_CODE": "TooManyRequestsException",
        "ERROR_MESSAGE": "Rate Exceeded.",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "IS_PAYLOAD_TRUNCATED": "false",
        "RETRY_ATTEMPTS": str(retries),
        "SCHEDULED_TIME": "2026-11-22T12:00:00Z",
        "SCHEDULE_ARN": cloud.template.resolve({"Fn::GetAtt": [SCHEDULE, "Arn"]}),
        "TARGET_ARN": target["Arn"],
    }


def test_a_schedule_whose_function_is_gone_is_dead_lettered_without_retries(
    cloud: Cloud, schedules: Schedules, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud.functions, "by_name", lambda _name_or_arn: None)  # no such function

    firing = schedules.fire(cloud.physical_id(SCHEDULE))

    assert (firing.outcome, firing.invoke_attempts) == (Outcome.DEAD_LETTERED, 1)
    [message] = dead_letters(declared(cloud)["Target"]["DeadLetterConfig"]["Arn"])
    attributes = string_attributes(message)
    assert (attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]) == ("ResourceNotFoundException", "0")
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes  # a permanent error exhausts no retry policy


# --------------------------------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    ("expression", "timezone", "after", "next_time"),
    [
        ("cron(0 12 * * ? *)", "UTC", datetime(2026, 11, 22, 12, 0), datetime(2026, 11, 23, 12, 0)),
        # Every quarter hour of office hours on weekdays: Friday evening -> Monday morning.
        ("cron(0/15 9-17 ? * MON-FRI *)", "UTC", datetime(2026, 11, 20, 17, 50), datetime(2026, 11, 23, 9, 0)),
        ("cron(0/15 9-17 ? * MON-FRI *)", "UTC", datetime(2026, 11, 23, 9, 0), datetime(2026, 11, 23, 9, 15)),
        ("cron(30 8 1 JAN,JUL ? 2027)", "UTC", datetime(2026, 11, 22, 12, 0), datetime(2027, 1, 1, 8, 30)),
        ("cron(0 9 * * ? *)", "Europe/Paris", datetime(2026, 11, 22, 12, 0), datetime(2026, 11, 23, 8, 0)),
    ],
)
def test_a_cron_expression_gives_its_next_occurrence(
    expression: str, timezone: str, after: datetime, next_time: datetime
) -> None:
    assert Cron.parse(expression, timezone).after(after.replace(tzinfo=UTC)) == next_time.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 12 * * * *)",  # day-of-month and day-of-week both given
        "cron(0 12 ? * ? *)",  # neither given
        "cron(0 12 * *)",  # five fields, as Unix cron has
        "cron(0 6 L * ? *)",  # last day of the month: not read locally
        "cron(61 12 * * ? *)",
    ],
)
def test_a_cron_expression_scheduler_would_refuse_or_that_is_not_supported_is_an_error(expression: str) -> None:
    with pytest.raises(ValueError, match="cron"):
        Cron.parse(expression)


def test_an_at_expression_is_due_once() -> None:
    once = At.parse("at(2026-12-01T10:00:00)", "Europe/Paris")

    assert once.after(START) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert once.after(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)) is None


# ------------------------------------------------------------------------------------------- the daily summary

DAILY = "SummariseDailySalesFunctionDailyAt0200Utc"  # the ScheduleV2 event of SummariseDailySalesFunction


def test_the_daily_summary_fires_when_the_clock_reaches_its_cron_and_not_before(cloud: Cloud) -> None:
    properties = cloud.template.resolve(cloud.template.properties(DAILY))
    assert (properties["ScheduleExpression"], properties["ScheduleExpressionTimezone"]) == ("cron(0 2 * * ? *)", "UTC")
    clock = Clock()  # 22 November, 12:00 UTC
    schedules = Schedules(cloud, clock)
    name = cloud.physical_id(DAILY)
    cron_time = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    clock.now = cron_time - timedelta(seconds=1)
    assert name not in [firing.schedule for firing in schedules.fire_due()]  # the reconciler's fires meanwhile
    clock.now = cron_time
    [firing] = [firing for firing in schedules.fire_due() if firing.schedule == name]

    assert (firing.scheduled_time, firing.outcome) == (cron_time, Outcome.SUCCEEDED)
    assert firing.payload == {"scheduledTime": "2026-11-23T02:00:00Z"}  # the Input, Scheduler's time filled in
    assert (firing.response["day"], firing.response["published"]) == ("2026-11-22", True)
    assert schedules.next_time(name) == cron_time + timedelta(days=1)
    clock.now = cron_time + timedelta(hours=23)
    assert name not in schedules.due()
