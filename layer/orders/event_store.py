"""The event store: the only writer of order state. One item per event, keyed by order and version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from orders.dynamodb import from_item, to_item
from orders.errors import VersionConflict
from orders.events import DomainEvent, EventType

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _to_record(event: DomainEvent) -> dict[str, Any]:
    return {
        "aggregateId": event.order_id,
        "version": event.version,
        "eventId": event.event_id,
        "type": event.type.value,
        "occurredAt": event.occurred_at,
        "correlationId": event.correlation_id,
        "data": event.data,
    }


def _from_record(record: dict[str, Any]) -> DomainEvent:
    return DomainEvent(
        type=EventType(record["type"]),
        order_id=record["aggregateId"],
        version=int(record["version"]),
        correlation_id=record["correlationId"],
        data=record["data"],
        event_id=record["eventId"],
        occurred_at=record["occurredAt"],
    )


def event_from_stream_record(record: Mapping[str, Any]) -> DomainEvent:
    """The event a DynamoDB Streams record carries (the stream's view type is NEW_IMAGE)."""
    return _from_record(from_item(record["dynamodb"]["NewImage"]))


class EventStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def load(self, order_id: str) -> list[DomainEvent]:
        """Every event of one order, oldest first, read strongly consistent."""
        events: list[DomainEvent] = []
        query: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "aggregateId = :id",
            "ExpressionAttributeValues": {":id": {"S": order_id}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**query)
            events.extend(_from_record(from_item(item)) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return events
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def append(self, event: DomainEvent) -> None:
        """Store `event` unless its version is taken (optimistic concurrency)."""
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=to_item(_to_record(event)),
                ConditionExpression="attribute_not_exists(version)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise VersionConflict(event.order_id, event.version) from error
            raise
