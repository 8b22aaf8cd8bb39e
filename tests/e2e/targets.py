"""Where the end-to-end suite runs: the local cloud as `make local` runs it, a stack on ministack, or on AWS.

E2E_TARGET picks it: `sandboxes` by default (the local cloud with each function in worker processes of its
own, under its own role with IAM enforced: what `make local` runs), `local` (the same servers with the
functions in this process), `ministack` or `aws`; E2E_STACK names the deployed stack.
`make e2e STACK=<name>` and `make deploy-check` set both. On a stack, everything comes from the stack
itself: the API URL, pool, app client and tables from its outputs and resources, two customers created
through Cognito's own API (and deleted afterwards), stock from seed/inventory.json, and the webhook
secret from Secrets Manager (drivers.payment_provider.PaymentProvider reads it).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from drivers.customers import DemoLogin, seed_customer, sign_in
from drivers.seed import seed_inventory
from local_cloud.account import FAKE_CREDENTIALS
from local_cloud.server import LocalCloud, running_local_cloud
from local_cloud.template import Template
from local_cloud.timeline import Timeline
from orders.inventory import Inventory
from tools import ministack_gaps
from tools.deployed_stack import stack_outputs, stack_physical_ids
from tools.ministack_gaps import Semantics

CUSTOMERS = ("alice", "bob")


@dataclass
class Target:
    """What the suite needs of wherever the application runs."""

    name: str
    api_url: str
    outputs: dict[str, str]
    session: boto3.session.Session  # for the few direct reads of a table or queue
    endpoint_url: str | None  # None: AWS itself
    tokens: dict[str, str]  # customer name -> Cognito ID token
    physical_ids: Mapping[str, str]  # logical id -> what !Ref gives
    template: Template
    local: LocalCloud | None = None  # the local cloud, when that is the target
    missing: Mapping[Semantics, str] = field(default_factory=dict)  # semantics it does not apply, and why
    started_at: float = field(default_factory=lambda: time.time() - 60)  # a minute's grace for clock skew
    _inputs: dict[str, str] = field(default_factory=dict)  # execution ARN -> its input (inputs never change)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def requires(self, semantics: Semantics) -> None:
        """Skip the calling scenario, with the reason, where this target does not apply `semantics`."""
        if semantics in self.missing:
            pytest.skip(f"on {self.name}: {self.missing[semantics]}")

    def only_local(self) -> LocalCloud:
        """The local cloud, for a test about the local cloud itself; elsewhere a skip that says so."""
        if self.local is None:
            pytest.skip(f"about the local cloud itself (its timeline, reloads, banner), not {self.name}")
        return self.local

    def saga_ended(self, order_id: str) -> bool:
        """Whether the fulfilment execution of this order has stopped."""
        if self.local is not None:
            return any(
                entry.source == "saga" and entry.text.startswith("Execution")  # ExecutionSucceeded, ExecutionFailed...
                for entry in self.local.timeline.entries(order_id)
            )
        states = self.client("stepfunctions")
        arn = self._execution_of(states, order_id)
        return arn is not None and states.describe_execution(executionArn=arn)["status"] != "RUNNING"

    def _execution_of(self, states: Any, order_id: str) -> str | None:
        """The ARN of the order's fulfilment execution, once it has started; each execution's input read once."""
        machine = self.outputs["FulfillmentStateMachineArn"]
        pages = states.get_paginator("list_executions").paginate(stateMachineArn=machine)  # newest first
        for execution in (execution for page in pages for execution in page["executions"]):
            arn = execution["executionArn"]
            if arn in self._inputs or execution["startDate"].timestamp() < self.started_at:
                break  # older ones were read before, or started before this suite
            self._inputs[arn] = states.describe_execution(executionArn=arn).get("input", "")
        return next((arn for arn, given in self._inputs.items() if order_id in given), None)


@contextmanager
def local_target(sandboxes: bool = True) -> Iterator[Target]:
    with running_local_cloud(0, 0, 0, timeline=Timeline(out=None), watch_code=False, sandboxes=sandboxes) as local:
        yield Target(
            name="the local cloud",
            api_url=local.api_url,
            outputs=local.outputs(),
            # Endpoint, region and credentials given rather than read from os.environ, which each in-process
            # invocation changes for its duration.
            session=boto3.session.Session(
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                region_name=FAKE_CREDENTIALS["AWS_REGION"],
            ),
            endpoint_url=local.aws_endpoint,
            tokens={name: local.token(name) for name in CUSTOMERS},
            physical_ids={logical_id: str(value) for logical_id, value in local.cloud.template.physical_ids.items()},
            template=local.cloud.template,
            local=local,
        )


def _password() -> str:
    """A throwaway password that meets the pool's policy (12+ characters, upper, lower, digit)."""
    return f"{secrets.token_urlsafe(18)}Aa1"


@contextmanager
def stack_target(stack: str, on_ministack: bool) -> Iterator[Target]:
    """A deployed stack, with two customers of its own that are deleted afterwards."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL") if on_ministack else None
    if on_ministack and not endpoint:
        raise pytest.UsageError("E2E_TARGET=ministack needs AWS_ENDPOINT_URL, ministack's URL")
    session = boto3.session.Session()
    cloudformation = session.client("cloudformation")
    outputs = stack_outputs(stack, cloudformation)
    if endpoint:
        outputs = {key: ministack_gaps.api_url(value, endpoint) for key, value in outputs.items()}
    physical_ids = stack_physical_ids(stack, cloudformation)  # the nested stacks' resources too
    seed_inventory(Inventory(session.client("dynamodb"), outputs["InventoryTableName"]))
    pool_id = outputs["UserPoolId"]
    run = f"{int(time.time())}-{secrets.token_hex(3)}"
    logins = {name: DemoLogin(f"e2e-{name}-{run}@example.com", _password()) for name in CUSTOMERS}
    try:
        customers = {name: seed_customer(pool_id, login) for name, login in logins.items()}
        yield Target(
            name=f"stack {stack} on {'ministack' if on_ministack else 'AWS'}",
            api_url=outputs["ApiUrl"],
            outputs=outputs,
            session=session,
            endpoint_url=endpoint,
            tokens={
                name: sign_in(outputs["UserPoolClientId"], customer.username, customer.password)
                for name, customer in customers.items()
            },
            physical_ids=physical_ids,
            template=Template.load(),
            missing=ministack_gaps.MISSING_SEMANTICS if on_ministack else {},
        )
    finally:
        idp = session.client("cognito-idp")
        for login in logins.values():
            with suppress(idp.exceptions.UserNotFoundException):  # its creation failed
                idp.admin_delete_user(UserPoolId=pool_id, Username=login.email)


def target_from_environment() -> AbstractContextManager[Target]:
    kind = os.environ.get("E2E_TARGET", "sandboxes")
    if kind in {"sandboxes", "local"}:  # local: the functions in this process instead of their own
        return local_target(sandboxes=kind == "sandboxes")
    if kind not in {"ministack", "aws"}:
        raise pytest.UsageError(f"E2E_TARGET={kind}: expected sandboxes, local, ministack or aws")
    stack = os.environ.get("E2E_STACK")
    if not stack:
        raise pytest.UsageError(f"E2E_TARGET={kind} needs E2E_STACK, the deployed stack's name")
    return stack_target(stack, on_ministack=kind == "ministack")
