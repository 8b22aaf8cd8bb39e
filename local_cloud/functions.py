"""The template's functions, each with the environment the template gives it, run by one Lambda runtime.

What Lambda does around a handler (init, context, error payload, JSON marshalling, the timeout's report)
is `local_cloud.sandbox.runtime`'s, in either of two transports: in sandboxes, worker processes of the
function's own (`local_cloud.sandbox`, what `make local` and the end-to-end suite run), where the
environment, the timeout, the concurrency limit and the credentials are the function's; or in this
process (`InProcess`: the handler tests', on in-process moto, where a test can patch a handler's module).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

from local_cloud.environment import temporary_environment
from local_cloud.sandbox import runtime
from local_cloud.sandbox.pool import FunctionError, InvocationReport, Observer, Sandbox, SandboxSpec
from local_cloud.template import PSEUDO_PARAMETERS, function_name_of
from local_cloud.timeline import Timeline, order_id_in

if TYPE_CHECKING:
    # Only the provisioned stack: the Cloud that holds the registry is built on this module.
    from local_cloud.stack import Stack as Cloud

# One invocation at a time in this process, like one Lambda sandbox: each swaps os.environ for its own.
# Re-entrant, because a handler's AWS call can synchronously lead to another function's invocation.
_SANDBOX = threading.RLock()


class InProcess:
    """A function's one execution environment in this process: `runtime` over a call instead of a pipe.

    The same init, context, error payload, result marshalling (a JSON round trip: a result JSON cannot
    carry fails as `Runtime.MarshalError`) and reports as a sandbox's worker. What the transport cannot
    give: one invocation at a time in the whole process, with os.environ swapped for the function's
    variables for its duration (`environment`, which a test may change); memory not measured (the
    process is not the function's alone); and a timeout that cannot stop the handler's thread, so an
    invocation past the function's Timeout is reported as timed out (`Sandbox.Timedout` to its caller,
    its result dropped) once it returns; `sys.exit` in a handler fails its invocation as
    `Runtime.ExitError` but, this process going on, leaves the module as it was (a crash ends the process).
    The module stays one object between invocations, so a test can patch it (`LocalFunction.module`);
    the handler is looked up on it at each invocation.
    """

    def __init__(self, spec: SandboxSpec, observe: Observer | None = None, module: ModuleType | None = None) -> None:
        """`module`: one already imported (a test's own handler); otherwise the spec's, imported now (init)."""
        self.spec = spec
        self.environment = spec.environment
        self._observe = observe
        self._handler_name = spec.handler.rsplit(".", 1)[1]
        self.cold_starts = 0
        self.module, self._init_ms = (module, None) if module else self._initialise()

    def _initialise(self) -> tuple[ModuleType, float | None]:
        """Lambda's init phase: the handler's module run from its file under the function's environment."""
        module_name = self.spec.handler.rsplit(".", 1)[0]
        source = Path(self.spec.path[0]) / f"{module_name.replace('.', '/')}.py"
        name = f"functions.{self.spec.logical_id}.{module_name}"  # one module per function: two may share a file name
        found = importlib.util.spec_from_file_location(name, source)
        if found is None or found.loader is None:
            raise ImportError(f"cannot load {source}")
        loader, module = found.loader, importlib.util.module_from_spec(found)
        for layer in self.spec.path[1:]:
            if layer not in sys.path:
                sys.path.append(layer)

        def load() -> ModuleType:
            sys.modules[name] = module
            loader.exec_module(module)
            return module

        with _SANDBOX, temporary_environment(self.environment):
            _, line = runtime.initialise(load, self._handler_name, measure_memory=False)
        init = json.loads(line)
        if "initError" in init:
            sys.modules.pop(name, None)
            raise FunctionError.of(init["initError"])
        self.cold_starts += 1
        return module, init["initMs"]

    def invoke(self, event: Any) -> Any:
        request_id = str(uuid.uuid4())
        timeout = self.spec.timeout_seconds
        request = {"requestId": request_id, "functionArn": self.spec.arn, "timeoutSeconds": timeout, "event": event}
        init_ms, self._init_ms = self._init_ms, None  # the first invocation after init is the cold start
        started = time.monotonic()
        try:
            with _SANDBOX, temporary_environment(self.environment):
                handler = getattr(self.module, self._handler_name)
                line = runtime.invoke(handler, json.dumps(request), self.environment, measure_memory=False)
        except SystemExit as ended:  # a worker would end: the invocation fails as Lambda reports it, nothing ends
            status = ended.code if isinstance(ended.code, int) else 1 if ended.code else 0
            ran = {"durationMs": (time.monotonic() - started) * 1000}
            line = json.dumps({"error": runtime.exited(f"exit status {status}"), **ran})
        answer: dict[str, Any] = json.loads(line)
        if answer["durationMs"] > timeout * 1000:  # not stopped, only reported: a thread cannot be stopped
            answer = {"error": runtime.timed_out(request_id, timeout), "durationMs": answer["durationMs"]}
        error = FunctionError.of(answer["error"]) if "error" in answer else None
        if self._observe is not None:
            self._observe(
                InvocationReport(
                    logical_id=self.spec.logical_id,
                    request_id=request_id,
                    duration_ms=answer["durationMs"],
                    peak_mb=None,
                    memory_mb=self.spec.memory_mb,
                    init_ms=init_ms,
                    error_type=error.error_type if error else None,
                    event=event,
                    result=answer.get("result"),
                    in_process=True,
                )
            )
        if error is not None:
            raise error
        return answer["result"]

    def replace(self, spec: SandboxSpec | None = None) -> None:
        """Run the module again from its files (new code), as a new execution environment would."""
        if spec is not None:
            self.spec, self.environment = spec, spec.environment
        self.module, self._init_ms = self._initialise()

    def close(self) -> None:
        """Nothing runs beside this process to stop."""


@dataclass
class LocalFunction:
    """One AWS::Lambda::Function: its execution environments (in this process, or sandboxes), called as Lambda is."""

    logical_id: str
    name: str
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    code: InProcess | Sandbox
    handler_name: str
    source_paths: tuple[Path, ...] = ()  # the code folder and the layers: what a change reloads it for

    @classmethod
    def of_module(
        cls, logical_id: str, module: ModuleType, handler_name: str, timeout_seconds: int = 3
    ) -> LocalFunction:
        """A function of a module already imported (a test's own handler), in this process, with Lambda's defaults."""
        name, memory_mb = logical_id.lower(), 128
        region, account = PSEUDO_PARAMETERS["AWS::Region"], PSEUDO_PARAMETERS["AWS::AccountId"]
        spec = SandboxSpec(
            logical_id=logical_id,
            arn=f"arn:aws:lambda:{region}:{account}:function:{name}",
            handler=f"{module.__name__}.{handler_name}",
            path=(),
            environment={"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)},
            timeout_seconds=timeout_seconds,
            memory_mb=memory_mb,
            max_concurrency=1,
        )
        code = InProcess(spec, module=module)
        return cls(logical_id, name, spec.environment, memory_mb, timeout_seconds, code, handler_name)

    @property
    def module(self) -> ModuleType:
        """The handler module, in this process (what a test patches); a sandboxed function has none here."""
        if isinstance(self.code, Sandbox):
            raise TypeError(f"{self.logical_id} runs in its own sandbox: its module is not in this process")
        return self.code.module

    @property
    def concurrency(self) -> int:
        """How many invocations may run at once: a sandboxed function's limit; in this process, one."""
        return self.code.spec.max_concurrency if isinstance(self.code, Sandbox) else 1

    @property
    def loaded_code(self) -> object:
        """What runs now: the module, or the sandbox's current generation of workers; a reload changes it."""
        return self.code.spec if isinstance(self.code, Sandbox) else self.code.module

    def invoke(self, event: Any) -> Any:
        """The handler's result, as JSON carries it; FunctionError with Lambda's errorType if it failed."""
        return self.code.invoke(event)

    def reload(self, cloud: Cloud, settings: SandboxSettings | None) -> None:
        """New code: the next invocation starts a fresh execution environment (cold); this object stays valid."""
        self.code.replace(function_spec(cloud, self.logical_id, settings))
        self.environment = self.code.spec.environment


def lambda_environment(cloud: Cloud, logical_id: str) -> dict[str, str]:
    """The variables the template sets, resolved locally, plus the ones the Lambda runtime sets."""
    properties = cloud.template.properties(logical_id)
    variables = cloud.template.resolve(properties.get("Environment", {}).get("Variables", {}))
    name = str(cloud.physical_id(logical_id))
    region = PSEUDO_PARAMETERS["AWS::Region"]
    runtime = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties.get("MemorySize", 128)),
        "AWS_LAMBDA_LOG_LEVEL": properties.get("LoggingConfig", {}).get("ApplicationLogLevel", "INFO"),
    }
    # A variable set to !Ref AWS::NoValue (None here) is absent, as CloudFormation leaves it.
    return runtime | {key: str(value) for key, value in variables.items() if value is not None}


def load_function(cloud: Cloud, logical_id: str, observe: Observer | None = None) -> LocalFunction:
    """The function in this process: its handler module imported under its template environment (init)."""
    return _local_function(cloud, InProcess(function_spec(cloud, logical_id, None), observe))


def _local_function(cloud: Cloud, code: InProcess | Sandbox) -> LocalFunction:
    spec = code.spec
    return LocalFunction(
        logical_id=spec.logical_id,
        name=str(cloud.physical_id(spec.logical_id)),
        environment=spec.environment,
        memory_mb=spec.memory_mb,
        timeout_seconds=int(spec.timeout_seconds),
        code=code,
        handler_name=spec.handler.rsplit(".", 1)[1],
        source_paths=tuple(Path(path) for path in spec.path),
    )


MACHINE_CONCURRENCY = int(os.environ.get("LOCAL_LAMBDA_CONCURRENCY", "4"))  # per function, without a limit of its own


@dataclass(frozen=True)
class SandboxSettings:
    """What every sandbox of a cloud shares: where its local AWS answers, and who is told of each invocation."""

    endpoint: str
    observe: Observer | None = None
    log: IO[Any] | None = None  # where the handlers' output goes (the worker's stderr); None: this process's
    credentials: Callable[[str], dict[str, str]] | None = None  # role ARN -> its credentials; None: the fake account


def function_spec(cloud: Cloud, logical_id: str, settings: SandboxSettings | None) -> SandboxSpec:
    """A function's execution environment: the variables Lambda would give it, its limits, its code.

    With `settings`, a sandbox's: a process's variables too (and nothing of this process's), its role's
    credentials and the local AWS's endpoint. Without, in this process: its AWS is this process's.
    """
    properties = cloud.template.properties(logical_id)
    code = cloud.template.code_path(logical_id)
    layers = [str(path) for path in cloud.template.layer_paths(logical_id)]
    name = str(cloud.physical_id(logical_id))
    environment = lambda_environment(cloud, logical_id) | {
        "_HANDLER": properties["Handler"],
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{properties.get('Runtime', 'python3.13')}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "LAMBDA_TASK_ROOT": str(code),
    }
    if settings is not None:
        environment |= {
            "PYTHONPATH": os.pathsep.join([str(code), *layers]),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_ENDPOINT_URL": settings.endpoint,  # the local AWS, over HTTP: the one thing AWS itself would not set
            **(
                settings.credentials(str(cloud.template.resolve(properties["Role"])))
                if settings.credentials
                else _ADMIN
            ),
        }
    reserved = properties.get("ReservedConcurrentExecutions")
    return SandboxSpec(
        logical_id=logical_id,
        arn=f"arn:aws:lambda:{environment['AWS_REGION']}:{PSEUDO_PARAMETERS['AWS::AccountId']}:function:{name}",
        handler=properties["Handler"],
        path=(str(code), *layers),
        environment=environment,
        timeout_seconds=timeout_of(properties),
        memory_mb=int(properties.get("MemorySize", 128)),
        max_concurrency=MACHINE_CONCURRENCY if reserved is None else int(reserved),
    )


def timeout_of(properties: dict[str, Any]) -> float:
    """A function's Timeout in seconds, from its (transformed) properties: Lambda's default is 3."""
    return float(properties.get("Timeout", 3))


def timeline_observer(timeline: Timeline) -> Observer:
    """Each invocation as a timeline line: outcome, duration, cold or warm, peak memory (in a sandbox)."""

    def observe(report: InvocationReport) -> None:
        timeline.add("lambda", report.text(), order_id_in(report.event, report.result))

    return observe


# The fake account's administrator: a sandbox's credentials when IAM is not enforced (its role's when it is).
_ADMIN = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def _newest_change(paths: tuple[Path, ...]) -> float:
    return max((file.stat().st_mtime for path in paths for file in path.rglob("*.py")), default=0.0)


def _loaded_now(paths: tuple[Path, ...]) -> float:
    # A file dated in the future (clock skew, a copied tree) would otherwise look changed on every check.
    return max(time.time(), _newest_change(paths))


def _forget_modules_under(paths: tuple[Path, ...]) -> None:
    """Drop imported modules that come from these folders, so the next import reads the files again."""
    roots = tuple(str(path) for path in paths)
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(roots):
            del sys.modules[name]


class FunctionRegistry:
    """The template's functions, each loaded once, found by logical id or by the name or ARN AWS calls use."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud
        self._loaded: dict[str, LocalFunction] = {}
        self._loaded_at: dict[str, float] = {}  # when each was (re)loaded: newer files mean a reload
        self._layers_at = time.time()
        self._lock = threading.Lock()
        self.sandbox_settings: SandboxSettings | None = None  # set: functions run in sandboxes
        self.observe: Observer | None = None  # told of each in-process invocation (a sandbox's: its settings')
        self._logical_id_of = {
            str(cloud.physical_id(logical_id)): logical_id
            for logical_id in cloud.template.of_type("AWS::Lambda::Function")
        }

    def reload_changed(self) -> list[str]:
        """Reload every loaded function whose code or layer changed since it was loaded; returns their ids."""
        with self._lock:
            functions = list(self._loaded.values())
        changed = [f for f in functions if _newest_change(f.source_paths) > self._loaded_at.get(f.logical_id, 0.0)]
        layers = {path for f in changed for path in f.source_paths[1:] if _newest_change((path,)) > self._layers_at}
        if layers:
            # A layer change reaches every function that imports from it, whether its own folder changed or not.
            _forget_modules_under(tuple(layers))
            changed = [f for f in functions if set(f.source_paths[1:]) & layers or f in changed]
            self._layers_at = _loaded_now(tuple(layers))
        for function in changed:
            function.reload(self._cloud, self.sandbox_settings)
            self._loaded_at[function.logical_id] = _loaded_now(function.source_paths)
        return [function.logical_id for function in changed]

    def run_in_sandboxes(self, settings: SandboxSettings) -> None:
        """From now on, functions not yet loaded run in sandbox processes of their own, reaching AWS over HTTP."""
        self.sandbox_settings = settings

    def close(self) -> None:
        """Stop every sandbox's processes."""
        with self._lock:
            for function in self._loaded.values():
                function.code.close()

    def get(self, logical_id: str) -> LocalFunction:
        with self._lock:
            if logical_id not in self._loaded:
                self._loaded[logical_id] = self._load(logical_id)
                self._loaded_at[logical_id] = _loaded_now(self._loaded[logical_id].source_paths)
            return self._loaded[logical_id]

    def _load(self, logical_id: str) -> LocalFunction:
        settings = self.sandbox_settings
        if settings is None:
            return load_function(self._cloud, logical_id, self.observe)
        spec = function_spec(self._cloud, logical_id, settings)
        return _local_function(self._cloud, Sandbox(spec, settings.observe, settings.log))

    def by_name(self, name_or_arn: str) -> LocalFunction | None:
        """The function an Invoke names (a name, or an ARN with an optional qualifier), if it is ours."""
        logical_id = self._logical_id_of.get(function_name_of(name_or_arn))
        return self.get(logical_id) if logical_id else None
