"""The local Kinesis mapping delivers the order activity stream with Lambda's semantics, tumbling windows included.

Every test runs the template's own rule (bus -> stream), mapping and sales aggregator; a failure is made on
purpose by replacing one collaborator of the aggregator with one that fails. The mapping's `clock` stands in for
time passing: records arrive now, and a window closes once the clock is past its end. The clock stands at
the test's start until the test moves it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest

from local_cloud import streams
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.streams import StreamInvocation, StreamMapping
from local_cloud.timeline import Timeline
from local_cloud.watchers import report_invocation
from orders.analytics import timed_sale_from
from orders.events import DomainEvent, EventType
from orders.sales_windows import MinuteTotals, SalesPerMinute
from tests.support import ALICE

MINUTE = "2026-11-22T13:20"
ALWAYS = 1_000  # failures a poison collaborator has in store: more than any retry policy allows


def completed(order_id: str, amount: int, currency: str = "EUR") -> DomainEvent:
    return DomainEvent(
        type=EventType.ORDER_COMPLETED,
        order_id=order_id,
        version=6,
        correlation_id="correlation-1",
        data={"customerId": ALICE, "amount": amount, "currency": currency},
        occurred_at=f"{MINUTE}:30.000Z",
    )


def reserved(order_id: str, version: int = 2) -> DomainEvent:
    """An order event that sells nothing (and, unlike OrderPlaced, starts no saga on the bus)."""
    return DomainEvent(
        type=EventType.INVENTORY_RESERVED,
        order_id=order_id,
        version=version,
        correlation_id="correlation-1",
        data={"lines": [{"sku": "SKU-1", "quantity": 1}]},
    )


def detail_of(record: dict[str, Any]) -> dict[str, Any]:
    """The order event a Kinesis record carries: the data is the EventBridge event, base64-encoded."""
    detail: dict[str, Any] = json.loads(base64.b64decode(record["kinesis"]["data"]))["detail"]
    return detail


class Activity:
    """The bus, the order activity stream behind it, and the aggregator's mapping, table and DLQ."""

    def __init__(self, cloud: Cloud, function: Callable[[str], LocalFunction]) -> None:
        self.cloud = cloud
        self.aggregator = function("AggregateSalesFunction")
        self.mapping = StreamMapping.from_template(cloud, self.aggregator)
        # The clock stands still until a test moves it: a minute's end passing in real time mid-test would
        # otherwise close a record's tumbling window and add that final invocation to the test's batches.
        started = time.time()
        self.mapping.clock = lambda: started
        self.sales: SalesPerMinute = self.aggregator.module.sales
        self.dead_letters = str(cloud.physical_id("AggregateSalesDeadLetterQueue"))

    def publish(self, *events: DomainEvent) -> None:
        """Put events on the bus as the outbox publisher does; the template's rule puts them on the stream."""
        answer = boto3.client("events").put_events(
            Entries=[
                {
                    "Source": str(self.cloud.template.mappings["Events"]["Bus"]["Source"]),
                    "DetailType": event.type.value,
                    "Detail": json.dumps(event.envelope()),
                    "EventBusName": str(self.cloud.physical_id("OrdersEventBus")),
                }
                for event in events
            ]
        )
        assert answer["FailedEntryCount"] == 0

    def put_raw(self, data: bytes, partition_key: str) -> None:
        boto3.client("kinesis").put_record(
            StreamName=str(self.cloud.physical_id("OrderActivityStream")), Data=data, PartitionKey=partition_key
        )

    def deliver(self) -> list[StreamInvocation]:
        return self.mapping.deliver_invocations()

    def close_windows(self) -> list[StreamInvocation]:
        """Let time pass the open windows' end, and deliver."""
        self.mapping.clock = lambda: time.time() + 2 * self.mapping.tumbling_window_seconds
        return self.deliver()

    def totals(self, currency: str = "EUR") -> MinuteTotals:
        return self.sales.read(MINUTE, currency)

    def dead_lettered(self) -> list[dict[str, Any]]:
        messages = boto3.client("sqs").receive_message(QueueUrl=self.dead_letters, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


@pytest.fixture
def activity(cloud: Cloud, function: Callable[[str], LocalFunction]) -> Activity:
    return Activity(cloud, function)


def orders() -> list[str]:
    return [str(uuid.uuid4()) for _ in range(8)]


def keys_of(invocation: StreamInvocation) -> list[str]:
    return [record["kinesis"]["partitionKey"] for record in invocation.event["Records"]]


class Failing:
    """Stands in for the aggregator's reading of a sale: fails for the chosen events, so many times each."""

    def __init__(self, failures: dict[str, int]) -> None:
        self.failures = failures

    def __call__(self, envelope: Any) -> Any:
        if self.failures.get(envelope["eventId"], 0) > 0:
            self.failures[envelope["eventId"]] -= 1
            raise ConnectionError("briefly unavailable")
        return timed_sale_from(envelope)


# ------------------------------------------------------------------------------------------- the rule, the stream


def test_the_rule_puts_every_order_event_on_the_stream_under_its_order_id(activity: Activity) -> None:
    first, second = orders()[:2]
    activity.publish(reserved(first), completed(first, 100), reserved(second))

    records = [record for invocation in activity.deliver() for record in invocation.event["Records"]]

    assert sorted(record["kinesis"]["partitionKey"] for record in records) == sorted([first, first, second])
    bus_event = json.loads(__import__("base64").b64decode(records[0]["kinesis"]["data"]))
    # The rule puts the whole bus event: its envelope, with the order event as its detail.
    assert {"id", "detail-type", "source", "time", "detail"} <= set(bus_event)
    assert bus_event["detail"]["orderId"] in {first, second}


# ------------------------------------------------------------------------------------------------ lanes, batches


def fixed_orders(count: int) -> list[str]:
    """Order ids the same on every run: which shard and lane an id lands in is a hash of it, so with random
    ids "some shard's orders went in two lanes" held only most of the time (8 random ids: about 19 runs in 20).
    """
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"order-{number}")) for number in range(count)]


def test_one_orders_events_stay_in_order_and_in_one_lane_of_its_shard(activity: Activity) -> None:
    # Without the tumbling window: the records' arrival is moto's real time, and publishing across a minute's end
    # (a loaded machine makes that likelier) put an order's later versions in the next window, a batch of its own.
    activity.mapping = replace(activity.mapping, tumbling_window_seconds=0)
    ids = fixed_orders(16)
    for version in range(1, 4):
        for first in range(0, len(ids), 8):  # PutEvents takes up to 10 entries
            activity.publish(*(reserved(order, version) for order in ids[first : first + 8]))

    invocations = activity.deliver()

    lanes_of: dict[str, set[int]] = {}
    versions_of: dict[str, list[int]] = {}
    for number, invocation in enumerate(invocations):
        for record in invocation.event["Records"]:
            detail = detail_of(record)
            lanes_of.setdefault(detail["orderId"], set()).add(number)
            versions_of.setdefault(detail["orderId"], []).append(detail["version"])
    assert all(len(batches) == 1 for batches in lanes_of.values()), "one order's events are in one batch here"
    assert all(versions == [1, 2, 3] for versions in versions_of.values())
    shards = {record["eventID"].split(":")[0] for invocation in invocations for record in invocation.event["Records"]}
    assert len(invocations) > len(shards), "ParallelizationFactor 2: some shard's orders went in two lanes"


def test_batches_hold_at_most_the_batch_size(activity: Activity) -> None:
    activity.mapping = replace(activity.mapping, batch_size=2, parallelization_factor=1)
    order = orders()[0]
    activity.publish(*(reserved(order, version) for version in range(1, 6)))

    sizes = [len(invocation.event["Records"]) for invocation in activity.deliver()]

    assert sizes == [2, 2, 1]


def test_a_shard_holding_more_than_a_page_is_read_to_its_end_before_any_new_record(
    activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full page may leave records behind it: the next pass reads again though nothing new arrived; a page
    that was not full ends the reading until the stream gets a record."""
    monkeypatch.setattr(streams, "PAGE_RECORDS", 2)
    activity.mapping = replace(activity.mapping, tumbling_window_seconds=0, batch_size=10)
    order = orders()[0]
    activity.publish(*(reserved(order, version) for version in range(1, 6)))
    gets: list[str] = []
    kinesis = boto3.client("kinesis")
    kinesis.meta.events.register("before-call.kinesis.GetRecords", lambda **_: gets.append("GetRecords"))
    activity.mapping._client = kinesis  # the client its reads use

    delivered = [
        detail_of(record)["version"] for _ in range(4) for i in activity.deliver() for record in i.event["Records"]
    ]

    assert delivered == [1, 2, 3, 4, 5]
    reads = len(gets)
    assert activity.deliver() == []
    assert len(gets) == reads, "a pass after a page that was not full read the stream though nothing arrived"


def test_a_batch_waits_for_its_batching_window_unless_it_is_full(activity: Activity) -> None:
    activity.mapping.wait_for_batching_window = True
    activity.publish(reserved(orders()[0]))

    assert activity.deliver() == [], "one record, well before MaximumBatchingWindowInSeconds"
    activity.mapping.clock = lambda: time.time() + activity.mapping.batching_window_seconds
    # Near a minute's end the later clock also closes the record's tumbling window: that final invocation
    # (no records) is the window's, not a batch.
    batches = [invocation for invocation in activity.deliver() if not invocation.closes_window]
    assert [len(invocation.event["Records"]) for invocation in batches] == [1]


# ---------------------------------------------------------------------------------------------- tumbling windows


def test_a_window_carries_its_state_between_batches_and_writes_once_when_it_closes(activity: Activity) -> None:
    activity.mapping = replace(activity.mapping, batch_size=1, parallelization_factor=1)
    order = orders()[0]
    activity.publish(completed(order, 100), completed(order, 250, "USD"))

    first, second = activity.deliver()
    assert first.event["state"] == {}
    assert second.event["state"] == first.response["state"]
    assert activity.totals().orders == 0, "nothing is written while the window is open"

    [final] = activity.close_windows()
    assert final.closes_window
    assert final.event["Records"] == []
    assert final.event["state"] == second.response["state"]
    assert activity.close_windows() == [], "a closed window is not closed again"
    assert (activity.totals(), activity.totals("USD")) == (
        MinuteTotals(MINUTE, "EUR", 1, 100),
        MinuteTotals(MINUTE, "USD", 1, 250),
    )


def test_an_event_put_on_the_stream_twice_counts_once(activity: Activity) -> None:
    sale = completed(orders()[0], 100)
    activity.publish(sale)
    activity.publish(sale)  # EventBridge delivers at least once

    activity.deliver()
    activity.close_windows()

    assert activity.totals() == MinuteTotals(MINUTE, "EUR", 1, 100)


def test_a_failing_final_invocation_keeps_the_window_and_is_made_again_until_it_writes(
    activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_for_real, attempts = activity.sales.write_window, []

    def write_once_unreachable(*args: Any) -> bool:
        attempts.append(args)
        if len(attempts) == 1:
            raise ConnectionError("the table is briefly unreachable")
        return write_for_real(*args)

    monkeypatch.setattr(activity.sales, "write_window", write_once_unreachable)
    activity.publish(completed(orders()[0], 100))
    activity.deliver()

    [failed] = activity.close_windows()
    assert not failed.succeeded
    assert activity.totals().orders == 0
    [closed] = activity.close_windows()
    assert closed.succeeded
    assert activity.totals() == MinuteTotals(MINUTE, "EUR", 1, 100)


# ------------------------------------------------------------------------------------- retries, bisection, poison


def test_totals_are_exact_when_a_record_fails_and_its_batch_is_retried_from_it(
    activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity.mapping = replace(activity.mapping, parallelization_factor=1)
    order = orders()[0]  # one partition key: one shard, one batch
    sales = [completed(order, 100) for _ in range(3)]
    monkeypatch.setattr(activity.aggregator.module, "timed_sale_from", Failing({sales[1].event_id: 2}))
    activity.publish(*sales)

    invocations = activity.deliver()
    activity.close_windows()

    assert any(invocation.response and invocation.response["batchItemFailures"] for invocation in invocations)
    assert activity.totals() == MinuteTotals(MINUTE, "EUR", 3, 300)


def test_totals_are_exact_when_a_function_error_bisects_the_batch(
    activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity.mapping = replace(activity.mapping, parallelization_factor=1)
    handler, calls = activity.aggregator.module.lambda_handler, []

    def crashing_on_the_first_whole_batch(event: dict[str, Any], context: Any) -> Any:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise MemoryError("the batch was too big for the sandbox")
        return handler(event, context)

    monkeypatch.setattr(activity.aggregator.module, "lambda_handler", crashing_on_the_first_whole_batch)
    order = orders()[0]  # one partition key: one shard, one batch
    activity.publish(*(completed(order, 100) for _ in range(4)))

    activity.deliver()
    activity.close_windows()

    assert calls[:3] == [4, 2, 2], "the failed batch was delivered again as two halves"
    assert activity.totals() == MinuteTotals(MINUTE, "EUR", 4, 400)


def test_a_poison_record_reaches_the_on_failure_destination_without_blocking_its_shard(activity: Activity) -> None:
    activity.mapping = replace(activity.mapping, parallelization_factor=1)
    order = orders()[0]
    activity.publish(completed(order, 100))
    activity.put_raw(b"not an order event", partition_key=order)

    invocations = activity.deliver()
    retries = activity.mapping.maximum_retry_attempts
    assert retries is not None
    activity.publish(completed(orders()[1], 250))
    activity.deliver()
    activity.close_windows()

    assert len(invocations) == 1 + retries, "tried, retried, then discarded"
    [failure] = activity.dead_lettered()
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
    assert failure["KinesisBatchInfo"]["streamArn"] == activity.mapping.stream_arn
    assert activity.totals() == MinuteTotals(MINUTE, "EUR", 2, 350), "the records around the poison count"


def test_records_older_than_the_maximum_record_age_are_discarded_without_an_invocation(activity: Activity) -> None:
    activity.publish(completed(orders()[0], 100))
    age = activity.mapping.maximum_record_age_seconds
    assert age is not None
    activity.mapping.clock = lambda: time.time() + age + 1

    assert activity.deliver() == []
    [failure] = activity.dead_lettered()
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"


def test_the_timeline_names_each_order_event_the_aggregator_was_given_and_each_window_it_closed(
    activity: Activity,
) -> None:
    order = orders()[0]
    activity.publish(completed(order, 100))
    timeline = Timeline(out=None)

    for invocation in activity.deliver() + activity.close_windows():
        report_invocation(timeline, "AggregateSalesFunction", invocation)

    texts = [entry.text for entry in timeline.entries()]
    assert "AggregateSalesFunction <- OrderCompleted v6: ok" in texts
    assert [entry.order_id for entry in timeline.entries() if "OrderCompleted" in entry.text] == [order]
    assert any(text.startswith("AggregateSalesFunction <- window ") and text.endswith(" closed: ok") for text in texts)
