"""The whole template on in-process moto, for a test or a script: no servers, no ports, nothing left behind.

The tests' one fixture (tests/conftest.py), the walkthrough, the benchmark and the OpenAPI generator run
the cloud this way; `make local` runs the same provisioning behind servers (local_cloud.server).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from moto import mock_aws
from moto.core.config import DefaultConfig

from local_cloud.account import fake_account
from local_cloud.cloud import Cloud
from local_cloud.environment import temporary_environment
from local_cloud.lambda_bridge import invoke_in_process
from local_cloud.provision import aws_client, provision
from local_cloud.rule_targets import deliver_rule_targets
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
        cloud = provision(Template.load(overrides=parameters))
        stack.enter_context(invoke_in_process(cloud.functions))
        stack.enter_context(deliver_rule_targets())
        stack.callback(_stop_running_executions, cloud)  # first on exit, while this cloud's moto still answers
        yield cloud


def _stop_running_executions(cloud: Cloud) -> None:
    """Stop what is still running, so no execution of this cloud takes another step in the next one.

    moto runs each execution in a thread of its own that outlives the cloud: a saga left running by one test
    went on, after its task returned, to compensate an order of the same id in the next test's tables.
    A stopped execution takes no further state (its current task still returns).
    """
    states = aws_client("stepfunctions")  # the provisioning run's client: this cloud's moto
    for machine in _machines(cloud):
        pages = states.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
        for page in pages:
            for execution in page["executions"]:
                _stop(states, execution["executionArn"])


def _stop(states: Any, execution_arn: str, attempts: int = 40) -> None:
    for _ in range(attempts):
        try:
            states.stop_execution(executionArn=execution_arn, cause="the local cloud stopped")
            return
        except AttributeError:  # moto: the execution's thread has not set up its state yet; it will in a moment
            time.sleep(0.05)


def _machines(cloud: Cloud) -> list[str]:
    return [cloud.physical_id(name) for name in cloud.template.of_type("AWS::StepFunctions::StateMachine")]
