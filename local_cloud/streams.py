"""DynamoDB Streams -> Lambda, as an event source mapping delivers them.

Reads the table's stream from moto, keeps records the mapping's filter accepts, and hands
them to the function in batches of the mapping's size, shaped as Lambda receives them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from local_cloud.functions import LocalFunction
from local_cloud.provision import Cloud


def _matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """EventBridge-style pattern matching, the subset filter criteria use here: exact values and nesting."""
    for key, expected in pattern.items():
        value = record.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not _matches(expected, value):
                return False
        elif value not in expected:
            return False
    return True


@dataclass
class StreamMapping:
    """One AWS::Lambda::EventSourceMapping from a DynamoDB stream to a function."""

    function: LocalFunction
    stream_arn: str
    batch_size: int
    filters: list[dict[str, Any]]
    _iterators: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_template(cls, cloud: Cloud, function: LocalFunction) -> StreamMapping:
        for spec in cloud.template.of_type("AWS::Lambda::EventSourceMapping").values():
            properties = cloud.template.resolve(spec["Properties"])
            if properties["FunctionName"] == function.name and ":dynamodb:" in properties["EventSourceArn"]:
                return cls(
                    function=function,
                    stream_arn=properties["EventSourceArn"],
                    batch_size=int(properties.get("BatchSize", 100)),
                    filters=[
                        json.loads(item["Pattern"]) for item in properties.get("FilterCriteria", {}).get("Filters", [])
                    ],
                )
        raise LookupError(f"{function.logical_id} has no DynamoDB stream mapping in the template")

    def poll(self) -> list[dict[str, Any]]:
        """Every record written since the last poll that the filters accept, in stream order."""
        streams = boto3.client("dynamodbstreams")
        records: list[dict[str, Any]] = []
        for shard in streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            iterator = (
                self._iterators.get(shard_id)
                or streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            page = streams.get_records(ShardIterator=iterator)
            self._iterators[shard_id] = page["NextShardIterator"]
            records.extend({**record, "eventSourceARN": self.stream_arn} for record in page["Records"])
        return [record for record in records if not self.filters or any(_matches(f, record) for f in self.filters)]

    def deliver(self) -> list[dict[str, Any]]:
        """Poll and invoke the function once per batch; returns each invocation's response."""
        records = self.poll()
        return [
            self.function.invoke({"Records": records[start : start + self.batch_size]})
            for start in range(0, len(records), self.batch_size)
        ]
