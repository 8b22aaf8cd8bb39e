"""What the Lambda runtime does around a handler: one copy, for both transports of the local cloud.

The worker (`worker.py`, a sandbox process) and the in-process transport (`local_cloud.functions`) both
call these: the init phase (`initialise`: the handler module imported once, its init time, Lambda's init
error), one invocation (`invoke`: the request line in, the answer line out, with the context whose
remaining time runs against the function's Timeout, the result marshalled as JSON or failed as
`Runtime.MarshalError`, the error payload, the duration and peak memory), and a timeout's error payload
(`timed_out`). Only the transport differs: a pipe to a process of the function's own, or a call in this
one. Standard library only: the worker imports it by file, before the handler's path is set, and no
module of the local cloud may reach a handler's interpreter.
"""

from __future__ import annotations

import contextlib
import json
import resource
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Handler = Callable[[Any, Any], Any]

# The import errors Lambda reports as Runtime.ImportModuleError (the handler module or what it imports is missing).
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


class LambdaContext:
    """The context object the Lambda runtime passes to a handler; its remaining time runs against the timeout."""

    def __init__(self, request: Mapping[str, Any], environment: Mapping[str, str], deadline: float) -> None:
        self.function_name = environment["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = environment.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = request["functionArn"]
        self.aws_request_id = request["requestId"]
        self.log_group_name = environment.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self.function_name}")
        self.log_stream_name = environment.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(error: BaseException) -> dict[str, Any]:
    """Lambda's payload for an unhandled error: what a caller, a state machine's Catch or a DLQ sees."""
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def timed_out(request_id: str, timeout_seconds: float) -> dict[str, Any]:
    """Lambda's payload for an invocation that ran past its function's Timeout."""
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds",
        "stackTrace": [],
    }


def exited(reason: str) -> dict[str, Any]:
    """Lambda's payload for an invocation whose runtime ended (`sys.exit`, a crash): `reason` as "exit status 3"."""
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"Error: Runtime exited with error: {reason}",
        "stackTrace": [],
    }


def initialise(
    load: Callable[[], object], handler_name: str, measure_memory: bool = True
) -> tuple[Handler | None, str]:
    """The init phase: `load` imports the handler's module. The handler (None if init failed), and the init line."""
    started = time.monotonic()
    try:
        handler: Handler = getattr(load(), handler_name)
    except Exception as error:  # Lambda's init error: the environment never becomes ready
        failed = error_payload(error)
        if failed["errorType"] in _IMPORT_ERRORS:
            failed |= {"errorType": "Runtime.ImportModuleError", "errorMessage": f"Unable to import module: {error}"}
        return None, json.dumps({"initError": failed})
    return handler, json.dumps({"initMs": (time.monotonic() - started) * 1000} | _memory(measure_memory))


def invoke(handler: Handler, request_line: str, environment: Mapping[str, str], measure_memory: bool = True) -> str:
    """One invocation: the request line (requestId, functionArn, timeoutSeconds, event) in, the answer line out.

    The answer carries the result as JSON would (a result JSON cannot carry is `Runtime.MarshalError`, as
    Lambda cannot send it either), or the error payload; then the duration and, if measured, peak memory.
    """
    request = json.loads(request_line)
    if measure_memory:
        _reset_peak_memory()
    started = time.monotonic()
    context = LambdaContext(request, environment, started + request["timeoutSeconds"])
    try:
        answer: dict[str, Any] = {"result": handler(request["event"], context)}
    except Exception as error:  # an unhandled error fails this invocation only; the environment stays warm
        answer = {"error": error_payload(error)}
    answer |= {"durationMs": (time.monotonic() - started) * 1000} | _memory(measure_memory)
    try:
        return json.dumps(answer)
    except (TypeError, ValueError) as error:  # Lambda cannot send a result JSON cannot carry
        failed = {
            "errorType": "Runtime.MarshalError",
            "errorMessage": f"Unable to marshal response: {error}",
            "stackTrace": [],
        }
        return json.dumps({key: value for key, value in answer.items() if key != "result"} | {"error": failed})


def _memory(measure: bool) -> dict[str, float]:
    return {"peakMb": _peak_memory_mb()} if measure else {}


def _reset_peak_memory() -> None:
    """Start a new high-water mark of resident memory (Linux: clear_refs 5), so each invocation reports its own."""
    with contextlib.suppress(OSError):  # elsewhere the peak is the process's since it started
        Path("/proc/self/clear_refs").write_text("5")


def _peak_memory_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
