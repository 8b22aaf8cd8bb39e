"""The local event source mappings deliver with AWS's semantics, on the template's own mappings and consumers.

Each test makes a real consumer fail on purpose (its collaborator replaced by one that fails) and checks what
the mapping then does. Proven elsewhere, and not repeated here:

- a record failed in an SQS batch (partial batch response) is the only one delivered again, the others are
  deleted: tests/handlers/test_notifications.py (NotificationsQueue) and tests/handlers/test_analytics.py
  (AnalyticsQueue);
- Lambda's SQS event shape, unreadable responses, FIFO on ad-hoc queues: tests/local_cloud/test_queues.py;
- every dead-letter queue has an alarm on the alarm topic: tests/unit/test_reliability.py.
"""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import pytest

from drivers.bus_tap import BusTap
from drivers.payment_provider import signed_delivery
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.queues import Invocation, QueueMapping
from local_cloud.streams import StreamInvocation, StreamMapping
from local_cloud.timeline import Timeline
from local_cloud.watchers import report_invocation
from orders.payment_events import Settlement
from orders.webhook import PaymentWebhookType, WebhookDelivery
from tests.support import body, failed_with, sample_event, webhook_secret, with_header

ALWAYS = 1_000  # failures a "poison" collaborator has in store: more than any retry policy allows

# ------------------------------------------------------------------------------------------ reading the template


def resource_with(cloud: Cloud, resource_type: str, attribute: str, value: Any) -> str:
    """The logical id of the resource of `resource_type` whose provisioned `attribute` is `value`."""
    [logical_id] = [
        logical_id
        for logical_id in cloud.template.of_type(resource_type)
        if cloud.template.attributes.get((logical_id, attribute)) == value
    ]
    return logical_id


def mapping_properties(cloud: Cloud, function: LocalFunction) -> dict[str, Any]:
    """The function's AWS::Lambda::EventSourceMapping, resolved."""
    return cloud.template.event_source_mapping(function.name)


def redrive_policy(cloud: Cloud, queue: str) -> dict[str, Any]:
    policy: dict[str, Any] = cloud.template.resolve(cloud.template.properties(queue)["RedrivePolicy"])
    return policy


def alarms_on_queue(cloud: Cloud, queue: str) -> list[dict[str, Any]]:
    """The template's CloudWatch alarms on an AWS/SQS metric of `queue` (by its QueueName dimension), resolved."""
    name = cloud.template.attributes[(queue, "QueueName")]
    alarms = []
    for logical_id in cloud.template.of_type("AWS::CloudWatch::Alarm"):
        properties = cloud.template.properties(logical_id)
        dimensions = {d["Name"]: cloud.template.resolve(d["Value"]) for d in properties.get("Dimensions", [])}
        if properties.get("Namespace") == "AWS/SQS" and dimensions.get("QueueName") == name:
            alarms.append(properties)
    return alarms


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
# The SQS metrics an alarm may watch, and the queue attribute that gives their current value.
SQS_METRIC_ATTRIBUTES: dict[str, Literal["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]] = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
}


def breaches(alarm: dict[str, Any], queue_url: str) -> bool:
    """Whether the queue's current value of the alarm's metric is past the alarm's threshold."""
    attribute = SQS_METRIC_ATTRIBUTES[alarm["MetricName"]]
    value = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[attribute])["Attributes"]
    return COMPARISONS[alarm["ComparisonOperator"]](float(value[attribute]), float(alarm["Threshold"]))


def bodies_in(queue_url: str) -> list[str]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [message["Body"] for message in messages]


def waiting(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


# ---------------------------------------------------------------------------------- the payment events queue (FIFO)


@dataclass
class Settler:
    """Stands between the payment-events consumer and its settler: records every webhook it is asked to settle,
    fails the ones it was told to (as a ledger that is briefly unreachable would), and settles the others for real."""

    settle_for_real: Callable[[WebhookDelivery], Settlement]
    failures: dict[str, int] = field(default_factory=dict)  # webhook id -> failures left
    asked: list[str] = field(default_factory=list)

    def settle(self, delivery: WebhookDelivery) -> Settlement:
        self.asked.append(delivery.id)
        if self.failures.get(delivery.id, 0) > 0:
            self.failures[delivery.id] -= 1
            raise ConnectionError("the payments ledger is unreachable")
        return self.settle_for_real(delivery)

    def asked_about(self, webhooks: list[str]) -> list[str]:
        return [webhook for webhook in self.asked if webhook in webhooks]


class PaymentEvents:
    """Webhooks queued by the real webhook function (grouped by order) and the queue's real consumer and mapping."""

    def __init__(self, cloud: Cloud, function: Callable[[str], LocalFunction], monkeypatch: pytest.MonkeyPatch):
        self.cloud = cloud
        self._receiver = function("ReceivePaymentWebhookFunction")
        consumer = function("ProcessPaymentEventsFunction")
        self.mapping = QueueMapping.from_template(cloud, consumer)
        self.queue = resource_with(cloud, "AWS::SQS::Queue", "Arn", self.mapping.queue_arn)
        self.settler = Settler(consumer.module.settler.settle)
        monkeypatch.setattr(consumer.module.settler, "settle", self.settler.settle)
        self._secret = webhook_secret(cloud)

    def webhook(self, order_id: str) -> str:
        """A provider's webhook about `order_id` (its message group), through the real function; returns its id."""
        event_id = f"evt_{uuid.uuid4().hex}"
        delivery = signed_delivery(self._secret, order_id, PaymentWebhookType.SUCCEEDED, 100, "USD", event_id=event_id)
        event = sample_event("receive_payment_webhook/unsigned.json")
        event["body"] = delivery.body
        for name, value in delivery.headers.items():
            event = with_header(event, name, value)
        response = self._receiver.invoke(event)
        assert response["statusCode"] == 202, response["body"]
        return str(body(response)["id"])

    @property
    def dead_letter_queue(self) -> str:
        return resource_with(
            self.cloud, "AWS::SQS::Queue", "Arn", redrive_policy(self.cloud, self.queue)["deadLetterTargetArn"]
        )


@pytest.fixture
def payment_events(
    cloud: Cloud, function: Callable[[str], LocalFunction], monkeypatch: pytest.MonkeyPatch
) -> PaymentEvents:
    return PaymentEvents(cloud, function, monkeypatch)


def webhook_ids(invocation: Invocation, message_ids: tuple[str, ...]) -> list[str]:
    return [
        json.loads(record["body"])["id"] for record in invocation.event["Records"] if record["messageId"] in message_ids
    ]


def test_a_failed_webhook_holds_back_the_rest_of_its_order_but_not_other_orders(
    payment_events: PaymentEvents,
) -> None:
    assert payment_events.cloud.template.properties(payment_events.queue)["FifoQueue"] is True
    a1, b1, a2, b2, a3 = (payment_events.webhook(order) for order in ("order-a", "order-b") * 2 + ("order-a",))
    payment_events.settler.failures[a1] = 1

    invocations = payment_events.mapping.deliver()

    # Order A's webhooks are settled in the order they arrived, the later ones only once the first succeeded.
    assert payment_events.settler.asked_about([a1, a2, a3]) == [a1, a1, a2, a3]
    first = invocations[0]
    assert webhook_ids(first, first.message_ids) == [a1, b1, a2, b2, a3]
    # Order B is settled in the first batch: A's failure holds back A's webhooks alone.
    assert webhook_ids(first, first.failed) == [a1, a2, a3]
    assert payment_events.settler.asked_about([b1, b2]) == [b1, b2]
    assert [webhook_ids(invocation, invocation.message_ids) for invocation in invocations[1:]] == [[a1, a2, a3]]
    assert waiting(payment_events.mapping.queue_url) == 0


def test_a_webhook_that_keeps_failing_reaches_the_dead_letter_queue_after_max_receive_count_and_breaches_its_alarm(
    payment_events: PaymentEvents,
) -> None:
    cloud = payment_events.cloud
    max_receive_count = redrive_policy(cloud, payment_events.queue)["maxReceiveCount"]
    poison, later, other = (payment_events.webhook(order) for order in ("order-a", "order-a", "order-b"))
    payment_events.settler.failures[poison] = ALWAYS

    invocations = payment_events.mapping.deliver()

    assert payment_events.settler.asked_about([poison]) == [poison] * max_receive_count
    assert payment_events.settler.asked_about([later, other]) == [other]
    # Received in every batch with the poison (a FIFO batch carries its group in order) and skipped each time,
    # the later webhook of the same order reaches its receive count too: the DLQ keeps the group's order.
    assert len(invocations) == max_receive_count
    assert waiting(payment_events.mapping.queue_url) == 0
    dead_letter_url = cloud.physical_id(payment_events.dead_letter_queue)
    # What the DLQ's alarm watches is past its threshold (checked before reading, which hides the messages).
    alarms = alarms_on_queue(cloud, payment_events.dead_letter_queue)
    assert [alarm["MetricName"] for alarm in alarms] == ["ApproximateNumberOfMessagesVisible"]
    assert all(breaches(alarm, dead_letter_url) for alarm in alarms)
    assert [json.loads(text)["id"] for text in bodies_in(dead_letter_url)] == [poison, later]


# ------------------------------------------------------------------------------------ the event store's stream


def place_orders(function: Callable[[str], LocalFunction], count: int) -> list[str]:
    """`count` orders through the real API function, each written to the event store as one OrderPlaced."""
    order_ids = []
    for number in range(count):
        event = with_header(sample_event("place_order/valid.json"), "Idempotency-Key", f"delivery-semantics-{number}")
        response = function("PlaceOrderFunction").invoke(event)
        assert response["statusCode"] == 201, response["body"]
        order_ids.append(str(body(response)["orderId"]))
    return order_ids


def order_of(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["NewImage"]["aggregateId"]["S"])


def orders_in(invocation: StreamInvocation) -> list[str]:
    return [order_of(record) for record in invocation.event["Records"]]


def failure_records(cloud: Cloud, properties: dict[str, Any]) -> list[dict[str, Any]]:
    """What the mapping's on-failure destination (a queue) received."""
    queue = resource_with(cloud, "AWS::SQS::Queue", "Arn", properties["DestinationConfig"]["OnFailure"]["Destination"])
    return [json.loads(text) for text in bodies_in(cloud.physical_id(queue))]


def test_a_stream_batch_whose_function_fails_is_bisected_the_rest_published_and_the_poison_record_discarded(
    cloud: Cloud, function: Callable[[str], LocalFunction], monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = function("PublishEventsFunction")
    properties = mapping_properties(cloud, publisher)
    assert properties["BisectBatchOnFunctionError"] is True
    retries = properties["MaximumRetryAttempts"]
    first, poison, third, fourth = place_orders(function, 4)
    put_on_bus = publisher.module.publisher.publish

    def bus_refusing_the_poison(events: Any) -> Any:
        if any(event.order_id == poison for event in events):
            raise ConnectionError("EventBridge is unreachable")  # the handler lets it through: a function error
        return put_on_bus(events)

    monkeypatch.setattr(publisher.module.publisher, "publish", bus_refusing_the_poison)
    tap = BusTap(cloud.physical_id("OrdersEventBus"))

    invocations = StreamMapping.from_template(cloud, publisher).deliver_invocations()

    # The whole batch fails, then each half on its own, down to the poison record alone.
    assert [orders_in(invocation) for invocation in invocations[:3]] == [
        [first, poison, third, fourth],
        [first, poison],
        [first],
    ]
    alone = [invocation for invocation in invocations if orders_in(invocation) == [poison]]
    assert len(alone) == 1 + retries  # splitting used up no retry; the retries are the single record's
    assert all(failed_with(invocation.error, ConnectionError) for invocation in alone)
    assert orders_in(invocations[-1]) == [third, fourth]
    assert sorted(event["detail"]["orderId"] for event in tap.drain()) == sorted([first, third, fourth])
    [discarded] = failure_records(cloud, properties)
    poison_record = alone[0].event["Records"][0]
    assert discarded["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert discarded["requestContext"]["approximateInvokeCount"] == 1 + retries
    assert discarded["responseContext"]["functionError"] == "Unhandled"
    batch = discarded["DDBStreamBatchInfo"]
    assert (batch["startSequenceNumber"], batch["endSequenceNumber"], batch["batchSize"]) == (
        poison_record["dynamodb"]["SequenceNumber"],
        poison_record["dynamodb"]["SequenceNumber"],
        1,
    )
    assert batch["streamArn"] == properties["EventSourceArn"]


def test_a_stream_record_reported_failed_is_retried_from_there_and_then_discarded_with_the_rest_of_its_batch(
    cloud: Cloud, function: Callable[[str], LocalFunction], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial batch response moves the checkpoint to the failed record; what follows it is retried with it."""
    projector = function("ProjectOrdersFunction")
    properties = mapping_properties(cloud, projector)
    assert "ReportBatchItemFailures" in properties["FunctionResponseTypes"]
    retries = properties["MaximumRetryAttempts"]
    first, poison, third, fourth = place_orders(function, 4)
    apply_to_view = projector.module.projector.apply

    def view_refusing_the_poison(event: Any) -> bool:
        if event.order_id == poison:
            raise ConnectionError("the orders table is unreachable")  # one record fails; the batch goes on
        return bool(apply_to_view(event))

    monkeypatch.setattr(projector.module.projector, "apply", view_refusing_the_poison)

    invocations = StreamMapping.from_template(cloud, projector).deliver_invocations()

    assert orders_in(invocations[0]) == [first, poison, third, fourth]
    assert [orders_in(invocation) for invocation in invocations[1:]] == [[poison, third, fourth]] * retries
    assert not any(invocation.succeeded for invocation in invocations)
    views = boto3.client("dynamodb").scan(TableName=cloud.physical_id("OrdersTable"))["Items"]
    assert sorted(item["orderId"]["S"] for item in views) == sorted([first, third, fourth])
    [discarded] = failure_records(cloud, properties)
    batch = discarded["DDBStreamBatchInfo"]
    records = invocations[-1].event["Records"]
    assert (batch["startSequenceNumber"], batch["endSequenceNumber"], batch["batchSize"]) == (
        records[0]["dynamodb"]["SequenceNumber"],
        records[-1]["dynamodb"]["SequenceNumber"],
        3,
    )
    assert "functionError" not in discarded["responseContext"]  # the function answered; it did not raise
    # The timeline tells the same story, record by record.
    timeline = Timeline(out=None)
    for invocation in invocations:
        report_invocation(timeline, "ProjectOrdersFunction", invocation)
    assert [entry.text.split(": ", 1)[1] for entry in timeline.entries(first)] == ["ok"]
    told = [entry.text.split(": ", 1)[1] for entry in timeline.entries(poison)]
    assert len(told) == 1 + retries
    assert all(line.startswith("failed (partial batch failure)") for line in told)
    assert [line.endswith("discarded to the on-failure destination") for line in told] == [False] * retries + [True]
