"""The read model as the query functions read it: one item per order, kept by orders.order_projector.

Apart from the projector's side so that the query functions import no domain event (orders.events).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orders.dynamodb import from_item, to_item
from orders.errors import InvalidRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_PAGE_KEY_NAMES = frozenset({"orderId", "customerId", "createdAt"})


@dataclass(frozen=True)
class Page:
    orders: list[dict[str, Any]]
    next_token: str | None


def encode_page_token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(from_item(last_key)).encode()).decode()


def decode_page_token(token: str, customer_id: str) -> dict[str, Any]:
    """The DynamoDB start key inside a token; a token from another customer or edited by hand is refused."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest("nextToken is not a token this API issued") from None
    # Each key attribute is a string: any other type is a start key DynamoDB refuses (and moto's server
    # answers with a 500, which the SDK retried for 26 seconds before this check).
    if (
        not isinstance(key, dict)
        or set(key) != _PAGE_KEY_NAMES
        or not all(isinstance(value, str) for value in key.values())
        or key["customerId"] != customer_id
    ):
        raise InvalidRequest("nextToken is not a token this API issued")
    return to_item(key)


class OrderViews:
    def __init__(self, client: DynamoDBClient, table_name: str, by_customer_index: str = "") -> None:
        self._client = client
        self._table_name = table_name
        self._by_customer_index = by_customer_index

    def get(self, order_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table_name, Key={"orderId": {"S": order_id}}).get("Item")
        return from_item(item) if item else None

    def list_for_customer(self, customer_id: str, limit: int, next_token: str | None = None) -> Page:
        """One page of a customer's orders, newest first."""
        query: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": self._by_customer_index,
            "KeyConditionExpression": "customerId = :customer",
            "ExpressionAttributeValues": {":customer": {"S": customer_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if next_token:
            query["ExclusiveStartKey"] = decode_page_token(next_token, customer_id)
        page = self._client.query(**query)
        last_key = page.get("LastEvaluatedKey")
        return Page(
            orders=[from_item(item) for item in page["Items"]],
            next_token=encode_page_token(last_key) if last_key else None,
        )
