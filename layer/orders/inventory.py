"""Inventory: stock per SKU and each order's reservation, changed only in transactions.

One table, two kinds of item:
  pk SKU#<sku>     sk STOCK       available, unitPrice (minor units)
  pk ORDER#<id>    sk SKU#<sku>   quantity, unitPrice, state RESERVED | RELEASED
A reservation takes stock and records itself in one transaction, so stock is never taken
without a record of who took it; releasing gives it back in one transaction, once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict

from botocore.exceptions import ClientError

from orders.dynamodb import from_item, to_item
from orders.errors import OutOfStock, TransientFailure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

RESERVED = "RESERVED"
RELEASED = "RELEASED"


class Line(TypedDict):
    sku: str
    quantity: int
    unitPrice: int


class StockItem(TypedDict):
    sku: str
    available: int
    unitPrice: int


def _stock_key(sku: str) -> dict[str, Any]:
    return {"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "STOCK"}}


def _reservation_key(order_id: str, sku: str) -> dict[str, Any]:
    return {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"SKU#{sku}"}}


def _cancellation_codes(error: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


class Inventory:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def stock(self, skus: Iterable[str]) -> dict[str, StockItem]:
        """Current stock and price of each SKU the catalogue has; unknown SKUs are absent."""
        keys = [_stock_key(sku) for sku in sorted(set(skus))]
        found: dict[str, StockItem] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self._table_name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                page = self._client.batch_get_item(RequestItems=request)
                for item in page["Responses"].get(self._table_name, []):
                    record = from_item(item)
                    sku = record["pk"].removeprefix("SKU#")
                    found[sku] = {"sku": sku, "available": record["available"], "unitPrice": record["unitPrice"]}
                request = dict(page.get("UnprocessedKeys", {}))
        return found

    def put_stock(self, sku: str, available: int, unit_price: int) -> None:
        """Set a SKU's stock and price (seeding and restocking)."""
        self._client.put_item(
            TableName=self._table_name,
            Item={**_stock_key(sku), **to_item({"available": available, "unitPrice": unit_price})},
        )

    def reservation(self, order_id: str) -> list[Line]:
        """The order's reserved lines, still held (not released)."""
        page = self._client.query(
            TableName=self._table_name,
            KeyConditionExpression="pk = :order",
            ExpressionAttributeValues={":order": {"S": f"ORDER#{order_id}"}},
            ConsistentRead=True,
        )
        return [
            {"sku": record["sk"].removeprefix("SKU#"), "quantity": record["quantity"], "unitPrice": record["unitPrice"]}
            for record in map(from_item, page["Items"])
            if record["state"] == RESERVED
        ]

    def reserve(self, order_id: str, items: Iterable[dict[str, Any]]) -> list[Line]:
        """Take stock for every line of the order, all or nothing; a repeated call returns the same reservation.

        Raises OutOfStock naming the SKUs that are short or unknown.
        """
        wanted = Counter[str]()
        for item in items:
            wanted[str(item["sku"])] += int(item["quantity"])
        already = self.reservation(order_id)
        if already:
            return already
        stock = self.stock(wanted)
        short = sorted(
            sku for sku, quantity in wanted.items() if stock.get(sku, {"available": 0})["available"] < quantity
        )
        if short:
            raise OutOfStock(f"not enough stock for {', '.join(short)}")
        lines: list[Line] = [
            {"sku": sku, "quantity": quantity, "unitPrice": stock[sku]["unitPrice"]}
            for sku, quantity in sorted(wanted.items())
        ]
        actions: list[TransactWriteItemTypeDef] = []
        for line in lines:
            actions.append(
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": _stock_key(line["sku"]),
                        "UpdateExpression": "SET available = available - :quantity",
                        "ConditionExpression": "available >= :quantity",
                        "ExpressionAttributeValues": {":quantity": {"N": str(line["quantity"])}},
                    }
                }
            )
            actions.append(
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": {
                            **_reservation_key(order_id, line["sku"]),
                            **to_item(
                                {"quantity": line["quantity"], "unitPrice": line["unitPrice"], "state": RESERVED}
                            ),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            if won := self.reservation(order_id):  # a concurrent attempt for this order won: same reservation
                return won
            if "ConditionalCheckFailed" in _cancellation_codes(error):
                raise OutOfStock(f"not enough stock for {', '.join(sorted(wanted))}") from None
            raise TransientFailure(f"inventory transaction for order {order_id} was cancelled; retry") from error
        return lines

    def release(self, order_id: str) -> list[Line]:
        """Give back what the order holds; returns the lines released now ([] when nothing is held)."""
        lines = self.reservation(order_id)
        if not lines:
            return []
        actions: list[TransactWriteItemTypeDef] = []
        for line in lines:
            actions.append(
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": _reservation_key(order_id, line["sku"]),
                        "UpdateExpression": "SET #state = :released",
                        "ConditionExpression": "#state = :reserved",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {":released": {"S": RELEASED}, ":reserved": {"S": RESERVED}},
                    }
                }
            )
            actions.append(
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": _stock_key(line["sku"]),
                        "UpdateExpression": "SET available = available + :quantity",
                        "ExpressionAttributeValues": {":quantity": {"N": str(line["quantity"])}},
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            if not self.reservation(order_id):  # a concurrent release got there first
                return []
            raise TransientFailure(f"releasing order {order_id} was cancelled; retry") from error
        return lines
