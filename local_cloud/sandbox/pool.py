"""A function's sandboxes: worker processes started on demand, reused warm, replaced, timed out, limited.

Each worker is one Lambda execution environment (`worker.py`): started with exactly the environment it
is given, it imports the handler once (a cold start, its init time reported), then serves invocations
one at a time until it is replaced (new code), stopped (timed out) or dies (a crash or `sys.exit`).
Several workers of one function run at once, up to the function's concurrency limit; an invocation over
the limit waits for a worker to come free (Lambda would throttle a synchronous call with a 429 and retry
an asynchronous one). Failures come back as `FunctionError`, with the errorType Lambda would report.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from local_cloud.sandbox import runtime

WORKER = Path(__file__).with_name("worker.py")
INIT_SECONDS = 10.0  # Lambda's limit on an on-demand environment's init phase
STOP_SECONDS = 2.0  # for a worker to end once its stdin closes, before it is killed


class FunctionError(Exception):
    """An invocation that failed, as Lambda's error payload reports it."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []

    @classmethod
    def of(cls, payload: dict[str, Any]) -> FunctionError:
        """From Lambda's error payload (errorType, errorMessage, stackTrace), as `runtime` writes it."""
        return cls(payload["errorType"], payload["errorMessage"], payload.get("stackTrace"))


@dataclass(frozen=True)
class SandboxSpec:
    """What a function's workers are started with: everything a worker gets comes from here."""

    logical_id: str
    arn: str
    handler: str  # module.function, as the template's Handler
    path: tuple[str, ...]  # the code folder, then the layers' folders
    environment: dict[str, str]
    timeout_seconds: float
    memory_mb: int
    max_concurrency: int


@dataclass(frozen=True)
class InvocationReport:
    """One invocation as the timeline tells it."""

    logical_id: str
    request_id: str
    duration_ms: float
    peak_mb: float | None  # None when the worker did not answer (timed out, crashed), or it ran in-process
    memory_mb: int
    init_ms: float | None  # set on a cold start
    error_type: str | None
    event: Any = field(repr=False)
    result: Any = field(repr=False)
    in_process: bool = False  # in the local cloud's own process, whose memory is not the function's alone

    def text(self) -> str:
        start = f"cold start, init {self.init_ms:.0f} ms" if self.init_ms is not None else "warm"
        memory = ", memory not measured in-process" if self.in_process else ""
        if self.peak_mb is not None:
            memory = f", peak {self.peak_mb:.0f} of {self.memory_mb} MB"
            memory += " (over its MemorySize: not enforced)" if self.peak_mb > self.memory_mb else ""
        outcome = f"failed {self.error_type}" if self.error_type else "ok"
        return f"{self.logical_id}: {outcome} in {self.duration_ms:.0f} ms ({start}){memory}"


Observer = Callable[[InvocationReport], None]


class _Worker:
    """One execution environment: a process, its request pipe and its answer pipe."""

    def __init__(self, spec: SandboxSpec, generation: int, log: IO[Any] | None) -> None:
        self.generation = generation
        self._buffer = bytearray()
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter running our worker script
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=spec.environment,
            cwd=spec.path[0],
        )
        self._send({"handler": spec.handler, "path": list(spec.path)})
        started = time.monotonic()
        try:
            init = self._read(INIT_SECONDS)
        except FunctionError:
            self.stop()
            raise
        if init is None:
            self.stop()
            raise FunctionError("Sandbox.Timedout", f"Init phase timed out after {INIT_SECONDS:.0f} seconds")
        if "initError" in init:
            self.stop()
            raise FunctionError.of(init["initError"])
        self.init_ms = float(init.get("initMs", (time.monotonic() - started) * 1000))

    def invoke(self, request: dict[str, Any], timeout_seconds: float) -> dict[str, Any]:
        """The worker's answer; FunctionError if it timed out (then it is killed) or died."""
        self._send(request)
        answer = self._read(timeout_seconds)
        if answer is None:
            self.process.kill()
            self.process.wait()
            raise FunctionError.of(runtime.timed_out(request["requestId"], timeout_seconds))
        return answer

    def _send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None  # noqa: S101 - started with a pipe
        try:
            stdin.write(json.dumps(message).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            self._died()

    def _read(self, timeout_seconds: float) -> dict[str, Any] | None:
        """The next answer line, or None once `timeout_seconds` pass without one."""
        stdout = self.process.stdout
        assert stdout is not None  # noqa: S101 - started with a pipe
        deadline = time.monotonic() + timeout_seconds
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stdout], [], [], remaining)[0]:
                return None
            chunk = os.read(stdout.fileno(), 1 << 16)
            if not chunk:
                self._died()
            self._buffer.extend(chunk)
        line, _, rest = self._buffer.partition(b"\n")
        self._buffer = bytearray(rest)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _died(self) -> None:
        status = self.process.wait()
        reason = f"signal: {-status}" if status < 0 else f"exit status {status}"
        raise FunctionError.of(runtime.exited(reason))

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):  # already gone
                self.process.stdin.close()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class Sandbox:
    """The execution environments of one function."""

    def __init__(self, spec: SandboxSpec, observe: Observer | None = None, log: IO[Any] | None = None) -> None:
        self.spec = spec
        self._observe = observe
        self._log = log
        self._idle: list[_Worker] = []
        self._running = 0  # workers handed out, or being started for an invocation
        self._generation = 0
        self._closed = False
        self._free = threading.Condition()
        self.cold_starts = 0

    @property
    def workers(self) -> int:
        """How many environments exist now (warm and idle, or busy)."""
        with self._free:
            return len(self._idle) + self._running

    def invoke(self, event: Any) -> Any:
        """Run the handler in a free environment (a new one if none is free and the limit allows)."""
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        worker: _Worker | None = None
        init_ms: float | None = None
        answer: dict[str, Any] = {}
        error: FunctionError | None = None
        try:
            worker, init_ms = self._acquire()
            request = {
                "requestId": request_id,
                "functionArn": self.spec.arn,
                "timeoutSeconds": self.spec.timeout_seconds,
                "event": event,
            }
            answer = worker.invoke(request, self.spec.timeout_seconds)
            if "error" in answer:
                error = FunctionError.of(answer["error"])
        except FunctionError as raised:
            error = raised
        finally:
            if worker is not None:
                self._release(worker)
        self._report(request_id, started, init_ms, answer, error, event)
        if error is not None:
            raise error
        return answer["result"]

    def _report(  # noqa: PLR0917 - one invocation's facts
        self,
        request_id: str,
        started: float,
        init_ms: float | None,
        answer: dict[str, Any],
        error: FunctionError | None,
        event: Any,
    ) -> None:
        if self._observe is None:
            return
        self._observe(
            InvocationReport(
                logical_id=self.spec.logical_id,
                request_id=request_id,
                duration_ms=answer.get("durationMs", (time.monotonic() - started) * 1000),
                peak_mb=answer.get("peakMb"),
                memory_mb=self.spec.memory_mb,
                init_ms=init_ms,
                error_type=error.error_type if error else None,
                event=event,
                result=answer.get("result"),
            )
        )

    def _acquire(self) -> tuple[_Worker, float | None]:
        with self._free:
            if self.spec.max_concurrency == 0:
                raise FunctionError("TooManyRequestsException", "Rate Exceeded. (reserved concurrency is 0)")
            while True:
                if self._closed:
                    raise FunctionError("ServiceException", "the local cloud is stopping")
                while self._idle:
                    worker = self._idle.pop()  # the most recently used: Lambda reuses warm environments
                    if worker.alive:
                        self._running += 1
                        return worker, None
                if self._running < self.spec.max_concurrency:
                    self._running += 1
                    spec, generation = self.spec, self._generation
                    break
                self._free.wait()
        try:  # outside the lock: several environments may initialise at once
            worker = _Worker(spec, generation, self._log)
        except BaseException:
            with self._free:
                self._running -= 1
                self._free.notify()
            raise
        self.cold_starts += 1
        return worker, worker.init_ms

    def _release(self, worker: _Worker) -> None:
        with self._free:
            self._running -= 1
            keep = worker.alive and worker.generation == self._generation and not self._closed
            if keep:
                self._idle.append(worker)
            self._free.notify()
        if not keep:
            worker.stop()

    def replace(self, spec: SandboxSpec | None = None, **changes: Any) -> None:
        """New environments from now on (new code or settings); busy ones end when their invocation does."""
        with self._free:
            self.spec = replace(spec or self.spec, **changes)
            self._generation += 1
            retired, self._idle = self._idle, []
        for worker in retired:
            worker.stop()

    def close(self) -> None:
        """Stop every environment; an invocation still running ends its worker when it returns."""
        with self._free:
            self._closed = True
            retired, self._idle = self._idle, []
            self._free.notify_all()
        for worker in retired:
            worker.stop()
