"""Cold init, AWS calls per request and package size, per function of template.yaml; the local cloud.

Run after `sam build` (`make bench` does both):
    .venv/bin/python -m scripts.bench [--runs N] [--skip-cold] [--profile] [--skip-local | --only-local]
        [--local-orders N] [--paced-rate R]

1. Cold init. Before its first request a new execution environment imports the handler module, and
   pays for every import it does. Each sample is a fresh interpreter importing the handler with the
   function's template environment, in a process shaped like the Lambda runtime: on sys.path only the
   built function code (.aws-sam/build/<LogicalId>), the layer and boto3 (which the python3.13 runtime
   provides), ahead of the standard library; no site-packages; no bytecode written, as /var/task and
   /opt are read-only. The built layer's compiled wheels are aarch64 and cannot load on this machine, so
   the layer and boto3 are host-platform installs of the same versions, cached in .bench/runtime.
   Absolute times on a shared x86_64 machine say little about arm64 Lambda, so the figure judged is the
   ratio to a baseline: a module that only creates a boto3 DynamoDB client, which every function does
   anyway. Each function start is paired with a baseline start right beside it (in turn before and
   after it) and the ratio is taken pair by pair, so a drift in the machine's load moves both sides.
   The judged ratio is of CPU time (user + system of the child): on a shared machine wall time also
   counts the time spent waiting for a core, CPU time only the work of starting. Wall ratios are shown
   beside it. When `make sam-local` has run here, each function's Init Duration as the Lambda runtime
   emulator printed it in a container, and that cold invocation's Duration, are shown too, with the
   run's commit and age (tools/init_durations.py): read from its record, not measured again, as
   sam local needs Docker and takes minutes.
2. AWS API calls per request. Each call is a network round trip inside the request's latency. POST
   /orders runs twice on moto (the second is the idempotent replay), counting every botocore operation.
3. Package size. A function's zip holds its own code only; its dependencies belong to the layer, so a
   large function zip means something was vendored into the function by mistake.
4. Local cloud (`make local`), started in this process and measured over HTTP only, as a client sees
   it: POST /orders and GET /orders/{id} latency, POST /orders to COMPLETED with the signed payment
   webhook, bursts of 20 and 50 connections opened at once (how many were reset, dropped or left
   unanswered), and a run of orders from concurrent clients, after which every queue should be empty.
   Everything behind the API shares this interpreter, so these figures say how usable `make local` is,
   not how fast Lambda is. scripts/bench_local.py says how each figure is taken.

Targets are printed beside the figures, never enforced: the exit status is 1 only when a measurement
could not be taken.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from packaging.requirements import Requirement

from drivers.sample_events import sample_event
from local_cloud.account import FAKE_CREDENTIALS
from local_cloud.functions import lambda_environment, load_function
from local_cloud.in_process import in_process_cloud
from local_cloud.template import ROOT, Template
from scripts.bench_local import (
    PACED_RATE,
    RUN_ORDERS,
    LocalMeasurementFailed,
    measure_local_cloud,
    print_local_cloud,
)
from tools.init_durations import RECORD as INIT_RECORD
from tools.init_durations import InitDurations, source_revision
from tools.locks import canonical_name, locked_packages

BUILD = ROOT / ".aws-sam" / "build"
LAYER_BUILD_GLOB = "OrdersLayer*"
RUNTIME = ROOT / ".bench" / "runtime"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
LAYER_REQUIREMENTS = ROOT / "layer" / "requirements.txt"
PLACE_ORDER = "PlaceOrderFunction"
PLACE_ORDER_EVENT = "place_order/valid.json"

COLD_INIT_RATIO_TARGET = 1.3
FIRST_REQUEST_CALLS_TARGET = 3
REPLAY_CALLS_TARGET = 1
FUNCTION_ZIP_KB_TARGET = 50
PROFILE_TOP = 5


# The interpreter binary itself: a pyenv shim is a shell script that adds ~150 ms to every start.
INTERPRETER = Path(sys.executable).resolve()
# -I ignores PYTHON* variables, the user site and the current folder; -S leaves out every
# site-packages, the interpreter's own included; -B writes no .pyc, as on Lambda's read-only
# /var/task and /opt. (-I also makes the child ignore PYTHONDONTWRITEBYTECODE, hence -B.)
CHILD_FLAGS = ("-I", "-S", "-B")
# Lambda's paths come before the standard library, so stdlib imports search them too: insert, not append.
IMPORT_HANDLER = "import sys; sys.path[:0] = sys.argv[2:]; import importlib; importlib.import_module(sys.argv[1])"
BASELINE_SOURCE = 'import boto3\n\nboto3.client("dynamodb")\n'
BASELINE = "baseline: boto3 + client"
NO_SUCH_FILE = RUNTIME / "no-such-file"


class MeasurementFailed(Exception):
    """A figure could not be taken (a figure over its target is only reported)."""


# ---------------------------------------------------------------- the built artifacts


def function_ids(template: Template) -> list[str]:
    return list(template.of_type("AWS::Lambda::Function"))


def built_function(logical_id: str) -> Path:
    folder = BUILD / logical_id
    if not folder.is_dir():
        raise MeasurementFailed(f"{folder.relative_to(ROOT)} is missing: run `sam build` (or `make bench`)")
    return folder


def built_layer() -> Path:
    """The layer's build folder; the code Lambda mounts at /opt is its python/ subfolder."""
    folders = sorted(path for path in BUILD.glob(LAYER_BUILD_GLOB) if (path / "python").is_dir())
    if not folders:
        raise MeasurementFailed(f"no {LAYER_BUILD_GLOB}/python under .aws-sam/build: run `sam build`")
    return folders[0]


def built_artifacts(functions: Functions) -> Path:
    """Fail early if `sam build` has not run, or not since a function was added; returns the layer's folder."""
    for logical_id in functions.ids:
        built_function(logical_id)
    return built_layer()


def distributions(site: Path) -> list[str]:
    """name==version of every distribution installed in a folder, from its .dist-info folders."""
    return sorted(folder.name.removesuffix(".dist-info").replace("-", "==", 1) for folder in site.glob("*.dist-info"))


def version_in(site: Path, name: str) -> str:
    for pin in distributions(site):
        if pin.split("==")[0].lower() == name:
            return pin.split("==")[1]
    return "?"


def locked_requirements(lock: Path, root: str) -> str:
    """The lock's entries (pin and hashes) for one package and everything it needs, as a requirements file.

    What it needs is read from the installed metadata of this virtualenv, which `make install` made from the
    same lock, so the versions agree; pip then checks every download against the lock's hashes."""
    packages = locked_packages(lock)
    needed: set[str] = set()
    pending = [root]
    while pending:
        name = canonical_name(pending.pop())
        if name in needed:
            continue
        if name not in packages:
            raise MeasurementFailed(f"{lock.name} pins no {name}")
        needed.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                pending.append(parsed.name)
    return "".join(packages[name].text for name in sorted(needed))


def count_pyc(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.pyc"))


def compiled_modules(site: Path) -> list[str]:
    return sorted(path.name for path in site.rglob("*.so"))


# ---------------------------------------------------------------- the runtime copy


@dataclass(frozen=True)
class RuntimeCopy:
    """Host-platform stand-ins for what Lambda puts on sys.path besides the function code."""

    layer: Path  # as /opt/python
    boto3: Path  # as the runtime's own boto3
    baseline: Path  # a task root holding only BASELINE_SOURCE


def pip_install_cached(target: Path, pip_args: Sequence[str], inputs: Sequence[Path]) -> Path:
    """pip install --target, redone only when the arguments, the files they read or the interpreter change."""
    key = hashlib.sha256(
        json.dumps([list(pip_args), [path.read_text() for path in inputs], sys.version, platform.machine()]).encode()
    ).hexdigest()
    stamp = target / ".bench-key"
    if stamp.is_file() and stamp.read_text() == key:
        return target
    print(f"installing {target.relative_to(ROOT)} ...", file=sys.stderr)
    shutil.rmtree(target, ignore_errors=True)
    # pip compiles .pyc by default; kept, as Lambda's own boto3 comes compiled.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    completed = subprocess.run(
        [*command, "--target", str(target), *pip_args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise MeasurementFailed(f"pip install into {target} failed:\n{tail(completed.stderr)}")
    stamp.write_text(key)  # last, so an interrupted install is redone
    return target


def prepare_runtime_copy(layer_site: Path) -> RuntimeCopy:
    # boto3 with botocore, s3transfer, urllib3... at the dev lock's versions and hashes, so the copy is reproducible.
    RUNTIME.mkdir(parents=True, exist_ok=True)
    boto3_lock = RUNTIME / "boto3-requirements.txt"
    boto3_lock.write_text(locked_requirements(DEV_REQUIREMENTS, "boto3"))
    boto3_dir = pip_install_cached(RUNTIME / "boto3", ["--require-hashes", "-r", str(boto3_lock)], [boto3_lock])
    # The layer's lock, as wheels for this machine: the same distributions and versions as the build.
    layer_dir = pip_install_cached(
        RUNTIME / "layer", ["--require-hashes", "-r", str(LAYER_REQUIREMENTS)], [LAYER_REQUIREMENTS]
    )
    # The orders package changes with every edit, so it is refreshed on each run rather than cached;
    # it comes from the build, as the function code does, so both are the same revision. Its bytecode
    # comes too: the build ships it (layer/Makefile, unchecked-hash .pyc) and Lambda loads it from /opt.
    shutil.rmtree(layer_dir / "orders", ignore_errors=True)
    shutil.copytree(layer_site / "orders", layer_dir / "orders")
    baseline_dir = RUNTIME / "baseline"
    baseline_dir.mkdir(parents=True, exist_ok=True)
    (baseline_dir / "app.py").write_text(BASELINE_SOURCE)
    return RuntimeCopy(layer=layer_dir, boto3=boto3_dir, baseline=baseline_dir)


# ---------------------------------------------------------------- the local cloud


@dataclass(frozen=True)
class Functions:
    """What the template says about its functions."""

    ids: list[str]
    handlers: dict[str, str]  # logical id -> module.function
    environments: dict[str, dict[str, str]]  # logical id -> variables, resolved on the local cloud
    deployed: str  # runtime and architecture


def template_functions() -> Functions:
    with in_process_cloud() as cloud:
        ids = function_ids(cloud.template)
        properties = {logical_id: cloud.template.properties(logical_id) for logical_id in ids}
        environments = {logical_id: lambda_environment(cloud, logical_id) for logical_id in ids}
        first = properties[ids[0]]
        # Architectures is [!Ref Architecture]: the template resolves it to the parameter's value.
        architectures = [str(cloud.template.resolve(value)) for value in first.get("Architectures", ["x86_64"])]
    return Functions(
        ids=ids,
        handlers={logical_id: str(properties[logical_id]["Handler"]) for logical_id in ids},
        environments=environments,
        deployed=f"{first.get('Runtime')} on {'/'.join(architectures)}",
    )


# ---------------------------------------------------------------- 1. cold init


@dataclass(frozen=True)
class Subject:
    """One module whose cold import is timed: a function's handler, or the baseline."""

    name: str
    module: str
    task_root: Path
    environment: dict[str, str]


@dataclass(frozen=True)
class Start:
    wall: float
    cpu: float
    stderr: str


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    # Each start over the baseline start taken right beside it (a pair), so both met the same load.
    paired_wall: list[float] = field(default_factory=list)
    paired_cpu: list[float] = field(default_factory=list)


def function_subject(functions: Functions, logical_id: str) -> Subject:
    module = functions.handlers[logical_id].rsplit(".", 1)[0]
    return Subject(logical_id, module, built_function(logical_id), functions.environments[logical_id])


def child_environment(subject: Subject) -> dict[str, str]:
    """The function's variables plus the ones the Lambda runtime sets; nothing inherited from this shell."""
    return {
        **subject.environment,
        **FAKE_CREDENTIALS,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(subject.task_root),
        # Lambda has no ~/.aws; a path that does not exist keeps this machine's files out of botocore's way.
        "AWS_CONFIG_FILE": str(NO_SUCH_FILE),
        "AWS_SHARED_CREDENTIALS_FILE": str(NO_SUCH_FILE),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def start_once(subject: Subject, runtime: RuntimeCopy, extra_flags: Sequence[str] = ()) -> Start:
    """Start a fresh interpreter that imports the subject's module, and time the whole process."""
    # /var/task, /opt/python, the runtime's boto3. The baseline gets the layer too (its jmespath shadows
    # boto3's, as in Lambda), so that only what the modules import differs between subjects.
    sys_path = [subject.task_root, runtime.layer, runtime.boto3]
    command = [str(INTERPRETER), *CHILD_FLAGS, *extra_flags, "-c", IMPORT_HANDLER, subject.module, *map(str, sys_path)]
    environment = child_environment(subject)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise MeasurementFailed(f"{subject.name} failed to import:\n{tail(completed.stderr)}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Start(wall, cpu, completed.stderr)


def measure_cold_init(subjects: list[Subject], runtime: RuntimeCopy, runs: int) -> dict[str, Samples]:
    """Every function's starts, each paired with a baseline start just before or after it."""
    baseline, functions = subjects[0], subjects[1:]
    samples = {subject.name: Samples() for subject in subjects}
    # Round 0 only warms the page cache, so no subject pays for reading files from disk first.
    for round_number in range(runs + 1):
        print(f"\rcold init: round {round_number}/{runs}", end="", file=sys.stderr, flush=True)
        # Each round starts one further along, so no subject always follows the same neighbour.
        shift = round_number % len(functions)
        for subject in functions[shift:] + functions[:shift]:
            # The baseline goes first in one round and second in the next: neither side of a pair
            # always gets the caches the other just warmed.
            pair = (baseline, subject) if round_number % 2 else (subject, baseline)
            starts = {item.name: start_once(item, runtime) for item in pair}
            if round_number == 0:
                continue
            base, start = starts[baseline.name], starts[subject.name]
            for name, taken in ((baseline.name, base), (subject.name, start)):
                samples[name].wall.append(taken.wall)
                samples[name].cpu.append(taken.cpu)
            samples[subject.name].paired_wall.append(start.wall / base.wall)
            samples[subject.name].paired_cpu.append(start.cpu / base.cpu)
    samples[baseline.name].paired_wall = samples[baseline.name].paired_cpu = [1.0]
    print(file=sys.stderr)
    return samples


def cpu_ratios(samples: dict[str, Samples]) -> dict[str, float]:
    """Each subject's median paired CPU ratio, rounded as printed so the verdict matches the figure."""
    return {name: round(statistics.median(figures.paired_cpu), 2) for name, figures in samples.items()}


def describe_sam_local(record: InitDurations | None) -> str:
    """Where the sam local columns come from, and how old they are beside this checkout."""
    if record is None:
        return (
            f"  sam local      no record ({shown(INIT_RECORD)}): `make sam-local` (Docker) leaves each function's"
            " Init Duration there, and this table then shows it"
        )
    now = source_revision()
    same = "this checkout" if record.revision == now and not now.endswith("+changes") else f"NOT this checkout, {now}"
    hours = record.age().total_seconds() / 3600
    return (
        f"  sam local      make sam-local at {record.measured_at} ({hours:.1f} h ago), commit {record.revision}"
        f" ({same}), {record.architecture}, {record.image}, load {record.load_average:.1f} when it began;\n"
        "                 median ms of each function's cold starts, one container each (its sample events). The"
        " emulator's Init Duration\n"
        "                 times only the start of the runtime, not the handler's import, which falls inside the"
        " cold invoke's Duration\n"
        "                 (with the first request, against moto outside the container)"
    )


def sam_local_figures(record: InitDurations | None, name: str) -> str:
    def ms(value: float | None, decimals: int) -> str:
        return "-" if value is None else f"{value:.{decimals}f}"

    if record is None:
        return ""
    return f" {ms(record.median_init_ms(name), 2):>26} {ms(record.median_cold_invoke_ms(name), 0):>12}"


def print_cold_init(samples: dict[str, Samples], runs: int, sam_local: InitDurations | None) -> None:
    ratios = cpu_ratios(samples)
    print(
        f"  median of {runs} runs (after 1 warm-up round); ms of the whole child process; each function start is"
        " paired with a baseline start beside it and the ratios are taken pair by pair"
    )
    print(describe_sam_local(sam_local))
    sam_local_header = f" {'Init Duration (sam local)':>26} {'cold invoke':>12}" if sam_local else ""
    print(
        f"  {'subject':<30} {'wall ms':>8} {'min-max':>11} {'cpu ms':>7}"
        f" {'wall/base':>10} {'cpu/base':>9}{sam_local_header}   target cpu/base <= {COLD_INIT_RATIO_TARGET:.2f}"
    )
    for name, figures in samples.items():
        wall, cpu = statistics.median(figures.wall), statistics.median(figures.cpu)
        spread = f"{min(figures.wall) * 1000:.0f}-{max(figures.wall) * 1000:.0f}"
        judged = "" if name == BASELINE else verdict(ratios[name] <= COLD_INIT_RATIO_TARGET)
        print(
            f"  {name:<30} {wall * 1000:>8.0f} {spread:>11} {cpu * 1000:>7.0f}"
            f" {statistics.median(figures.paired_wall):>10.2f} {ratios[name]:>9.2f}"
            f"{sam_local_figures(sam_local, name)}   {judged}"
        )


# ---------------------------------------------------------------- --profile: which imports cost


IMPORT_TIME_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)$")
PROFILE_INSIDE = 3


@dataclass(frozen=True)
class Import:
    """One import made by the handler module itself, with the imports it made in turn."""

    module: str
    cumulative_us: int
    inside: list[tuple[str, int]]  # direct sub-imports: module, cumulative µs


def handler_imports(importtime_stderr: str) -> list[Import]:
    """The handler module's direct imports, from `-X importtime` output.

    importtime prints each import after those it caused, indented one level deeper. The handler module
    itself has no line (importlib imported it, not an import statement), so its imports are at depth 0;
    they do not overlap, and with the module's own code they make up the cost of importing it.
    """
    imports: list[Import] = []
    inside: list[tuple[str, int]] = []
    for match in map(IMPORT_TIME_LINE.match, importtime_stderr.splitlines()):
        if match is None:
            continue
        module, cumulative_us, depth = match[3], int(match[1]), len(match[2]) // 2
        if depth == 1:
            inside.append((module, cumulative_us))
        elif depth == 0:
            imports.append(Import(module, cumulative_us, sorted(inside, key=lambda item: -item[1])))
            inside = []
    return imports


def imported_modules(importtime_stderr: str) -> set[str]:
    return {match[3] for match in map(IMPORT_TIME_LINE.match, importtime_stderr.splitlines()) if match}


def print_import_profile(subjects: list[Subject], runtime: RuntimeCopy, ratios: dict[str, float]) -> None:
    slow = [
        subject for subject in subjects if subject.name != BASELINE and ratios[subject.name] > COLD_INIT_RATIO_TARGET
    ]
    if not slow:
        print("  profile: no function is over its cold init target")
        return
    importtime = ("-X", "importtime")
    baseline = next(subject for subject in subjects if subject.name == BASELINE)
    # What the baseline imports (boto3 and the stdlib it needs) every function pays alike; the rest is theirs.
    shared = imported_modules(start_once(baseline, runtime, importtime).stderr)
    print(
        f"  profile: the handler's top {PROFILE_TOP} imports beyond the baseline's, cumulative ms"
        " (one -X importtime run; the profiler inflates times), and what each spent its time importing"
    )
    for subject in slow:
        imports = handler_imports(start_once(subject, runtime, importtime).stderr)
        own = sorted((item for item in imports if item.module not in shared), key=lambda item: -item.cumulative_us)
        print(f"    {subject.name}")
        for item in own[:PROFILE_TOP]:
            inside = ", ".join(f"{module} {us / 1000:.0f}" for module, us in item.inside[:PROFILE_INSIDE])
            print(f"      {item.cumulative_us / 1000:>6.0f} ms  {item.module}" + (f"  <- {inside}" if inside else ""))


# ---------------------------------------------------------------- 2. AWS API calls per request


@dataclass(frozen=True)
class Invocation:
    label: str
    status: object
    operations: list[str]


@contextlib.contextmanager
def recording_api_calls() -> Iterator[list[str]]:
    """Every botocore operation made while active, as service.Operation, in order."""
    operations: list[str] = []
    # botocore-stubs does not declare this private method, hence the lookup through __dict__.
    make_api_call: Callable[..., Any] = BaseClient.__dict__["_make_api_call"]

    def record(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        operations.append(f"{client.meta.service_model.service_name}.{operation_name}")
        return make_api_call(client, operation_name, api_params)

    with mock.patch.object(BaseClient, "_make_api_call", record):
        yield operations


def measure_place_order_calls() -> list[Invocation]:
    invocations: list[Invocation] = []
    # Powertools logs and flushes metrics to stdout and warns about empty metrics on stderr: noise here.
    with in_process_cloud() as cloud, silenced():
        function = load_function(cloud, PLACE_ORDER)
        for label in ("first POST /orders", "replay (same request)"):
            event = sample_event(PLACE_ORDER_EVENT)  # fresh each time, in case the handler mutates it
            with recording_api_calls() as operations:
                try:
                    response = function.invoke(event)
                except Exception as error:
                    raise MeasurementFailed(f"{PLACE_ORDER} raised on the {label}: {error!r}") from error
            invocations.append(Invocation(label, response.get("statusCode"), operations))
    return invocations


def print_api_calls(invocations: list[Invocation]) -> None:
    targets = (FIRST_REQUEST_CALLS_TARGET, REPLAY_CALLS_TARGET)
    print(f"  {PLACE_ORDER} from source, in-process on moto, event events/{PLACE_ORDER_EVENT}")
    print(f"  {'invocation':<24} {'status':>6} {'calls':>5}  {'target':<15} operations")
    for invocation, target in zip(invocations, targets, strict=True):
        count = len(invocation.operations)
        judged = f"<= {target} {verdict(count <= target)}"
        print(
            f"  {invocation.label:<24} {invocation.status!s:>6} {count:>5}  {judged:<15}"
            f" {', '.join(invocation.operations) or '-'}"
        )


# ---------------------------------------------------------------- 3. package size


@dataclass(frozen=True)
class PackageSize:
    files: int
    raw_bytes: int
    zipped_bytes: int


def zipped_size(folder: Path) -> PackageSize:
    """The folder zipped with deflate in memory, as `sam deploy` uploads it."""
    buffer = io.BytesIO()
    files = raw_bytes = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
                files += 1
                raw_bytes += path.stat().st_size
    return PackageSize(files, raw_bytes, len(buffer.getvalue()))


def print_package_sizes(ids: list[str], layer: Path) -> None:
    print(f"  {'package':<30} {'files':>6} {'raw KB':>9} {'zip KB':>8}   target zip <= {FUNCTION_ZIP_KB_TARGET} KB")
    for name, folder in [*((logical_id, built_function(logical_id)) for logical_id in ids), (layer.name, layer)]:
        size = zipped_size(folder)
        zipped_kb = size.zipped_bytes / 1024
        judged = "(layer: for information)" if folder == layer else verdict(zipped_kb <= FUNCTION_ZIP_KB_TARGET)
        print(f"  {name:<30} {size.files:>6} {size.raw_bytes / 1024:>9.1f} {zipped_kb:>8.1f}   {judged}")


# ---------------------------------------------------------------- output


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(action="ignore"),
    ):
        yield


def verdict(within: bool) -> str:
    return "✓ within" if within else "✗ over"


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def print_machine(argv: Sequence[str]) -> None:
    print("Benchmark: cold init, AWS API calls per request, package size, local cloud")
    print(f"  command        {shlex.join([shown(Path(sys.executable)), '-m', 'scripts.bench', *argv])}")
    print(f"  machine        {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(f"  python         {platform.python_implementation()} {platform.python_version()} ({INTERPRETER})")


def print_environment(argv: Sequence[str], layer: Path, functions: Functions, runtime: RuntimeCopy | None) -> None:
    layer_site = layer / "python"
    print_machine(argv)
    print(f"  deployed as    {functions.deployed} (template.yaml)")
    built_pyc = sum(count_pyc(built_function(logical_id)) for logical_id in functions.ids)
    print(
        f"  built .pyc     functions {built_pyc}, {layer.name} {count_pyc(layer)}"
        " (none means Lambda compiles every module it imports from them at each cold start)"
    )
    if runtime is None:
        print("  runtime copy   not prepared (--skip-cold)")
        return
    print(
        f"  boto3 copy     boto3 {version_in(runtime.boto3, 'boto3')}, botocore {version_in(runtime.boto3, 'botocore')}"
        f" as pinned in {DEV_REQUIREMENTS.name} (Lambda's own version is not known offline)"
        f" in {shown(runtime.boto3)}, {count_pyc(runtime.boto3)} .pyc"
    )
    third_party_pyc = count_pyc(runtime.layer) - count_pyc(runtime.layer / "orders")
    same = distributions(runtime.layer) == distributions(layer_site)
    print(
        f"  layer copy     {shown(runtime.layer)}: {third_party_pyc} .pyc (pip), orders/ copied from the build"
        f" with its {count_pyc(runtime.layer / 'orders')} .pyc;"
        f" {'same distributions and versions as' if same else 'DIFFERS from'} {layer.name}:"
    )
    print(f"                 {', '.join(distributions(runtime.layer))}")
    print(
        f"  compiled       built {', '.join(compiled_modules(layer_site))} ->"
        f" here {', '.join(compiled_modules(runtime.layer))} (host-platform equivalents)"
    )
    if count_pyc(layer) == 0 < third_party_pyc:
        print("  note           the layer copy is precompiled and the built layer is not: cold init here leaves out")
        print("                 compiling the layer's modules, which Lambda does at every cold start")


# ---------------------------------------------------------------- main


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive, default=7, help="cold starts per function (default 7)")
    parser.add_argument("--skip-cold", action="store_true", help="skip cold init (and installing its runtime copy)")
    parser.add_argument("--profile", action="store_true", help="name the imports that dominate slow cold inits")
    local = parser.add_mutually_exclusive_group()
    local.add_argument("--skip-local", action="store_true", help="skip the local cloud (section 4)")
    local.add_argument("--only-local", action="store_true", help="run only the local cloud (needs no `sam build`)")
    parser.add_argument(
        "--local-orders",
        type=not_negative,
        default=RUN_ORDERS,
        help=f"orders of the local cloud's concurrent run (default {RUN_ORDERS}; 0 leaves the run out)",
    )
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=PACED_RATE,
        help=f"orders/s arriving in the local cloud's paced phase (default {PACED_RATE:g}; 0 leaves it out)",
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def section(title: str, failures: list[str]) -> Iterator[None]:
    print(f"\n{title}")
    try:
        yield
    except MeasurementFailed as error:
        print(f"  measurement failed: {error}")
        failures.append(title)


LOCAL_TITLE = "4. Local cloud (make local): functions in sandboxes, over HTTP"


def local_cloud_section(run_orders: int, paced_rate: float, failures: list[str]) -> None:
    with section(LOCAL_TITLE, failures):
        try:
            figures = measure_local_cloud(run_orders, paced_rate)
        except (LocalMeasurementFailed, TimeoutError) as error:
            raise MeasurementFailed(str(error)) from error
        print_local_cloud(figures)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    # Template.load's SAM translator warns at exit that its usage metrics went unpublished: noise here.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    # The handlers import the orders package from the layer, as pytest's pythonpath has it.
    sys.path.insert(0, str(ROOT / "layer"))
    failures: list[str] = []
    if args.only_local:
        print_machine(argv)
        print("\n1.-3. skipped (--only-local)")
        local_cloud_section(args.local_orders, args.paced_rate, failures)
        return 1 if failures else 0
    try:
        functions = template_functions()
        layer = built_artifacts(functions)
        runtime = None if args.skip_cold else prepare_runtime_copy(layer / "python")
    except MeasurementFailed as error:
        print(f"measurement failed: {error}")
        return 1
    print_environment(argv, layer, functions, runtime)

    if runtime is not None:
        with section("1. Cold init: fresh interpreter importing the handler module", failures):
            baseline = Subject(BASELINE, "app", runtime.baseline, {})
            subjects = [baseline, *(function_subject(functions, logical_id) for logical_id in functions.ids)]
            samples = measure_cold_init(subjects, runtime, args.runs)
            print_cold_init(samples, args.runs, InitDurations.read())
            if args.profile:
                print_import_profile(subjects, runtime, cpu_ratios(samples))
    else:
        print("\n1. Cold init: skipped (--skip-cold)")

    with section("2. AWS API calls per request", failures):
        print_api_calls(measure_place_order_calls())

    with section("3. Package size: each folder zipped (deflate) in memory", failures):
        print_package_sizes(functions.ids, layer)

    if args.skip_local:
        print("\n4. Local cloud: skipped (--skip-local)")
    else:
        local_cloud_section(args.local_orders, args.paced_rate, failures)

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
