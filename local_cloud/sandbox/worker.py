"""One Lambda execution environment: import the handler once (the init phase), then answer invocations.

Run as a script by `local_cloud.sandbox.pool`, with the environment the template gives the function and
nothing else of the local cloud's. Standard library only, so the handler sees the import path Lambda gives
it: its code folder, its layers and the runtime's packages, never the local cloud's modules.

Protocol, one JSON line each: the first line on stdin names the handler; the worker answers with its init
report, then reads one request line per invocation and writes one answer line. An unhandled exception is
Lambda's error payload; `sys.exit` or a crash ends the process, which the pool reports as Lambda does.

A worker ends by itself once the pool's end of its stdin closes, the pool having stopped it or died
(SIGKILL, or SIGTERM unhandled): between invocations its read of stdin ends, and during one a watching
thread ends the process, so a handler still running (sleeping, or waiting on the local AWS that died with
the pool) is not left running under pid 1 until it returns.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import select
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, TextIO


class LambdaContext:
    """The context object the Lambda runtime passes to a handler; its remaining time runs against the timeout."""

    def __init__(self, request: dict[str, Any], deadline: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = request["functionArn"]
        self.aws_request_id = request["requestId"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


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


PARENT_CHECK_SECONDS = 1.0  # how soon a worker notices its pool gone where a closed pipe does not wake poll()


def _end_when_the_pool_goes() -> None:
    """Exit at once when the pool closes its end of stdin, or this process is re-parented (its pool died).

    poll() with no events asked for still reports POLLHUP: on Linux it wakes the moment the last writer
    closes, without reading (so it never takes a request line from the main loop) and without cost while
    the pool lives. Where a platform does not report it, the parent pid check ends the worker within a second.
    """
    parent = os.getppid()
    watch = select.poll()
    watch.register(sys.stdin.fileno(), 0)
    while not watch.poll(PARENT_CHECK_SECONDS * 1000) and os.getppid() == parent:
        pass
    for stream in (sys.stdout, sys.stderr):  # the handler's last log lines, then no cleanup: nobody awaits an answer
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


def _answer(channel: TextIO, message: dict[str, Any]) -> None:
    try:
        line = json.dumps(message)
    except (TypeError, ValueError) as error:  # Lambda cannot send a result JSON cannot carry
        failed = {"errorType": "Runtime.MarshalError", "errorMessage": f"Unable to marshal response: {error}"}
        line = json.dumps({key: value for key, value in message.items() if key != "result"} | {"error": failed})
    channel.write(line + "\n")
    channel.flush()


def main() -> None:
    # The protocol keeps a private copy of stdout; the handler's prints and logs go to stderr, the function log.
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    del sys.path[0]  # this file's folder: not on a Lambda function's path
    threading.Thread(target=_end_when_the_pool_goes, name="end-when-the-pool-goes", daemon=True).start()
    setup = json.loads(sys.stdin.readline())
    sys.path[0:0] = setup["path"]
    module_name, handler_name = setup["handler"].rsplit(".", 1)
    started = time.monotonic()
    try:
        handler = getattr(importlib.import_module(module_name), handler_name)
    except Exception as error:  # Lambda's init error: the environment never becomes ready
        _answer(channel, {"initError": _error(error)})
        return
    _answer(channel, {"initMs": (time.monotonic() - started) * 1000, "peakMb": _peak_memory_mb()})
    for line in sys.stdin:
        request = json.loads(line)
        _reset_peak_memory()
        started = time.monotonic()
        context = LambdaContext(request, started + request["timeoutSeconds"])
        try:
            answer: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as error:  # an unhandled error fails this invocation only; the environment stays warm
            answer = {"error": _error(error)}
        answer |= {"durationMs": (time.monotonic() - started) * 1000, "peakMb": _peak_memory_mb()}
        _answer(channel, answer)


if __name__ == "__main__":
    main()
