"""What the console shows and does, read and done through the AWS APIs the local cloud serves.

Every read is a boto3 call to moto's endpoint (DynamoDB, SQS, EventBridge, Step Functions), or
the local cloud's timeline; every action is a call a client of AWS could make: the orders API
with a demo customer's token, the payment webhook as the sandbox provider signs it, SQS for a
redrive, EventBridge's StartReplay for a replay, and the control endpoint's schedule firing
(EventBridge Scheduler, which moto lacks, is run by the local cloud itself).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3

from drivers.api_client import Customer, request
from drivers.payment_provider import PaymentProvider
from drivers.redrive import NotADeadLetterQueue, destination_of, redrive
from drivers.replay import replay
from drivers.sample_events import sample_event
from local_cloud.account import FAKE_CREDENTIALS
from local_cloud.console.saga import saga_graph, visits
from local_cloud.template import ROOT
from local_cloud.watchers import dead_letter_targets
from orders.dynamodb import from_item
from orders.event_store import EventStore
from orders.webhook import PaymentWebhookType

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

    from local_cloud.server import LocalCloud

SAGA = "OrderFulfillmentStateMachine"
_QUEUE_COUNTS: dict[str, QueueAttributeNameType] = {
    "visible": "ApproximateNumberOfMessages",
    "inFlight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}
_RECENT = 200  # bus events the bus page lists


class ConsoleError(ValueError):
    """Something the console was asked that it cannot do; answered as a 4xx with this message."""


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """As JSON will carry it: datetimes and the like as text."""
    plain: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return plain


class Console:
    def __init__(self, local: LocalCloud) -> None:
        self.local = local
        cloud = local.cloud
        # Explicit endpoint and credentials: each in-process invocation changes os.environ while it runs.
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=FAKE_CREDENTIALS["AWS_REGION"],
        )
        endpoint = local.aws_endpoint
        self._dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self._sqs = session.client("sqs", endpoint_url=endpoint)
        self._events = session.client("events", endpoint_url=endpoint)
        self._states = session.client("stepfunctions", endpoint_url=endpoint)
        template = cloud.template
        self._queues = {lid: str(cloud.physical_id(lid)) for lid in template.of_type("AWS::SQS::Queue")}
        self._queue_of_arn = {str(template.attributes[(lid, "Arn")]): lid for lid in self._queues}
        self._dead_letter_arns = dead_letter_targets(cloud)
        machine = self._states.describe_state_machine(stateMachineArn=str(cloud.physical_id(SAGA)))
        self.graph = saga_graph(json.loads(machine["definition"]))
        self._names = {customer.sub: name for name, customer in local.customers.items()}
        # The sandbox provider, made here in the thread that started the console (it reads the secret at once).
        self._provider = PaymentProvider(local.outputs())

    # ------------------------------------------------------------------------------------------------ orders

    def orders(self, status: str = "", customer: str = "") -> dict[str, Any]:
        table = str(self.local.cloud.physical_id("OrdersTable"))
        items: list[dict[str, Any]] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(from_item(item) for item in page["Items"])
        found = [
            self._summary(order)
            for order in items
            if (not status or order.get("status") == status)
            and (not customer or customer in {order.get("customerId"), self._names.get(str(order.get("customerId")))})
        ]
        found.sort(key=lambda order: str(order["createdAt"]), reverse=True)
        statuses = sorted({str(order.get("status")) for order in items})
        return {"orders": found, "statuses": statuses, "customers": sorted(self.local.customers)}

    def _summary(self, order: dict[str, Any]) -> dict[str, Any]:
        customer = str(order.get("customerId"))
        return _plain(
            {
                "orderId": order["orderId"],
                "status": order.get("status"),
                "customerId": customer,
                "customer": self._names.get(customer, customer),
                "amount": order.get("amount"),
                "currency": order.get("currency"),
                "createdAt": order.get("createdAt"),
                "updatedAt": order.get("updatedAt"),
                "reason": order.get("reason"),
                "trackingId": order.get("trackingId"),
                "fulfilmentId": order.get("fulfilmentId"),
            }
        )

    def order(self, order_id: str) -> dict[str, Any]:
        table = str(self.local.cloud.physical_id("OrdersTable"))
        item = self._dynamodb.get_item(TableName=table, Key={"orderId": {"S": order_id}}).get("Item")
        store = EventStore(self._dynamodb, str(self.local.cloud.physical_id("EventStoreTable")))
        stored = [
            {"type": event.type.value, "version": event.version, "occurredAt": event.occurred_at, "data": event.data}
            for event in store.load(order_id)
        ]
        if item is None and not stored:
            raise ConsoleError(f"no order {order_id}")
        summary = self._summary(from_item(item)) if item else {"orderId": order_id, "status": "(not projected yet)"}
        entries = self.local.timeline.entries(order_id)
        return _plain(
            {
                "order": summary,
                "events": stored,
                "saga": self._execution(summary.get("fulfilmentId")),
                "bus": [
                    {"at": entry.at, "text": entry.text, "event": entry.data}
                    for entry in entries
                    if entry.source == "bus"
                ],
                "messages": [
                    {"at": entry.at, "source": entry.source, "text": entry.text}
                    for entry in entries
                    if entry.source in {"queue", "dlq", "stream"}
                ],
                "timeline": [entry.line() for entry in entries],
            }
        )

    def _execution(self, execution_arn: str | None) -> dict[str, Any]:
        graph = self.graph.as_json()
        if not execution_arn:
            return {"graph": graph, "execution": None, "visits": []}
        described = self._states.describe_execution(executionArn=execution_arn)
        history: list[dict[str, Any]] = []
        for page in self._states.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            history.extend(dict(event) for event in page["events"])
        status = described["status"]
        return {
            "graph": graph,
            "execution": {"arn": execution_arn, "status": status, "startDate": described["startDate"]},
            "visits": [asdict(visit) for visit in visits(history, ended=status != "RUNNING")],
        }

    def sample_order(self) -> dict[str, Any]:
        """The order the place-order form starts from: the API's own sample request."""
        return dict(json.loads(sample_event("place_order/valid.json")["body"]))

    def place_order(self, customer: str, order: dict[str, Any]) -> dict[str, Any]:
        if customer not in self.local.customers:
            raise ConsoleError(f"no demo customer {customer}; there are {sorted(self.local.customers)}")
        answer = Customer(self.local.api_url, self.local.token(customer)).place_order(order, str(uuid.uuid4()))
        return {"status": answer.status, "body": answer.body}

    def pay(self, order_id: str, outcome: str) -> dict[str, Any]:
        try:
            kind = PaymentWebhookType(outcome)
        except ValueError:
            raise ConsoleError(f"outcome is one of {[kind.value for kind in PaymentWebhookType]}") from None
        answer = self._provider.send(order_id, kind, reason="declined by the console's sandbox provider")
        return {"status": answer.status, "body": answer.body}

    # ------------------------------------------------------------------------------------------------ queues

    def queues(self) -> dict[str, Any]:
        rows = []
        for logical_id, url in self._queues.items():
            attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            redrive_policy = json.loads(attributes.get("RedrivePolicy", "null") or "null")
            dead_letter = self._queue_of_arn.get(redrive_policy["deadLetterTargetArn"]) if redrive_policy else None
            row: dict[str, Any] = {
                "queue": logical_id,
                "url": url,
                "fifo": attributes.get("FifoQueue") == "true",
                "isDeadLetterQueue": attributes["QueueArn"] in self._dead_letter_arns,
                "deadLetterQueue": dead_letter,
                "maxReceiveCount": redrive_policy["maxReceiveCount"] if redrive_policy else None,
            }
            row |= {name: int(attributes.get(attribute, "0")) for name, attribute in _QUEUE_COUNTS.items()}
            rows.append(row)
        depth = {row["queue"]: row["visible"] for row in rows}
        for row in rows:
            row["deadLetterDepth"] = depth.get(row["deadLetterQueue"]) if row["deadLetterQueue"] else None
            row["redrivesTo"] = self._redrive_destination(row) if row["isDeadLetterQueue"] else None
        return {"queues": rows}

    def _redrive_destination(self, row: dict[str, Any]) -> str | None:
        try:
            destination = destination_of(self._sqs, row["url"])
        except NotADeadLetterQueue:
            return None  # a rule's, a stream's or a subscription's: SQS's move task does not take those either
        return next((lid for lid, url in self._queues.items() if url == destination), destination)

    def _queue_url(self, logical_id: str) -> str:
        if logical_id not in self._queues:
            raise ConsoleError(f"no queue {logical_id} in the template")
        return self._queues[logical_id]

    def peek(self, logical_id: str) -> dict[str, Any]:
        """The messages waiting in a queue, looked at as the AWS console's "poll for messages" does."""
        url = self._queue_url(logical_id)
        messages = []
        # A visibility timeout of 0 leaves each message where it is: a look, not a consume (it counts as a receive).
        for message in self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            attributes = message.get("Attributes", {})
            messages.append(
                {
                    "messageId": message["MessageId"],
                    "body": message["Body"],
                    "group": attributes.get("MessageGroupId"),
                    "receiveCount": attributes.get("ApproximateReceiveCount"),
                    "sentAt": attributes.get("SentTimestamp"),
                }
            )
        return {"queue": logical_id, "messages": messages}

    def redrive(self, logical_id: str) -> dict[str, Any]:
        try:
            move = redrive(self._sqs, self._queue_url(logical_id))
        except NotADeadLetterQueue as error:
            raise ConsoleError(str(error)) from None
        self.local.timeline.add("dlq", f"{logical_id}: redrive from the console, {move}")
        return {"queue": logical_id, "toMove": move.to_move, "moved": move.moved, "destination": move.destination_url}

    # ------------------------------------------------------------------------------------------------ bus

    def bus(self) -> dict[str, Any]:
        cloud = self.local.cloud
        bus_name = str(cloud.physical_id("OrdersEventBus"))
        rules = []
        for rule in self._events.list_rules(EventBusName=bus_name)["Rules"]:
            targets = self._events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus_name)["Targets"]
            rules.append(
                {
                    "name": rule["Name"],
                    "pattern": json.loads(rule.get("EventPattern", "{}")),
                    "managedBy": rule.get("ManagedBy"),
                    "targets": [target["Arn"] for target in targets],
                }
            )
        archive_name = str(cloud.physical_id("OrdersEventArchive"))
        archive = self._events.describe_archive(ArchiveName=archive_name)
        recent = [entry for entry in self.local.timeline.entries() if entry.source == "bus"][-_RECENT:]
        return _plain(
            {
                "bus": bus_name,
                "rules": rules,
                "archive": {
                    "name": archive_name,
                    "eventCount": archive.get("EventCount"),
                    "retentionDays": archive.get("RetentionDays"),
                    "state": archive.get("State"),
                },
                "replays": self._events.list_replays(EventSourceArn=archive["ArchiveArn"])["Replays"],
                "analytics": self.analytics(),
                "events": [
                    {"at": entry.at, "orderId": entry.order_id, "text": entry.text, "event": entry.data}
                    for entry in reversed(recent)
                ],
            }
        )

    def analytics(self) -> list[dict[str, Any]]:
        table = str(self.local.cloud.physical_id("AnalyticsTable"))
        counters: list[dict[str, Any]] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            counters.extend(from_item(item) for item in page["Items"] if item["id"]["S"].startswith("daily#"))
        return sorted((_plain(counter) for counter in counters), key=lambda counter: str(counter["id"]))

    def replay(self, start: str, end: str) -> dict[str, Any]:
        try:
            since, until = datetime.fromisoformat(start), datetime.fromisoformat(end)
        except ValueError:
            raise ConsoleError("from and to are ISO 8601 times, e.g. 2026-01-31T09:00:00+00:00") from None
        before = self.analytics()
        described = replay(self._events, str(self.local.cloud.physical_id("OrdersEventArchive")), since, until)
        return _plain({"replay": described, "analyticsBefore": before})

    # ------------------------------------------------------------------------------------------------ schedules

    def schedules(self) -> dict[str, Any]:
        schedules = self.local.schedules
        return _plain(
            {
                "schedules": [
                    {
                        "name": name,
                        "nextTime": schedules.next_time(name),
                        "firings": [str(firing) for firing in schedules.firings if firing.schedule == name][-5:],
                    }
                    for name in schedules.names
                ]
            }
        )

    def fire(self, name: str) -> dict[str, Any]:
        answer = request("POST", f"{self.local.control_url}/schedules/{name}/fire")
        if answer.status != 200:
            raise ConsoleError(answer.message or f"control endpoint answered {answer.status}")
        return dict(answer.body)

    # ------------------------------------------------------------------------------------------------ API

    def openapi(self, try_base: str) -> dict[str, Any]:
        spec = json.loads((ROOT / "openapi.json").read_text())
        spec["servers"] = [{"url": try_base, "description": "the local API, through the console"}]
        return dict(spec)

    def token(self, customer: str) -> str:
        if customer not in self.local.customers:
            raise ConsoleError(f"no demo customer {customer}")
        return self.local.token(customer)
