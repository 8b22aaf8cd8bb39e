"""POST /orders/{orderId}/cancel: cancel an order while its state allows it.

A fulfilment waiting for the payment outcome is told at once, so it compensates now
rather than when its payment wait times out. When no fulfilment runs any more, the
cancel gives the money and the stock back itself.
"""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders import commands, saga
from orders.api import CheckedRequest, caller_id, correlation_id, create_resolver
from orders.api_operations import CANCEL_ORDER
from orders.config import Setting, setting
from orders.event_store import EventStore
from orders.fulfilments import Fulfilments
from orders.inventory import Inventory
from orders.lazy_client import lazy_client
from orders.payments import PaymentLedger, SandboxPaymentProvider
from orders.task_tokens import TaskCallbacks

logger = Logger()
dynamodb = boto3.client("dynamodb")
# Only a cancel whose order a fulfilment still holds calls Step Functions: the client is made then.
states = lazy_client(lambda: boto3.client("stepfunctions"))
store = EventStore(dynamodb, setting(Setting.EVENT_STORE_TABLE))
compensator = saga.Compensator(
    store=store,
    ledger=PaymentLedger(dynamodb, setting(Setting.PAYMENTS_TABLE)),
    provider=SandboxPaymentProvider(),  # replace with your payment provider's adapter
    inventory=Inventory(dynamodb, setting(Setting.INVENTORY_TABLE)),
)
callbacks = TaskCallbacks(states)
fulfilments = Fulfilments(states)
app = create_resolver()


@app.serve(CANCEL_ORDER)
def cancel_order(checked: CheckedRequest) -> dict[str, Any]:
    correlation = correlation_id(app.current_event)
    order = commands.cancel_order(store, caller_id(app.current_event), checked.path["orderId"], correlation)
    order = saga.hand_back_cancelled(compensator, callbacks, fulfilments, order, correlation)
    return order.view


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
