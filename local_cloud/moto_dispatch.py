"""Where moto spends, on every request, work whose answer cannot have changed; the local cloud does it once.

Each patch keeps moto's answers and changes only what they cost (measured with py-spy on `make bench`'s
soak, where these were the largest costs of the cloud's process after the HTTP handling itself):

- moto's dispatcher finds each request's service by listing its package directory and testing each entry
  with `isdir` (about 150 system calls), holding the one lock every request waits on: listed once here.
- Each call lists its response class's methods with `inspect.getmembers`: listed once per class.
- Each EventBridge input transformer, on every event, builds a JSONPath parser (PLY reads its tables
  from disk) to parse its paths: each path is parsed once; a parsed path is only read from.
- Each Step Functions execution parses its state machine's definition with the ANTLR grammar again
  (tens of milliseconds): parsed once per definition; the parsed program holds no execution's state
  (that lives in each execution's Environment).
- A DynamoDB Query on a table's key reads, and sorts, every item of the table to keep those of one
  partition: here it reads that partition, so its cost no longer grows with the table.
- Each DynamoDB answer is serialised by walking the operation's output shape value by value (a quarter
  of the process's time): the item operations' answers are already in DynamoDB's JSON form, so here they
  are written as JSON directly (bytes base64-encoded, absent values left out, as the serialiser does);
  an answer holding anything else (a timestamp) still goes through moto's serialiser.
- TransactWriteItems deep-copies every table it touches, whole, before writing, to restore it if the
  transaction fails: here it keeps the items it touches (and the stream's length) and restores those,
  which also no longer undoes other callers' writes made to the table meanwhile.

Some costs grow with what moto keeps (found by comparing py-spy profiles of the soak's first and last
orders): each would make every order slower than the one before, so a long session loses pace.

- A Kinesis shard lists every key it holds to find its newest record (on each PutRecord) and walks
  every record from the oldest to find those after an iterator (on each GetRecords): here the newest is
  the last key, and the records after an iterator are looked up by number (moto numbers a shard's
  records one by one; a shard numbered otherwise is walked as moto does).
- Step Functions finds an execution by walking its state machine's every execution, on each
  StartExecution (a name is used once), DescribeExecution and GetExecutionHistory (the local cloud's
  watcher asks for each running execution's history several times a second), and walks every execution
  of every machine for the running ones on each SendTaskSuccess and SendTaskHeartbeat: here executions
  are found by name and ARN, and the running ones among those after the first still running.
  (SendTaskFailure offers the token to ended executions too, as moto does: a payment's failure is rare.)
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonpath_ng.ext
from jsonpath_ng.ext.parser import parse as parse_json_path
from moto import backends
from moto.core import responses
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import method_names_from_class
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.kinesis.models import Record, Shard
from moto.stepfunctions.exceptions import ExecutionAlreadyExists, ExecutionDoesNotExist
from moto.stepfunctions.models import StateMachine, StepFunctionBackend
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local_cloud.moto_memory import kept_as_aws_keeps
from local_cloud.patching import patched


@contextmanager
def listed_once() -> Iterator[None]:
    """While the block runs, moto's list of its service modules is the one taken at the first request."""
    listing = backends.list_of_moto_modules

    @cache
    def modules() -> frozenset[str]:
        return frozenset(listing())

    def cached() -> Iterable[str]:
        return modules()

    backends.list_of_moto_modules = cached  # same answer, as a set, taken once
    try:
        yield
    finally:
        backends.list_of_moto_modules = listing


def _method_names_listed_once() -> Any:
    return cache(method_names_from_class)  # a class's methods do not change while the cloud runs


# ---------------------------------------------------------------------------------------------- JSONPath

_parsed_path = functools.lru_cache(maxsize=4096)(parse_json_path)


# ---------------------------------------------------------------------------------------------- Step Functions

_programs: dict[str, EvalComponent] = {}
_programs_lock = threading.Lock()


def _every_component(root: EvalComponent) -> Iterator[EvalComponent]:
    """The program's components, each once (they refer to one another through their attributes)."""
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, EvalComponent):
            yield value
        if isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("moto.stepfunctions"):
            stack.extend(vars(value).values())


def _program(definition: str) -> EvalComponent:
    with _programs_lock:
        if definition not in _programs:
            program, _ = AmazonStateLanguageParser.parse(definition)
            for component in _every_component(program):
                # Each component's key in an execution's heap (retry counters) is drawn on first use; drawn
                # here, before any execution shares the program, two executions cannot draw it at once.
                _ = component.heap_key
            _programs[definition] = program
        return _programs[definition]


def _evaluation_entrypoint(worker: ExecutionWorker) -> EvalComponent:
    return _program(worker._evaluation_details.state_machine_details.definition)


RUNNING = "RUNNING"


@dataclass
class _Executions:
    """One state machine's executions by name and ARN, and how many of the first have surely ended.

    moto only appends to a machine's list, and an ended execution never runs again, so each look
    indexes only what was appended since the last.
    """

    listed: list[Any]  # the machine's list this indexes (moto never replaces it; if it did, indexed anew)
    indexed: int = 0
    by_name: dict[str, Any] = field(default_factory=dict)
    by_arn: dict[str, Any] = field(default_factory=dict)
    ended: int = 0  # the first `ended` executions have all ended


_executions: weakref.WeakKeyDictionary[StateMachine, _Executions] = weakref.WeakKeyDictionary()
_executions_lock = threading.Lock()  # an execution starts in one thread while another looks one up


def _indexed(machine: StateMachine) -> _Executions:
    """The machine's index, brought up to date (call it holding _executions_lock)."""
    executions = machine.executions
    index = _executions.get(machine)
    if index is None or index.listed is not executions or index.indexed > len(executions):
        index = _executions[machine] = _Executions(executions)
    for execution in executions[index.indexed :]:
        index.by_name.setdefault(execution.name, execution)  # moto takes the first of a name
        index.by_arn.setdefault(execution.execution_arn, execution)
    index.indexed = len(executions)
    return index


def _name_used_once(machine: StateMachine, name: str, execution_input: str) -> Any:
    """StateMachine._handle_name_input_idempotency, with the execution found by its name."""
    with _executions_lock:
        execution = _indexed(machine).by_name.get(name)
    if execution is None:
        return None
    if execution_input == execution.execution_input and execution.status == RUNNING:
        return execution  # the same name and input while it runs: StartExecution is idempotent
    raise ExecutionAlreadyExists("Execution Already Exists: '" + execution.execution_arn + "'")


def _execution_by_arn(backend: StepFunctionBackend, execution_arn: str) -> Any:
    """StepFunctionBackend.describe_execution, with the execution found by its ARN."""
    backend._validate_execution_arn(execution_arn)
    machine = backend._get_state_machine_for_execution(execution_arn)
    with _executions_lock:
        execution = _indexed(machine).by_arn.get(execution_arn)
    if execution is None:
        raise ExecutionDoesNotExist("Execution Does Not Exist: '" + execution_arn + "'")
    return execution


def _running_after_the_ended(get_executions: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """The backend's executions of a status; the running ones looked for only past those known to have ended."""

    def executions_of(backend: StepFunctionsParserBackend, execution_status: Any = None) -> list[Any]:
        if execution_status != RUNNING:
            return get_executions(backend, execution_status)
        running: list[Any] = []
        for machine in backend.state_machines:
            with _executions_lock:
                index = _indexed(machine)
                while index.ended < index.indexed and index.listed[index.ended].status != RUNNING:
                    index.ended += 1
                since = index.listed[index.ended : index.indexed]
            running += [execution for execution in since if execution.status == RUNNING]
        return running

    return executions_of


# ---------------------------------------------------------------------------------------------- Kinesis


def _newest_sequence_number(shard: Shard) -> int:
    """A shard's records are kept in the order of their numbers: the newest is the last key."""
    return next(reversed(shard.records), 0)


def _oldest_sequence_number(shard: Shard) -> int:
    return next(iter(shard.records), 0)


def _records_by_number(get_records: Callable[..., tuple[list[Record], int, int]]) -> Callable[..., Any]:
    def records_after(shard: Shard, last_sequence_id: str, limit: int | None) -> tuple[list[Record], int, int]:
        records = shard.records
        oldest, newest = next(iter(records), 0), next(reversed(records), 0)
        if newest - oldest + 1 != len(records):  # not numbered one by one, or empty: moto's walk
            return get_records(shard, last_sequence_id, limit)
        after = int(last_sequence_id)
        first = max(after + 1, oldest)
        last = newest if limit is None or limit <= 0 else min(newest, first + limit - 1)  # moto stops at `limit`
        if first > last:
            return [], after, 0
        found = [records[number] for number in range(first, last + 1)]
        behind = records[newest].created_at - found[-1].created_at
        return found, last, int(behind * 1000)

    return records_after


# ---------------------------------------------------------------------------------------------- DynamoDB

_one_partition = threading.local()  # (table, hash key) while a Query on that table's key runs in this thread


def _partition_query(query: Callable[..., Any]) -> Callable[..., Any]:
    def partition_query(table: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(table, hash_key, *args, **kwargs)
        _one_partition.of = (table, hash_key)
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            _one_partition.of = None

    return partition_query


def _partition_items(all_items: Callable[[Table], list[Any]]) -> Callable[[Table], list[Any]]:
    def items(table: Table) -> list[Any]:
        of = getattr(_one_partition, "of", None)
        if of is None or of[0] is not table:
            return all_items(table)
        found = table.items.get(of[1])  # .get: the table's items are a defaultdict
        if found is None:
            return []
        # In moto's order: by range key within the one hash key (the Query keeps only this hash key's items).
        return sorted(found.values(), key=lambda item: item.range_key) if table.range_key_attr else [found]

    return items


# The item operations: their answers hold items (attribute values), counts and keys, nothing timestamped.
_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _present(value: Any) -> Any:
    """The value without its absent (None) members, which the serialiser leaves out of an answer too."""
    if isinstance(value, dict):
        return {key: _present(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_present(item) for item in value]
    return value


def _blob(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is for moto's serialiser")


def _item_answers_as_json(serialized: Callable[..., Any]) -> Callable[..., Any]:
    def answer(handler: BaseResponse, result: ActionResult) -> Any:
        if (
            not isinstance(handler, DynamoHandler)
            or isinstance(result.result, Exception)
            or handler._get_action() not in _ITEM_OPERATIONS
        ):
            return serialized(handler, result)
        try:
            body = json.dumps(_present(result.result), default=_blob)
        except (TypeError, ValueError):
            return serialized(handler, result)
        return 200, {"Content-Type": "application/x-amz-json-1.0", **handler.response_headers}, body

    return answer


def _key_of(backend: DynamoDBBackend, entry: dict[str, Any]) -> tuple[Table, Any, Any] | None:
    """The table and (hash, range) key one TransactItems entry writes, if it names a table that exists."""
    operation: dict[str, Any] = next(iter(entry.values()), {})
    table = backend.tables.get(operation.get("TableName", ""))
    attributes = operation.get("Item") or operation.get("Key") or {}
    if table is None or table.hash_key_attr not in attributes:
        return None
    range_value = attributes.get(table.range_key_attr) if table.range_key_attr else None
    return table, DynamoType(attributes[table.hash_key_attr]), None if range_value is None else DynamoType(range_value)


class _TablesByReference:
    """moto.dynamodb.models' `copy`, except that a Table is not deep-copied: the transaction keeps its items."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_level_transactions(transact: Callable[..., Any]) -> Callable[..., Any]:
    def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        keys = [key for entry in transact_items if (key := _key_of(backend, entry))]
        before = [(table, h, r, copy.deepcopy(table.get_item(h, r))) for table, h, r in keys]
        streams = {id(table): (table, len(table.stream_shard.items)) for table, _, _ in keys if table.stream_shard}
        try:
            return transact(backend, transact_items)
        except Exception:
            for table, hash_key, range_key, item in before:
                _restore(table, hash_key, range_key, item)
            touched = {(id(table), _key_text(h, r)) for table, h, r in keys}
            for table, length in streams.values():
                _unrecord(table, length, touched)
            raise

    return transact_write_items


def _key_text(hash_key: Any, range_key: Any) -> str:
    return json.dumps([hash_key.to_json(), range_key.to_json() if range_key is not None else None], sort_keys=True)


def _unrecord(table: Table, length: int, touched: set[tuple[int, str]]) -> None:
    """Take the failed transaction's records off the table's stream (those since `length` about its keys).

    A record another caller appended meanwhile stays, renumbered into the place the removed ones leave, as
    the stream would have numbered it had the transaction never written.
    """
    shard = table.stream_shard
    assert shard is not None  # noqa: S101 - only tables with a stream are passed
    kept = []
    for record in shard.items[length:]:
        keys = record.record["dynamodb"]["Keys"]
        hash_key = DynamoType(keys[table.hash_key_attr])
        range_key = DynamoType(keys[table.range_key_attr]) if table.range_key_attr else None
        if (id(table), _key_text(hash_key, range_key)) not in touched:
            kept.append(record)
    for position, record in enumerate(kept, start=length):
        record.record["dynamodb"]["SequenceNumber"] = str(shard.starting_sequence_number + position)
    shard.items[length:] = kept


def _restore(table: Table, hash_key: Any, range_key: Any, item: Any) -> None:
    if range_key is not None:
        partition = table.items[hash_key]
        if item is None:
            partition.pop(range_key, None)
            if not partition:
                del table.items[hash_key]
        else:
            partition[range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item


@contextmanager
def lighter_moto() -> Iterator[None]:
    """Every patch of this module, and moto_memory's bounds on what moto keeps, while the block runs."""
    with ExitStack() as stack:
        stack.enter_context(kept_as_aws_keeps())
        stack.enter_context(listed_once())
        stack.enter_context(patched(responses, "method_names_from_class", _method_names_listed_once()))
        stack.enter_context(patched(ExecutionWorker, "_get_evaluation_entrypoint", _evaluation_entrypoint))
        stack.enter_context(patched(jsonpath_ng.ext, "parse", _parsed_path))  # moto.events imports it per call
        stack.enter_context(patched(json_path, "parse", _parsed_path))  # Step Functions' paths
        stack.enter_context(patched(Table, "query", _partition_query(Table.query)))
        stack.enter_context(patched(Table, "all_items", _partition_items(Table.all_items)))
        stack.enter_context(patched(dynamodb_models, "copy", _TablesByReference()))
        transact = _item_level_transactions(DynamoDBBackend.transact_write_items)
        stack.enter_context(patched(DynamoDBBackend, "transact_write_items", transact))
        stack.enter_context(patched(BaseResponse, "serialized", _item_answers_as_json(BaseResponse.serialized)))
        stack.enter_context(patched(StateMachine, "_handle_name_input_idempotency", _name_used_once))
        stack.enter_context(patched(StepFunctionBackend, "describe_execution", _execution_by_arn))
        running = _running_after_the_ended(StepFunctionsParserBackend._get_executions)
        stack.enter_context(patched(StepFunctionsParserBackend, "_get_executions", running))
        stack.enter_context(patched(Shard, "get_max_sequence_number", _newest_sequence_number))
        stack.enter_context(patched(Shard, "get_min_sequence_number", _oldest_sequence_number))
        stack.enter_context(patched(Shard, "get_records", _records_by_number(Shard.get_records)))
        yield
