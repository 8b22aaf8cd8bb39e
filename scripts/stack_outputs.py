"""A stack's outputs, by key: how the scripts find tables, secrets and URLs without copying names.

With a stack name, the deployed stack's outputs (CloudFormation). Without one, the running local
cloud's (`make local`): its control endpoint answers the same keys with local values, and this
process's boto3 is pointed at its moto.
"""

from __future__ import annotations

import os

import boto3

from local_cloud.account import FAKE_CREDENTIALS
from scripts.local_control import LOCAL_CONTROL_URL, ask
from tools.deployed_stack import stack_outputs


def local_outputs(control_url: str = LOCAL_CONTROL_URL) -> dict[str, str]:
    """The running local cloud's outputs; raises NoLocalCloud (a one-line SystemExit) when none answers."""
    answer = ask("/outputs", control_url=control_url)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = answer["endpoint"]
    return dict(answer["outputs"])


def outputs_of(stack: str | None) -> dict[str, str]:
    """A deployed stack's outputs, or the local cloud's when no stack is named."""
    return stack_outputs(stack) if stack else local_outputs()


def stack_resource(stack: str, logical_id: str) -> str:
    """The physical id of one resource of a deployed stack: a queue's URL, an archive's name."""
    described = boto3.client("cloudformation").describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return described["StackResourceDetail"]["PhysicalResourceId"]
