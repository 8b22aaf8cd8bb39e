"""A deployed stack's outputs, by key: how the scripts find tables, secrets and URLs without copying names."""

from __future__ import annotations

import boto3


def stack_outputs(stack: str) -> dict[str, str]:
    [description] = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}
