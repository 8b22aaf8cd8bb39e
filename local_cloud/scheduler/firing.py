"""EventBridge Scheduler's firings, in-process, when the template's schedules are due.

`Schedules` reads the template's AWS::Scheduler::Schedule resources, knows when each is next due
(local_cloud.scheduler.expressions) on an injectable clock, and fires a schedule the way Scheduler does
for a templated Lambda target:

- Scheduler calls Lambda Invoke *asynchronously*: a handler's error never reaches Scheduler. Lambda
  retries the event itself (the function's asynchronous MaximumRetryAttempts, 2 unless an
  AWS::Lambda::EventInvokeConfig says otherwise), then drops it.
- Scheduler's RetryPolicy and DeadLetterConfig apply to the Invoke call failing (throttled, function
  gone): a retryable error is retried up to MaximumRetryAttempts, then the payload goes to the
  dead-letter queue with the message attributes Scheduler documents; a permanent error goes there at once.

Retries happen at once, not after Scheduler's or Lambda's back-off, so MaximumEventAgeInSeconds is never
what ends them. Occurrences missed while nothing polled collapse into one firing.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from local_cloud.iam.gate import AccessDenied
from local_cloud.iam.policy import Authorise
from local_cloud.scheduler.expressions import ScheduleExpression, instant, schedule_expression
from local_cloud.template import PSEUDO_PARAMETERS

if TYPE_CHECKING:
    from local_cloud.cloud import Cloud
    from local_cloud.functions import LocalFunction

Clock = Callable[[], datetime]
LAMBDA_ASYNC_RETRIES = 2  # Lambda's default for an asynchronous invocation's function errors
# Errors Scheduler retries; any other error of the target's API is permanent and goes straight to the DLQ.
RETRYABLE_ERRORS = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "ServiceException", "ServiceUnavailableException"}
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"  # the function ran and returned
    FUNCTION_FAILED = "function failed"  # every run Lambda made raised; Lambda drops the event
    DEAD_LETTERED = "dead-lettered"  # Scheduler could not invoke the target; the payload is in the schedule's DLQ
    DROPPED = "dropped"  # Scheduler could not invoke the target and the schedule has no DLQ


@dataclass(frozen=True)
class Firing:
    """One firing of a schedule and how it ended, for a timeline."""

    schedule: str
    scheduled_time: datetime
    payload: Any
    outcome: Outcome
    invoke_attempts: int  # Invoke calls Scheduler made: 1 + its retries
    function_runs: int = 0  # handler runs Lambda made: 1 + its asynchronous retries
    response: Any = None  # what the handler returned (Scheduler itself never sees it)
    error: Exception | None = None  # the last handler error, or the Invoke error Scheduler gave up on
    dead_letter_message_id: str | None = None

    def __str__(self) -> str:
        line = f"{_timestamp(self.scheduled_time)} {self.schedule}: {self.outcome}"
        line += f" ({self.invoke_attempts} invoke(s), {self.function_runs} run(s))"
        return f"{line}: {type(self.error).__name__}: {self.error}" if self.error else line


class InvokeError(Exception):
    """The target's API refused Scheduler's call; what Scheduler retries and dead-letters."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable

    @classmethod
    def of(cls, error: ClientError) -> InvokeError:
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        return cls(code, str(details.get("Message", error)), retryable=code in RETRYABLE_ERRORS or status >= 500)


@dataclass
class Schedule:
    """One AWS::Scheduler::Schedule of the template, with its next due time."""

    name: str
    arn: str
    expression: ScheduleExpression
    target: dict[str, Any]
    enabled: bool
    end: datetime | None
    next_time: datetime | None

    def advance(self, past: datetime) -> None:
        """The next occurrence after `past`, or none once the schedule has ended."""
        upcoming = self.expression.after(past)
        self.next_time = upcoming if upcoming is not None and (self.end is None or upcoming <= self.end) else None

    def is_due(self, now: datetime) -> bool:
        return self.enabled and self.next_time is not None and self.next_time <= now


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Attempt:
    """One call Scheduler makes for one firing: the payload carries the attempt's context attributes."""

    schedule: Schedule
    scheduled_time: datetime
    execution_id: str
    number: int  # 1, then 2 for the first retry, ...

    @cached_property
    def payload(self) -> Any:
        """The target's Input with Scheduler's context attributes filled in, or Scheduler's default event."""
        target = self.schedule.target
        if "Input" not in target:
            return {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": PSEUDO_PARAMETERS["AWS::AccountId"],
                "time": _timestamp(self.scheduled_time),
                "region": PSEUDO_PARAMETERS["AWS::Region"],
                "resources": [self.schedule.arn],
                "detail": "{}",
            }
        text = str(target["Input"])
        for name, value in {
            "schedule-arn": self.schedule.arn,
            "scheduled-time": _timestamp(self.scheduled_time),
            "execution-id": self.execution_id,
            "attempt-number": str(self.number),
        }.items():
            text = text.replace(f"<aws.scheduler.{name}>", value)
        return json.loads(text)  # a templated Lambda target's Input is JSON

    def firing(self, outcome: Outcome, **details: Any) -> Firing:
        return Firing(self.schedule.name, self.scheduled_time, self.payload, outcome, self.number, **details)


def _lambda_async_retries(cloud: Cloud, function: LocalFunction) -> int:
    """How often Lambda retries an asynchronous event the function failed: its EventInvokeConfig, or 2."""
    if cloud.template.properties(function.logical_id).get("DeadLetterConfig"):
        raise NotImplementedError(f"{function.logical_id}: an asynchronous dead-letter queue is not delivered locally")
    for spec in cloud.template.of_type("AWS::Lambda::EventInvokeConfig").values():
        properties = cloud.template.resolve(spec["Properties"])
        if properties["FunctionName"] != function.name:
            continue
        if properties.get("DestinationConfig"):
            raise NotImplementedError(f"{function.logical_id}: asynchronous destinations are not delivered locally")
        return int(properties.get("MaximumRetryAttempts", LAMBDA_ASYNC_RETRIES))
    return LAMBDA_ASYNC_RETRIES


class Schedules:
    """The template's schedules, fired when due on `clock` (or at once with `fire`); `firings` keeps each outcome."""

    def __init__(self, cloud: Cloud, clock: Clock = _utc_now, authorise: Authorise | None = None) -> None:
        self._cloud = cloud
        self._clock = clock
        self._authorise = authorise  # set: IAM enforced, the schedule's role must allow lambda:InvokeFunction
        self._lock = threading.Lock()
        self._schedules = {schedule.name: schedule for schedule in self._read_template(clock())}
        self.firings: list[Firing] = []

    def _read_template(self, created: datetime) -> list[Schedule]:
        schedules = []
        for logical_id, spec in self._cloud.template.of_type("AWS::Scheduler::Schedule").items():
            if logical_id in self._cloud.not_provisioned:
                raise LookupError(f"{logical_id} is not provisioned: see local_cloud.scheduler.provisioner")
            properties = self._cloud.template.resolve(spec["Properties"])
            if ":lambda:" not in properties["Target"]["Arn"]:
                raise NotImplementedError(f"{logical_id}: only Lambda targets are fired locally")
            start = instant(properties["StartDate"]) if "StartDate" in properties else created
            timezone = properties.get("ScheduleExpressionTimezone", "UTC")
            schedule = Schedule(
                name=str(self._cloud.physical_id(logical_id)),
                arn=str(self._cloud.template.attributes[(logical_id, "Arn")]),
                expression=schedule_expression(properties["ScheduleExpression"], start, timezone),
                target=properties["Target"],
                enabled=properties.get("State", "ENABLED") == "ENABLED",
                end=instant(properties["EndDate"]) if "EndDate" in properties else None,
                next_time=None,
            )
            schedule.advance(start - timedelta(microseconds=1))  # a cron occurrence at the start itself counts
            schedules.append(schedule)
        return schedules

    @property
    def names(self) -> list[str]:
        return sorted(self._schedules)

    def next_time(self, name: str) -> datetime | None:
        return self._schedules[name].next_time

    def due(self, now: datetime | None = None) -> list[str]:
        """The schedules whose next occurrence has come."""
        moment = self._clock() if now is None else now
        return [name for name, schedule in sorted(self._schedules.items()) if schedule.is_due(moment)]

    def fire_due(self, now: datetime | None = None) -> list[Firing]:
        """Fire every due schedule once; what a delivery loop calls regularly."""
        moment = self._clock() if now is None else now
        with self._lock:
            firings = []
            for name in self.due(moment):
                schedule = self._schedules[name]
                firings.append(self._fire(schedule, schedule.next_time or moment))
                schedule.advance(moment)
            return firings

    def fire(self, name: str) -> Firing:
        """Fire one schedule now, whether or not it is due; its next occurrence stays as it was."""
        with self._lock:
            return self._fire(self._schedules[name], self._clock())

    # ------------------------------------------------------------------------------------------------ one firing

    def _fire(self, schedule: Schedule, scheduled_time: datetime) -> Firing:
        execution_id = uuid.uuid4().hex[:16]
        retries = int(schedule.target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185))
        number = 1
        while True:
            attempt = Attempt(schedule, scheduled_time, execution_id, number)
            try:
                firing = self._invoke(attempt)
            except InvokeError as error:
                if error.retryable and number <= retries:
                    number += 1  # Scheduler backs off before retrying; locally the retry is immediate
                    continue
                firing = self._dead_letter(attempt, error)
            self.firings.append(firing)
            return firing

    def _invoke(self, attempt: Attempt) -> Firing:
        """Lambda Invoke with InvocationType Event: accepted, then run (and retried) by Lambda on its own."""
        arn = str(attempt.schedule.target["Arn"])
        role = attempt.schedule.target.get("RoleArn")
        try:
            if self._authorise and role:
                self._authorise(str(role), "lambda:InvokeFunction", arn)
        except AccessDenied as error:  # permanent: Scheduler dead-letters a call its role may not make
            raise InvokeError("AccessDeniedException", str(error), retryable=False) from error
        try:
            function = self._cloud.functions.by_name(arn)
        except ClientError as error:  # the Invoke call itself failed: Scheduler's to retry
            raise InvokeError.of(error) from error
        if function is None:
            raise InvokeError("ResourceNotFoundException", f"Function not found: {arn}", retryable=False)
        retries = _lambda_async_retries(self._cloud, function)
        failure: Exception | None = None
        for run in range(1, retries + 2):
            try:
                response = function.invoke(copy.deepcopy(attempt.payload))
            except Exception as error:  # a function error: Lambda's to retry, never reported to Scheduler
                failure = error
                continue
            return attempt.firing(Outcome.SUCCEEDED, function_runs=run, response=response)
        return attempt.firing(Outcome.FUNCTION_FAILED, function_runs=retries + 1, error=failure)

    def _dead_letter(self, attempt: Attempt, error: InvokeError) -> Firing:
        """The payload to the schedule's DLQ, with the attributes Scheduler puts on a dead-letter event."""
        target = attempt.schedule.target
        dead_letter_arn = target.get("DeadLetterConfig", {}).get("Arn")
        if not dead_letter_arn:
            return attempt.firing(Outcome.DROPPED, error=error)
        attributes = {
            "ERROR_CODE": error.code,
            "ERROR_MESSAGE": str(error),
            "EXECUTION_ID": attempt.execution_id,
            "IS_PAYLOAD_TRUNCATED": "false",
            "RETRY_ATTEMPTS": str(attempt.number - 1),
            "SCHEDULED_TIME": _timestamp(attempt.scheduled_time),
            "SCHEDULE_ARN": attempt.schedule.arn,
            "TARGET_ARN": str(target["Arn"]),
        }
        if error.retryable:  # only a retryable error can exhaust the retry policy
            attributes["EXHAUSTED_RETRY_CONDITION"] = "MaximumRetryAttempts"
        _, _, _, _, account, queue_name = str(dead_letter_arn).split(":")
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        message_id = sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(attempt.payload),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        )["MessageId"]
        return attempt.firing(Outcome.DEAD_LETTERED, error=error, dead_letter_message_id=message_id)
