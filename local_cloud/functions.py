"""The template's functions, each with the environment the template gives it.

Two transports run the same handler code: in this process (the tests' default: fast, and a test can patch
a handler's module), or in sandboxes, worker processes of the function's own (`local_cloud.sandbox`, what
`make local` runs), where the environment, the timeout and the concurrency limit are the function's.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

from local_cloud.environment import temporary_environment
from local_cloud.sandbox.pool import InvocationReport, Observer, Sandbox, SandboxSpec
from local_cloud.template import PSEUDO_PARAMETERS, function_name_of
from local_cloud.timeline import Timeline, order_id_in

if TYPE_CHECKING:
    # Only the provisioned stack: the Cloud that holds the registry is built on this module.
    from local_cloud.stack import Stack as Cloud

# One invocation at a time in this process, like one Lambda sandbox: each swaps os.environ for its own.
# Re-entrant, because a handler's AWS call can synchronously lead to another function's invocation.
_SANDBOX = threading.RLock()


@dataclass
class LambdaContext:
    """The context object the Lambda runtime passes to a handler."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_stream_name: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        region, account = PSEUDO_PARAMETERS["AWS::Region"], PSEUDO_PARAMETERS["AWS::AccountId"]
        return f"arn:aws:lambda:{region}:{account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


@dataclass
class LocalFunction:
    """One AWS::Lambda::Function: its handler module, loaded here, or its sandbox; called with its own environment."""

    logical_id: str
    name: str
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    code: ModuleType | Sandbox  # the handler module in this process, or the function's sandbox processes
    handler_name: str
    source_paths: tuple[Path, ...] = ()  # the code folder and the layers: what a change reloads it for

    @property
    def module(self) -> ModuleType:
        """The handler module, in this process (what a test patches); a sandboxed function has none here."""
        if isinstance(self.code, Sandbox):
            raise TypeError(f"{self.logical_id} runs in its own sandbox: its module is not in this process")
        return self.code

    @property
    def concurrency(self) -> int:
        """How many invocations may run at once: a sandboxed function's limit; in this process, one."""
        return self.code.spec.max_concurrency if isinstance(self.code, Sandbox) else 1

    @property
    def loaded_code(self) -> object:
        """What runs now: the module, or the sandbox's current generation of workers; a reload changes it."""
        return self.code.spec if isinstance(self.code, Sandbox) else self.code

    def invoke(self, event: dict[str, Any]) -> Any:
        if isinstance(self.code, Sandbox):
            return self.code.invoke(event)
        context = LambdaContext(self.name, self.memory_mb, self.timeout_seconds)
        with _SANDBOX, temporary_environment(self.environment):
            return getattr(self.code, self.handler_name)(event, context)

    def reload(self, cloud: Cloud, settings: SandboxSettings | None) -> None:
        """Run the handler module again from its files, as a new Lambda sandbox would; this object stays valid."""
        if isinstance(self.code, Sandbox) and settings is not None:
            self.code.replace(sandbox_spec(cloud, self.logical_id, settings))  # the next invocation starts cold
            return
        fresh = load_function(cloud, self.logical_id)
        with _SANDBOX:
            self.code, self.environment = fresh.code, fresh.environment


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


def load_function(cloud: Cloud, logical_id: str) -> LocalFunction:
    """Import the function's handler module under its template environment (module code reads it)."""
    properties = cloud.template.properties(logical_id)
    module_name, handler_name = properties["Handler"].rsplit(".", 1)
    source = cloud.template.code_path(logical_id) / f"{module_name.replace('.', '/')}.py"
    variables = lambda_environment(cloud, logical_id)
    spec = importlib.util.spec_from_file_location(f"functions.{logical_id}.{module_name}", source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    for layer in cloud.template.layer_paths(logical_id):
        if str(layer) not in sys.path:
            sys.path.append(str(layer))
    with _SANDBOX, temporary_environment(variables):
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return LocalFunction(
        logical_id=logical_id,
        name=str(cloud.physical_id(logical_id)),
        environment=variables,
        memory_mb=int(properties.get("MemorySize", 128)),
        timeout_seconds=int(properties.get("Timeout", 3)),
        code=module,
        handler_name=handler_name,
        source_paths=(cloud.template.code_path(logical_id), *cloud.template.layer_paths(logical_id)),
    )


MACHINE_CONCURRENCY = int(os.environ.get("LOCAL_LAMBDA_CONCURRENCY", "4"))  # per function, without a limit of its own


@dataclass(frozen=True)
class SandboxSettings:
    """What every sandbox of a cloud shares: where its local AWS answers, and who is told of each invocation."""

    endpoint: str
    observe: Observer | None = None
    log: IO[Any] | None = None  # where the handlers' output goes (the worker's stderr); None: this process's
    credentials: Callable[[str], dict[str, str]] | None = None  # role ARN -> its credentials; None: the fake account


def sandbox_spec(cloud: Cloud, logical_id: str, settings: SandboxSettings) -> SandboxSpec:
    """A function's sandbox: the environment Lambda would give it (and nothing of this process's), its limits."""
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
        "PYTHONPATH": os.pathsep.join([str(code), *layers]),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_ENDPOINT_URL": settings.endpoint,  # the local AWS, over HTTP: the one thing AWS itself would not set
        **(settings.credentials(str(cloud.template.resolve(properties["Role"]))) if settings.credentials else _ADMIN),
    }
    reserved = properties.get("ReservedConcurrentExecutions")
    return SandboxSpec(
        logical_id=logical_id,
        arn=f"arn:aws:lambda:{environment['AWS_REGION']}:{PSEUDO_PARAMETERS['AWS::AccountId']}:function:{name}",
        handler=properties["Handler"],
        path=(str(code), *layers),
        environment=environment,
        timeout_seconds=float(properties.get("Timeout", 3)),
        memory_mb=int(properties.get("MemorySize", 128)),
        max_concurrency=MACHINE_CONCURRENCY if reserved is None else int(reserved),
    )


def timeline_observer(timeline: Timeline) -> Observer:
    """Each sandboxed invocation as a timeline line: outcome, duration, cold or warm, peak memory."""

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
                if isinstance(function.code, Sandbox):
                    function.code.close()

    def get(self, logical_id: str) -> LocalFunction:
        with self._lock:
            if logical_id not in self._loaded:
                self._loaded[logical_id] = self._load(logical_id)
                self._loaded_at[logical_id] = _loaded_now(self._loaded[logical_id].source_paths)
            return self._loaded[logical_id]

    def _load(self, logical_id: str) -> LocalFunction:
        if self.sandbox_settings is None:
            return load_function(self._cloud, logical_id)
        spec = sandbox_spec(self._cloud, logical_id, self.sandbox_settings)
        return LocalFunction(
            logical_id=logical_id,
            name=str(self._cloud.physical_id(logical_id)),
            environment=spec.environment,
            memory_mb=spec.memory_mb,
            timeout_seconds=int(spec.timeout_seconds),
            code=Sandbox(spec, self.sandbox_settings.observe, self.sandbox_settings.log),
            handler_name=spec.handler.rsplit(".", 1)[1],
            source_paths=(self._cloud.template.code_path(logical_id), *self._cloud.template.layer_paths(logical_id)),
        )

    def by_name(self, name_or_arn: str) -> LocalFunction | None:
        """The function an Invoke names (a name, or an ARN with an optional qualifier), if it is ours."""
        logical_id = self._logical_id_of.get(function_name_of(name_or_arn))
        return self.get(logical_id) if logical_id else None
