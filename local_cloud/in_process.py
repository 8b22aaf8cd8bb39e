"""The whole template on in-process moto, for a test or a script: no servers, no ports, nothing left behind.

The tests' one fixture (tests/conftest.py), the walkthrough, the benchmark and the OpenAPI generator run
the cloud this way; `make local` runs the same provisioning behind servers (local_cloud.server).

A process provisions each set of parameters once: the first cloud of a set is provisioned, and moto's
state then is kept (local_cloud.snapshot); every later cloud of the set starts from a fresh copy of that
state, with a fresh copy of the provisioned template and its own functions, loaded anew.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import clear_caches as clear_powertools_caches
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from local_cloud.account import fake_account
from local_cloud.cloud import Cloud
from local_cloud.dynamodb_atomicity import atomic_dynamodb
from local_cloud.environment import temporary_environment
from local_cloud.functions import timeout_of
from local_cloud.lambda_bridge import invoke_in_process
from local_cloud.moto_state import execution_takes_a_stop
from local_cloud.patching import patched
from local_cloud.provision import aws_client, provision
from local_cloud.rule_targets import deliver_rule_targets
from local_cloud.setup_costs import share_parsed_models
from local_cloud.snapshot import MotoSnapshot, restore, take
from local_cloud.template import Template

# moto runs state machines (instead of only recording executions) when asked to.
MOTO_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}


@contextmanager
def in_process_cloud(parameters: dict[str, Any] | None = None) -> Iterator[Cloud]:
    """template.yaml provisioned on in-process moto, with fake credentials, restored on exit.

    `parameters` override the template's defaults, as `sam deploy --parameter-overrides` would.
    The template's functions answer moto's Lambda Invoke, and rules deliver to state machines and topics.
    """
    with ExitStack() as stack:
        stack.enter_context(temporary_environment(fake_account()))
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        stack.enter_context(atomic_dynamodb())  # moto's Step Functions threads call handlers beside the test's
        cloud, states = _provisioned(parameters or {})
        stack.enter_context(invoke_in_process(cloud.functions))
        stack.enter_context(deliver_rule_targets())
        stack.enter_context(_steps_invoke_while_running(_longest_timeout(cloud)))  # on exit: once they are stopped
        stack.callback(_stop_running_executions, cloud, states)  # first on exit, while this cloud's moto still answers
        yield cloud


@dataclass(frozen=True)
class _Provisioned:
    """What provisioning a set of parameters made: moto's state and the template with its physical ids."""

    moto: MotoSnapshot
    template: bytes  # the provisioned Template, pickled: unpickling is a deep copy at a quarter of deepcopy's cost
    not_provisioned: dict[str, str]
    # The provisioning run's Step Functions client, made under this module's environment: in-process moto.
    # (local_cloud.provision's own clients are remade by any later provisioning, e.g. a server's, elsewhere.)
    states: Any


_PROVISIONED: dict[tuple[tuple[str, Any], ...], _Provisioned] = {}  # by the parameters, sorted


def _provisioned(parameters: dict[str, Any]) -> tuple[Cloud, Any]:
    """The template on the moto just started (provisioned the first time, restored from its snapshot after),
    and a Step Functions client of it."""
    key = tuple(sorted(parameters.items()))
    if (kept := _PROVISIONED.get(key)) is None:
        cloud = provision(Template.load(overrides=parameters))
        states = aws_client("stepfunctions")
        _PROVISIONED[key] = _Provisioned(take(), pickle.dumps(cloud.template), dict(cloud.not_provisioned), states)
        return cloud, states
    restore(kept.moto)
    share_parsed_models()  # as provisioning would: the handlers' clients reuse the parsed service models
    # Warm handlers' cached secrets and clients belong to the previous cloud.
    clear_powertools_caches()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
    cloud = Cloud(pickle.loads(kept.template), dict(kept.not_provisioned))  # noqa: S301 - made above, from our own
    return cloud, kept.states


def _stop_running_executions(cloud: Cloud, states: Any) -> None:
    """Stop what is still running, so no execution of this cloud takes another step in the next one.

    moto runs each execution in a thread of its own that outlives the cloud: a saga left running by one test
    went on, after its task returned, to compensate an order of the same id in the next test's tables.
    A stopped execution takes no further state, and its current step invokes nothing more (the exit waits
    for an invocation under way: `_steps_invoke_while_running`).
    """
    for machine in _machines(cloud):
        pages = states.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
        for page in pages:
            for execution in page["executions"]:
                _stop(states, execution["executionArn"])


# moto takes a stop only once the execution's thread has parsed its definition and entered its first state: before
# its state exists the stop raises AttributeError, and from then until the first state it is silently dropped.
# That takes milliseconds on a quiet machine and seconds on a loaded one, where an execution the exit gave up on
# (or thought stopped) went on, with the same deterministic order id, into the next test's cloud.
STOPPABLE_WITHIN_SECONDS = 60.0


def _stop(states: Any, execution_arn: str) -> None:
    deadline = time.monotonic() + STOPPABLE_WITHIN_SECONDS
    while not execution_takes_a_stop(execution_arn):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{execution_arn} could not be stopped within {STOPPABLE_WITHIN_SECONDS} s")
        time.sleep(0.02)
    states.stop_execution(executionArn=execution_arn, cause="the local cloud stopped")


def _machines(cloud: Cloud) -> list[str]:
    return [cloud.physical_id(name) for name in cloud.template.of_type("AWS::StepFunctions::StateMachine")]


class ExecutionNotRunning(RuntimeError):
    """A step of an execution that has ended (stopped, timed out) was about to invoke its function."""


@contextmanager
def _steps_invoke_while_running(longest_seconds: float) -> Iterator[None]:
    """A Lambda step invokes its function only while its execution runs; the exit waits for the invocations under way.

    moto runs each step in a thread of its own that outlives the cloud. A step still invoking when its cloud
    ended ran on against the next cloud's moto, even while that was being restored: its handler's first call
    made moto a new, empty DynamoDB account as the restore put the provisioned one back, and every call of the
    next test then failed with ResourceNotFoundException. A step of a stopped execution that had not invoked
    yet would have invoked the next cloud's function (the bridge answers every Invoke in the process).
    """
    invoke = lambda_eval_utils.execute_lambda_function_integration
    changed = threading.Condition()
    invoking: set[threading.Thread] = set()

    def invoke_while_running(env: Any, **call: Any) -> None:
        with changed:
            if not env.is_running():
                raise ExecutionNotRunning(env.states.context_object.context_object_data["Execution"]["Id"])
            invoking.add(threading.current_thread())
        try:
            invoke(env=env, **call)
        finally:
            with changed:
                invoking.discard(threading.current_thread())
                changed.notify_all()

    with patched(lambda_eval_utils, "execute_lambda_function_integration", invoke_while_running):
        try:
            yield
        finally:
            with changed:  # an invocation returns within its function's Timeout (unless its handler hangs)
                if not changed.wait_for(lambda: not invoking, timeout=longest_seconds):
                    raise RuntimeError(f"{len(invoking)} step(s) still invoking {longest_seconds} s after the cloud")


def _longest_timeout(cloud: Cloud) -> float:
    """The longest Timeout of the template's functions, in seconds."""
    functions = cloud.template.of_type("AWS::Lambda::Function")  # from the template: loading them would cost more
    return max(timeout_of(cloud.template.properties(function)) for function in functions)
