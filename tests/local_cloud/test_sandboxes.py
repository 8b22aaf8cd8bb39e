"""Functions in sandboxes (local_cloud.sandbox): worker processes of their own, as Lambda runs them.

The handlers here are small files written for each test; the queue test runs on moto as a server, which
the workers reach over HTTP as the template's functions do under `make local`. What the runtime does
around a handler is one code for both transports (`local_cloud.sandbox.runtime`): the tests of it run
in a sandbox and in this process (`InProcess`, the handler tests' transport) and expect the same answers.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_cloud.cloud import Cloud
from local_cloud.functions import InProcess, LocalFunction
from local_cloud.queues import QueueMapping
from local_cloud.sandbox.pool import FunctionError, InvocationReport, Sandbox, SandboxSpec
from local_cloud.server import local_aws

HANDLER = """
import json, os, sys, time

invocations = 0  # module state: one count per sandbox, as in one Lambda execution environment


def handler(event, context):
    global invocations
    invocations += 1
    started = time.time()
    if "Records" in event:  # from a queue: the order is in the message
        event = json.loads(event["Records"][0]["body"])
    if event.get("mark"):  # a file that says the handler is running
        open(event["mark"], "w").close()
    time.sleep(event.get("sleep", 0))
    if event.get("exit"):
        sys.exit(3)
    if event.get("crash"):
        os._exit(9)
    if event.get("fail"):
        raise LookupError("no such thing")
    if event.get("unsendable"):
        return {"ids": {1, 2}}  # a set: JSON cannot carry it
    if event.get("pair"):
        return (1, 2)  # JSON carries it as a list
    return {
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "invocations": invocations,
        "pid": os.getpid(),
        "started": started,
        "ended": time.time(),
        "environment": dict(os.environ),
        "version": VERSION,
    }

VERSION = 1
"""

Make = Callable[..., Sandbox]
Runner = Sandbox | InProcess  # the two transports of one runtime
MakeRunner = Callable[..., Runner]
TRANSPORTS = ["sandbox", "in-process"]


def counting_spec(
    tmp_path: Path, timeout_seconds: float = 5, max_concurrency: int = 2, environment: dict[str, str] | None = None
) -> SandboxSpec:
    """The spec of a function whose code is HANDLER, written to a folder of its own."""
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(textwrap.dedent(HANDLER))
    return SandboxSpec(
        logical_id="CountingFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:counting",
        handler="app.handler",
        path=(str(code),),
        environment={"AWS_LAMBDA_FUNCTION_NAME": "counting", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}
        | (environment or {}),
        timeout_seconds=timeout_seconds,
        memory_mb=128,
        max_concurrency=max_concurrency,
    )


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[Make]:
    made: list[Sandbox] = []

    def make(
        timeout_seconds: float = 5,
        max_concurrency: int = 2,
        environment: dict[str, str] | None = None,
        observe: Callable[[InvocationReport], None] | None = None,
    ) -> Sandbox:
        spec = counting_spec(tmp_path, timeout_seconds, max_concurrency, environment)
        made.append(Sandbox(spec, observe))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.close()


@pytest.fixture(params=TRANSPORTS)
def make_runner(request: pytest.FixtureRequest, tmp_path: Path, make_sandbox: Make) -> MakeRunner:
    """HANDLER's function in a sandbox, or in this process: the same runtime over either transport."""

    def make(timeout_seconds: float = 5, observe: Callable[[InvocationReport], None] | None = None) -> Runner:
        if request.param == "sandbox":
            return make_sandbox(timeout_seconds=timeout_seconds, observe=observe)
        return InProcess(counting_spec(tmp_path, timeout_seconds), observe)

    return make


def test_a_handler_error_is_the_same_error_payload_in_both_transports(tmp_path: Path, make_sandbox: Make) -> None:
    failures = []
    for runner in (make_sandbox(), InProcess(counting_spec(tmp_path))):
        with pytest.raises(FunctionError) as raised:
            runner.invoke({"fail": True})
        failures.append((raised.value.error_type, str(raised.value), raised.value.stack_trace))

    in_a_sandbox, in_process = failures
    assert in_a_sandbox == in_process  # type, message and stack trace, frame for frame
    assert in_a_sandbox[:2] == ("LookupError", "no such thing")
    assert "raise LookupError" in in_a_sandbox[2][-1]


def test_a_result_json_cannot_carry_is_a_marshal_error(make_runner: MakeRunner) -> None:
    runner = make_runner()

    with pytest.raises(FunctionError) as raised:
        runner.invoke({"unsendable": True})

    assert raised.value.error_type == "Runtime.MarshalError"
    assert str(raised.value).startswith("Unable to marshal response: Object of type set is not JSON serializable")
    assert runner.invoke({"pair": True}) == [1, 2]  # what JSON carries: a tuple comes back a list


def test_the_context_counts_down_from_the_functions_timeout(make_runner: MakeRunner) -> None:
    result = make_runner(timeout_seconds=3).invoke({"sleep": 0.2})

    assert 0 < result["remaining_ms"] <= 3000 - 200
    assert result["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:counting"
    assert re.fullmatch(r"[0-9a-f-]{36}", result["request_id"])


def test_an_invocation_past_its_timeout_is_reported_timed_out(make_runner: MakeRunner) -> None:
    reports: list[InvocationReport] = []
    runner = make_runner(timeout_seconds=0.5, observe=reports.append)

    with pytest.raises(FunctionError) as raised:
        runner.invoke({"sleep": 1.0})  # a sandbox stops it at 0.5 s; in this process it is reported on return

    assert raised.value.error_type == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 0\.50 seconds", str(raised.value))
    assert [(report.error_type, report.request_id in str(raised.value)) for report in reports] == [
        ("Sandbox.Timedout", True)
    ]


def test_the_first_invocation_is_a_cold_start_with_its_init_time_then_warm(make_runner: MakeRunner) -> None:
    reports: list[InvocationReport] = []
    runner = make_runner(observe=reports.append)

    runner.invoke({})
    runner.invoke({})

    cold, warm = (report.text() for report in reports)
    assert re.fullmatch(r"CountingFunction: ok in \d+ ms \(cold start, init \d+ ms\)(, peak \d+ of 128 MB)?.*", cold)
    assert re.fullmatch(r"CountingFunction: ok in \d+ ms \(warm\).*", warm)
    assert runner.cold_starts == 1
    if isinstance(runner, InProcess):
        assert warm.endswith(", memory not measured in-process")  # the process is not the function's alone
    else:
        assert re.search(r", peak \d+ of 128 MB$", warm)


def test_sys_exit_fails_the_invocation_as_runtime_exit_error(make_runner: MakeRunner) -> None:
    runner = make_runner()

    with pytest.raises(FunctionError) as raised:
        runner.invoke({"exit": True})

    assert (raised.value.error_type, str(raised.value)) == (
        "Runtime.ExitError",
        "Error: Runtime exited with error: exit status 3",
    )
    # The next invocation is answered: by a new sandbox; in this process, by the same module (nothing ended).
    assert runner.invoke({})["invocations"] == (2 if isinstance(runner, InProcess) else 1)


def test_the_worker_and_its_runtime_import_only_the_standard_library() -> None:
    """A handler's interpreter must see no module of the local cloud's, nor a package the function did not bring."""
    sandbox = Path(__file__).parents[2] / "local_cloud" / "sandbox"
    imported = set()
    for script in ("worker.py", "runtime.py"):
        tree = ast.parse((sandbox / script).read_text())
        for node in tree.body:  # module level; `if TYPE_CHECKING:` holds only what mypy reads
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])

    assert imported - sys.stdlib_module_names - {"__future__"} == set()
    assert {"json", "traceback"} <= imported  # the check reads real imports


def test_a_sandbox_has_exactly_the_environment_it_is_given(make_sandbox: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_CLOUD_ONLY", "this process's")
    result = make_sandbox(environment={"TABLE_NAME": "orders"}).invoke({})

    given = {name: value for name, value in result["environment"].items() if name != "LC_CTYPE"}  # Python sets it
    assert given == {
        "AWS_LAMBDA_FUNCTION_NAME": "counting",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "TABLE_NAME": "orders",
    }


def test_a_module_level_counter_is_per_sandbox(make_sandbox: Make) -> None:
    sandbox = make_sandbox()
    first, second = sandbox.invoke({}), sandbox.invoke({})
    other = make_sandbox().invoke({})  # another function (or environment) of the same code

    assert (first["invocations"], second["invocations"]) == (1, 2)  # warm: the same environment, initialised once
    assert first["pid"] == second["pid"] != os.getpid()
    assert other["invocations"] == 1
    assert sandbox.cold_starts == 1


def two_at_once(sandbox: Sandbox, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Two invocations started together; their results, the one that started first first."""
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(sandbox.invoke(event))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results, key=lambda result: result["started"])


def test_two_concurrent_invocations_of_one_function_overlap(make_sandbox: Make) -> None:
    sandbox = make_sandbox(max_concurrency=2)
    sandbox.invoke({})  # one environment warm; the second starts cold beside it
    first, second = two_at_once(sandbox, {"sleep": 1.0})
    assert second["started"] < first["ended"]  # in time, the two ran at once
    assert first["pid"] != second["pid"]
    assert sandbox.workers == 2


def test_invocations_over_the_concurrency_limit_wait_for_a_free_sandbox(make_sandbox: Make) -> None:
    sandbox = make_sandbox(max_concurrency=1)
    first, second = two_at_once(sandbox, {"sleep": 0.3})
    assert second["started"] >= first["ended"]
    assert first["pid"] == second["pid"]


def test_a_handler_past_its_timeout_is_stopped_and_reported_timed_out(make_sandbox: Make) -> None:
    reports: list[InvocationReport] = []
    sandbox = make_sandbox(timeout_seconds=0.5, observe=reports.append)
    sandbox.invoke({})

    with pytest.raises(FunctionError) as raised:
        sandbox.invoke({"sleep": 5})

    assert raised.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 0.50 seconds" in str(raised.value)
    assert sandbox.invoke({})["invocations"] == 1  # the timed-out environment is gone; a new one started
    assert [report.error_type for report in reports] == [None, "Sandbox.Timedout", None]
    assert reports[2].init_ms is not None  # a cold start, with its init time
    assert reports[0].peak_mb is not None
    assert reports[0].peak_mb > 0


@pytest.mark.parametrize("how", ["exit", "crash"])
def test_a_crashing_handler_fails_its_invocation_only(make_sandbox: Make, how: str) -> None:
    sandbox = make_sandbox()
    sandbox.invoke({})

    with pytest.raises(FunctionError) as raised:
        sandbox.invoke({how: True})

    assert raised.value.error_type == "Runtime.ExitError"
    assert ("exit status 3" if how == "exit" else "exit status 9") in str(raised.value)
    assert sandbox.invoke({})["invocations"] == 1  # replaced by a fresh environment


def test_a_handler_error_is_lambdas_error_payload_and_the_sandbox_stays_warm(make_sandbox: Make) -> None:
    sandbox = make_sandbox()

    with pytest.raises(FunctionError) as raised:
        sandbox.invoke({"fail": True})

    assert (raised.value.error_type, str(raised.value)) == ("LookupError", "no such thing")
    assert any("raise LookupError" in line for line in raised.value.stack_trace)
    assert sandbox.invoke({})["invocations"] == 2


def test_new_code_starts_new_sandboxes(make_sandbox: Make) -> None:
    sandbox = make_sandbox()
    assert sandbox.invoke({})["version"] == 1
    app = Path(sandbox.spec.path[0]) / "app.py"
    app.write_text(app.read_text().replace("VERSION = 1", "VERSION = 2"))
    later = app.stat().st_mtime + 10  # an edit in the same second, of the same size, would reuse the bytecode cache
    os.utime(app, (later, later))

    sandbox.replace()

    assert sandbox.invoke({})["version"] == 2
    assert sandbox.cold_starts == 2


HOLDER = """
import json, sys, time
from local_cloud.sandbox.pool import Sandbox, SandboxSpec

spec, mark, busy = sys.argv[1:]
sandbox = Sandbox(SandboxSpec(**json.loads(spec)))
print(sandbox.invoke({})["pid"], flush=True)
if busy == "busy":
    sandbox.invoke({"mark": mark, "sleep": 60})
else:
    open(mark, "w").close()
    time.sleep(60)
"""


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for pid 1 to reap it has ended too)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the process itself
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def waited_for(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize(
    ("stop", "busy"),
    [(signal.SIGKILL, "busy"), (signal.SIGTERM, "busy"), (signal.SIGKILL, "idle")],
    ids=["SIGKILL-mid-invocation", "SIGTERM-mid-invocation", "SIGKILL-between-invocations"],
)
def test_a_sandbox_ends_when_the_process_holding_it_is_killed(
    make_sandbox: Make, tmp_path: Path, stop: signal.Signals, busy: str
) -> None:
    spec = make_sandbox(timeout_seconds=120).spec  # started in the holder, not here
    running = tmp_path / "running"
    holder = subprocess.Popen(  # noqa: S603 - this interpreter, our script
        [sys.executable, "-c", HOLDER, json.dumps(asdict(spec)), str(running), busy],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert holder.stdout is not None
    worker = int(holder.stdout.readline())  # warm: it answered once
    try:
        assert waited_for(running.exists)  # busy: in a 60 s handler, not reading the stdin that closes
        holder.send_signal(stop)  # no handler for SIGTERM here, as in a bare `running_local_cloud`
        holder.wait()

        assert waited_for(lambda: gone(worker)), f"worker {worker} outlived the process holding it"
    finally:
        holder.kill()
        holder.wait()
        if not gone(worker):  # the failure above: leave no 60 s sleeper behind
            os.kill(worker, signal.SIGKILL)


def test_a_queue_message_whose_handler_times_out_is_retried_then_dead_lettered(make_sandbox: Make) -> None:
    with local_aws(0) as endpoint:
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        dead_letters = sqs.create_queue(QueueName="timeouts-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
        queue = sqs.create_queue(QueueName="timeouts", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"sleep": 5}))
        sandbox = make_sandbox(timeout_seconds=0.5, environment={"AWS_ENDPOINT_URL": endpoint})
        function = LocalFunction("CountingFunction", "counting", {}, 128, 1, sandbox, "handler")
        mapping = QueueMapping.of_queue(function, queue_arn, batch_size=1, report_batch_item_failures=False)

        invocations = mapping.deliver()

        assert [getattr(invocation.error, "error_type", None) for invocation in invocations] == ["Sandbox.Timedout"] * 2
        landed = sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=0).get("Messages", [])
        assert [json.loads(message["Body"]) for message in landed] == [{"sleep": 5}]


def test_a_queue_delivers_batches_at_once_up_to_its_maximum_concurrency_and_fifo_groups_in_order(
    make_sandbox: Make,
) -> None:
    with local_aws(0) as endpoint:
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        standard = sqs.create_queue(QueueName="wide")["QueueUrl"]
        fifo = sqs.create_queue(QueueName="ordered.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        for number in range(4):
            sqs.send_message(QueueUrl=standard, MessageBody=json.dumps({"sleep": 0.5, "n": number}))
            sqs.send_message(
                QueueUrl=fifo,
                MessageBody=json.dumps({"sleep": 0.2, "n": number}),
                MessageGroupId="one-order",
                MessageDeduplicationId=str(number),
            )
        sandbox = make_sandbox(max_concurrency=4, environment={"AWS_ENDPOINT_URL": endpoint})
        function = LocalFunction("CountingFunction", "counting", {}, 128, 5, sandbox, "handler")

        def delivered(url: str) -> list[tuple[float, float, int]]:
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            mapping = QueueMapping.of_queue(function, arn, batch_size=1, report_batch_item_failures=False)
            mapping.maximum_concurrency = 2  # the mapping's ScalingConfig.MaximumConcurrency
            runs = [
                (invocation.response["started"], invocation.response["ended"], json.loads(body)["n"])
                for invocation in mapping.deliver()
                for body in [invocation.event["Records"][0]["body"]]
            ]
            return sorted(runs)

        wide, ordered = delivered(standard), delivered(fifo)

    at_once = [sum(1 for start, end, _ in wide if start <= moment < end) for moment, _, _ in wide]
    assert max(at_once) == 2  # two batches at a time, never more
    assert [number for _, _, number in ordered] == [0, 1, 2, 3]  # the group's messages one after another
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(ordered))


def test_an_invoke_that_timed_out_answers_as_lambda_does_to_step_functions(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    function = cloud.functions.get("ReserveInventoryFunction")

    def timed_out(_event: dict[str, Any]) -> Any:
        raise FunctionError("Sandbox.Timedout", "RequestId: 1 Error: Task timed out after 10.00 seconds")

    monkeypatch.setattr(function, "invoke", timed_out)  # what the sandbox raises past the function's Timeout
    answer = boto3.client("lambda").invoke(FunctionName=function.name, Payload=b"{}")

    assert answer["FunctionError"] == "Unhandled"
    payload = json.loads(answer["Payload"].read())
    assert (payload["errorType"], payload["errorMessage"]) == (
        "Sandbox.Timedout",
        "RequestId: 1 Error: Task timed out after 10.00 seconds",
    )  # what a state machine's Retry and Catch match on
