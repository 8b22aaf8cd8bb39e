"""Small readers the tests share: sample events, table contents, response bodies."""

from __future__ import annotations

import json
from typing import Any

import boto3

from local_cloud.provision import Cloud
from local_cloud.template import ROOT

EVENTS = ROOT / "events"


def sample_event(path: str) -> dict[str, Any]:
    """An event file under events/, e.g. sample_event("place_order/valid.json")."""
    event: dict[str, Any] = json.loads((EVENTS / path).read_text())
    return event


def all_items(cloud: Cloud, table_logical_id: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    return client.scan(TableName=cloud.physical_id(table_logical_id), ConsistentRead=True)["Items"]


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
