"""A deployed stack's resources by logical id, the resources of the stacks nested in it included."""

from __future__ import annotations

from typing import Any


def stack_physical_ids(cloudformation: Any, stack: str) -> dict[str, str]:
    """What !Ref gives for each resource of a deployed stack and of every stack nested in it, by logical id.

    A nested application's resources are listed under their own stack; their logical ids are unique across
    the whole application (local_cloud.template refuses a repeated one), so one mapping holds them all.
    """
    physical_ids: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            physical_ids[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
            if resource["ResourceType"] == "AWS::CloudFormation::Stack" and resource.get("PhysicalResourceId"):
                physical_ids |= stack_physical_ids(cloudformation, resource["PhysicalResourceId"])
    return physical_ids
