"""Answering a Step Functions task that waits on a token (`.waitForTaskToken`).

Used by whoever learns how the wait ends: the payment-events consumer (the provider's
outcome) and cancellation (the customer gave up first).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# Step Functions' answers when the execution no longer waits on a token: nothing left to resume.
TASK_GONE_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class TaskCallbacks:
    def __init__(self, client: SFNClient) -> None:
        self._client = client

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        """Resume the task with `output`; False when nobody waits on the token any more."""
        return self._answer(lambda: self._client.send_task_success(taskToken=token, output=json.dumps(output)))

    def fail(self, token: str, error: str, cause: str) -> bool:
        """Fail the task with `error` (the name the saga catches); False when nobody waits on the token any more."""
        return self._answer(lambda: self._client.send_task_failure(taskToken=token, error=error, cause=cause))

    @staticmethod
    def _answer(send: Callable[[], object]) -> bool:
        try:
            send()
        except ClientError as error:
            if error.response["Error"]["Code"] not in TASK_GONE_ERRORS:
                raise  # throttling and the like: the caller is retried
            return False
        return True
