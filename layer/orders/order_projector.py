"""The projector's side of the read model: each stored event written to its order's item, a newer version winning.

The query functions read the same items (orders.order_views); the item's attributes are what
orders.order.changes says each event changes, so the aggregate and the read model cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from orders.dynamodb import to_item
from orders.errors import ProjectionGap
from orders.events import DomainEvent, EventType
from orders.order import changes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class OrderProjector:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def apply(self, event: DomainEvent) -> bool:
        """Write what `event` changes unless the view already holds this version or a newer one.

        Returns False for a stale or redelivered event, which is then a no-op.
        """
        changed = changes(event)
        changed.pop("orderId", None)  # the key: named in Key, never in SET
        condition = (
            "attribute_not_exists(orderId) OR #version < :version"
            if event.type is EventType.ORDER_PLACED
            else "attribute_exists(orderId) AND #version < :version"
        )
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key={"orderId": {"S": event.order_id}},
                UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in changed),
                ConditionExpression=condition,
                ExpressionAttributeNames={f"#{name}": name for name in changed},
                ExpressionAttributeValues=to_item({f":{name}": value for name, value in changed.items()}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if "Item" not in error.response:
                raise ProjectionGap(f"order {event.order_id} has no view yet for version {event.version}") from None
            return False
        return True
