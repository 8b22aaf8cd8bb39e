"""A deployed stack as CloudFormation describes it: its outputs, its resources' physical ids, and both as a Cloud.

The scripts (`make invoke STACK=...`, `make seed STACK=...`) and the end-to-end suite on a stack read a
stack through these, so that no name is copied from one place to another.
"""

from __future__ import annotations

from typing import Any

import boto3

from local_cloud.cloud import Cloud
from local_cloud.template import Template


def stack_outputs(stack: str, cloudformation: Any = None) -> dict[str, str]:
    """The stack's outputs by key; `cloudformation` is a client of a session of one's own (default: boto3's)."""
    client = cloudformation or boto3.client("cloudformation")
    [description] = client.describe_stacks(StackName=stack)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}


def stack_physical_ids(stack: str, cloudformation: Any = None) -> dict[str, str]:
    """Logical id -> physical id (what !Ref gives) of every resource of the stack and of each stack nested in it.

    A nested application's resources are listed under their own stack; their logical ids are unique across
    the whole application (local_cloud.template refuses a repeated one), so one mapping holds them all.
    """
    client = cloudformation or boto3.client("cloudformation")
    physical_ids: dict[str, str] = {}
    for page in client.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            physical_ids[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
            if resource["ResourceType"] == "AWS::CloudFormation::Stack" and resource.get("PhysicalResourceId"):
                physical_ids |= stack_physical_ids(resource["PhysicalResourceId"], client)
    return physical_ids


def stack_cloud(stack: str) -> Cloud:
    """A deployed stack seen as a Cloud: the template with the stack's parameters and physical ids."""
    cloudformation = boto3.client("cloudformation")
    [description] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    parameters = {item["ParameterKey"]: item["ParameterValue"] for item in description.get("Parameters", [])}
    cloud = Cloud(Template.load(overrides=parameters))
    cloud.template.physical_ids.update(stack_physical_ids(stack, cloudformation))
    return cloud
