"""AWS::Scheduler::Schedule on moto, as CloudFormation creates it; !Ref is its name, !GetAtt Arn its ARN."""

from __future__ import annotations

from typing import Any

import boto3

from local_cloud.scheduler.expressions import instant
from local_cloud.stack import Attributes, Provisioner


def _schedule(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    """The schedule as CloudFormation creates it; !Ref is its name, !GetAtt Arn its ARN."""
    request: dict[str, Any] = {
        "Name": properties.get("Name", logical_id),
        "ScheduleExpression": properties["ScheduleExpression"],
        "FlexibleTimeWindow": properties["FlexibleTimeWindow"],
        "Target": properties["Target"],
        "State": properties.get("State", "ENABLED"),
    }
    for name in ("GroupName", "Description", "ScheduleExpressionTimezone", "KmsKeyArn"):
        if name in properties:
            request[name] = properties[name]
    for name in ("StartDate", "EndDate"):  # ISO strings in the template, timestamps in the API
        if name in properties:
            request[name] = instant(properties[name])
    client: Any = boto3.client("scheduler")  # no type stubs for Scheduler are installed
    arn = client.create_schedule(**request)["ScheduleArn"]
    return request["Name"], {"Arn": arn}


PROVISIONERS: dict[str, Provisioner] = {"AWS::Scheduler::Schedule": _schedule}
