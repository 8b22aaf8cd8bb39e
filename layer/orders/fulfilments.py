"""The fulfilment state machine's executions, as cancel and the reconciler ask about them.

Whether an order's execution still runs decides who gives its money and stock back: a running
execution compensates on its own; once it has ended, the caller has to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType
    from mypy_boto3_stepfunctions.type_defs import ExecutionListItemTypeDef

# How an execution can end without having settled its order (SUCCEEDED always has: completed or compensated).
UNSETTLED_ENDS: tuple[ExecutionStatusType, ...] = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class EndedExecution:
    order_id: str
    execution_arn: str
    status: str


class Fulfilments:
    def __init__(self, client: SFNClient, state_machine_arn: str | None = None) -> None:
        self._client = client
        self._state_machine_arn = state_machine_arn  # only listing needs it

    def is_running(self, execution_arn: str) -> bool:
        """True while the execution runs; False once it has ended, or when there is no such execution."""
        try:
            return self._client.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
            return False

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        """Stop the execution; nothing to do when it does not exist (any more)."""
        try:
            self._client.stop_execution(executionArn=execution_arn, error=error, cause=cause)
        except ClientError as failure:
            if failure.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise

    def ended_unsettled(self, started_after: datetime) -> Iterator[EndedExecution]:
        """Executions started after `started_after` that ended FAILED, TIMED_OUT or ABORTED, newest first per status.

        Each of them raised an alarm; they are few, so asking for each one's input (its order) is cheap.
        """
        if self._state_machine_arn is None:
            raise ValueError("listing executions needs the state machine's ARN")
        for status in UNSETTLED_ENDS:
            for summary in self._newest_first(self._state_machine_arn, status):
                if summary["startDate"] < started_after:
                    break  # listed newest first: the rest are older still
                described = self._client.describe_execution(executionArn=summary["executionArn"])
                order_id = str(json.loads(described.get("input") or "{}").get("orderId", ""))
                if order_id:
                    yield EndedExecution(order_id, summary["executionArn"], status)

    def _newest_first(self, state_machine_arn: str, status: ExecutionStatusType) -> Iterator[ExecutionListItemTypeDef]:
        paginator = self._client.get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=state_machine_arn, statusFilter=status):
            yield from page["executions"]
