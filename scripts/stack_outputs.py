"""A stack's outputs, by key: how the scripts find tables, secrets and URLs without copying names.

With a stack name, the deployed stack's outputs (CloudFormation). Without one, the running local
cloud's (`make local`): its control endpoint answers the same keys with local values, and this
process's boto3 is pointed at its moto.
"""

from __future__ import annotations

import json
import os
import urllib.request

import boto3

from local_cloud.provision import FAKE_CREDENTIALS

LOCAL_CONTROL_URL = f"http://127.0.0.1:{os.environ.get('LOCAL_CONTROL_PORT', '3001')}"


class NoLocalCloud(SystemExit):
    """Nothing answers at the control URL. A SystemExit, so that a script's user reads one line, not a traceback."""


def stack_outputs(stack: str) -> dict[str, str]:
    [description] = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}


def local_outputs(control_url: str = LOCAL_CONTROL_URL) -> dict[str, str]:
    try:
        with urllib.request.urlopen(f"{control_url}/outputs", timeout=5) as response:  # noqa: S310 - a local URL
            answer = json.load(response)
    except OSError as error:
        raise NoLocalCloud(f"no local cloud answers at {control_url} ({error}): start one with `make local`") from None
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
