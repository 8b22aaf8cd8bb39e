"""Payments: the provider behind a small interface, and the ledger of each order's payment.

The ledger (PaymentsTable) holds one item per order: the payment's state, the provider's
payment id and the task token the waiting fulfilment execution gave us. Every state change
is conditional, so a redelivered webhook or a retried step changes nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from orders.dynamodb import from_item, to_item
from orders.errors import PaymentDeclined

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class PaymentState(StrEnum):
    REQUESTED = "REQUESTED"  # the provider has it; its webhook will say how it ended
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"
    # The saga stopped waiting (timeout, cancel, expiry) before the provider answered:
    # a capture arriving now is unwanted and is refunded on arrival (orders/payment_events.py).
    ABANDONED = "ABANDONED"


@dataclass(frozen=True)
class Payment:
    order_id: str
    state: PaymentState
    payment_id: str
    amount: int  # minor units (cents)
    currency: str
    task_token: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Payment:
        record = from_item(item)
        return cls(
            order_id=record["orderId"],
            state=PaymentState(record["state"]),
            payment_id=record["paymentId"],
            amount=int(record["amount"]),
            currency=record["currency"],
            task_token=record.get("taskToken"),
        )


class PaymentProvider(Protocol):
    """What the saga needs from a payment provider. Both calls are idempotent per order id."""

    def request_payment(self, order_id: str, amount: int, currency: str, card_token: str | None) -> str:
        """Start charging; returns the provider's payment id. The outcome arrives later by webhook."""
        ...

    def refund(self, payment_id: str, amount: int, currency: str) -> str:
        """Give a captured payment back; returns the refund id."""
        ...


# Documented in the README: the card tokens the sandbox answers differently.
SANDBOX_DECLINED_TOKEN = "tok_declined"  # noqa: S105 - a public sandbox card token; declined before any webhook


class SandboxPaymentProvider:
    """A deterministic stand-in for a real provider: no network, same answer for the same order.

    Any card token other than `tok_declined` is accepted and stays pending until a webhook
    (`make webhook`) says it succeeded or failed. Replace this class with your provider's client.
    """

    def request_payment(self, order_id: str, amount: int, currency: str, card_token: str | None) -> str:
        del amount, currency  # the sandbox charges any amount in any currency
        if card_token == SANDBOX_DECLINED_TOKEN:
            raise PaymentDeclined(f"card {card_token} was declined")
        return sandbox_payment_id(order_id)

    def refund(self, payment_id: str, amount: int, currency: str) -> str:
        del amount, currency  # the sandbox always refunds in full
        return "re_" + payment_id.removeprefix("pay_")


def sandbox_payment_id(order_id: str) -> str:
    """The id the sandbox gives an order's payment; webhooks for that order carry it."""
    return "pay_" + hashlib.sha256(order_id.encode()).hexdigest()[:24]


class PaymentLedger:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def get(self, order_id: str) -> Payment | None:
        item = self._client.get_item(
            TableName=self._table_name, Key={"orderId": {"S": order_id}}, ConsistentRead=True
        ).get("Item")
        return Payment.from_item(item) if item else None

    def record_request(self, payment: Payment) -> bool:
        """Store a requested payment with the token to resume with; a retried step only replaces the token.

        Returns False when the payment has already ended (its token is no longer waited on).
        """
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=to_item(
                    {
                        "orderId": payment.order_id,
                        "state": PaymentState.REQUESTED.value,
                        "paymentId": payment.payment_id,
                        "amount": payment.amount,
                        "currency": payment.currency,
                        "taskToken": payment.task_token,
                    }
                ),
                ConditionExpression="attribute_not_exists(orderId) OR #state = :requested",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":requested": {"S": PaymentState.REQUESTED.value}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def record_declined(self, order_id: str, amount: int, currency: str) -> None:
        """A payment the provider refused outright: nothing to refund, nothing to wait for."""
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item(
                {
                    "orderId": order_id,
                    "state": PaymentState.DECLINED.value,
                    "paymentId": "",
                    "amount": amount,
                    "currency": currency,
                }
            ),
        )

    def settle(self, order_id: str, outcome: PaymentState) -> Payment | None:
        """Move a requested payment to CAPTURED or DECLINED; the same outcome again is a no-op that still answers.

        Returns None when there is no such payment or it already ended differently.
        """
        return self._transition(order_id, {PaymentState.REQUESTED, outcome}, outcome)

    def abandon(self, order_id: str) -> Payment | None:
        """Stop waiting for a requested payment; None when it has already ended (its webhook won the race)."""
        return self._transition(order_id, {PaymentState.REQUESTED}, PaymentState.ABANDONED)

    def capture_abandoned(self, order_id: str) -> Payment | None:
        """Record a capture nobody waits for any more, so that it can be refunded; None unless abandoned."""
        return self._transition(order_id, {PaymentState.ABANDONED}, PaymentState.CAPTURED)

    def mark_refunded(self, order_id: str) -> Payment | None:
        return self._transition(order_id, {PaymentState.CAPTURED, PaymentState.REFUNDED}, PaymentState.REFUNDED)

    def _transition(self, order_id: str, allowed: set[PaymentState], to: PaymentState) -> Payment | None:
        names = {f":from{i}": {"S": state.value} for i, state in enumerate(sorted(allowed))}
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key={"orderId": {"S": order_id}},
                UpdateExpression="SET #state = :to",
                ConditionExpression=f"attribute_exists(orderId) AND #state IN ({', '.join(names)})",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":to": {"S": to.value}, **names},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        return Payment.from_item(response["Attributes"])
