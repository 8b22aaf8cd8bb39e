"""The sales aggregator: per-minute sales per currency, written once per closed window, nothing counted twice.

These call the handler as Lambda's tumbling windows do, one invocation at a time with the state the
previous one returned. tests/local_cloud/test_kinesis_delivery.py runs the same consumer behind the
local cloud's Kinesis mapping (retries, bisection, the on-failure destination, closing windows).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from orders.sales_windows import MinuteTotals, SalesPerMinute
from tests.support import item_count, sample_event

MINUTE = "2026-11-22T13:20"  # the minute the sample events' orders completed in


@pytest.fixture
def aggregator(function: Callable[[str], LocalFunction]) -> LocalFunction:
    return function("AggregateSalesFunction")


@pytest.fixture
def sales(aggregator: LocalFunction) -> SalesPerMinute:
    """The consumer's own table, configured by the template."""
    table: SalesPerMinute = aggregator.module.sales
    return table


def with_state(path: str, state: dict[str, Any], shard_id: str | None = None) -> dict[str, Any]:
    event = sample_event(path)
    event["state"] = copy.deepcopy(state)
    if shard_id is not None:
        event["shardId"] = shard_id
    return event


def close(aggregator: LocalFunction, state: dict[str, Any], shard_id: str | None = None) -> Any:
    return aggregator.invoke(with_state("aggregate_sales/window_closed.json", state, shard_id))


def test_a_window_counts_its_completed_orders_and_writes_them_when_it_closes(
    aggregator: LocalFunction, sales: SalesPerMinute
) -> None:
    state = aggregator.invoke(sample_event("aggregate_sales/window_batch.json"))["state"]
    assert sales.read(MINUTE, "EUR").orders == 0, "nothing is written while the window is open"

    assert close(aggregator, state) == {"batchItemFailures": [], "state": {}}

    assert sales.read(MINUTE, "EUR") == MinuteTotals(MINUTE, "EUR", 1, 2599)
    assert sales.read(MINUTE, "USD") == MinuteTotals(MINUTE, "USD", 1, 1800)


def test_a_final_invocation_delivered_again_writes_nothing_twice(
    aggregator: LocalFunction, sales: SalesPerMinute
) -> None:
    state = aggregator.invoke(sample_event("aggregate_sales/window_batch.json"))["state"]
    close(aggregator, state)

    assert close(aggregator, state) == {"batchItemFailures": [], "state": {}}

    assert sales.read(MINUTE, "EUR") == MinuteTotals(MINUTE, "EUR", 1, 2599)


def test_records_delivered_again_after_a_partial_failure_count_once(
    aggregator: LocalFunction, sales: SalesPerMinute
) -> None:
    """Lambda resumes from the failed record with the state returned: the records after it come again."""
    batch = sample_event("aggregate_sales/window_batch.json")
    state = aggregator.invoke(batch)["state"]

    again = aggregator.invoke(with_state("aggregate_sales/window_batch.json", state))

    assert again["state"] == state
    close(aggregator, again["state"])
    assert sales.read(MINUTE, "EUR") == MinuteTotals(MINUTE, "EUR", 1, 2599)


def test_a_batch_bisected_into_halves_counts_what_the_whole_batch_would(
    aggregator: LocalFunction, sales: SalesPerMinute
) -> None:
    batch = sample_event("aggregate_sales/window_batch.json")
    first, second = copy.deepcopy(batch), copy.deepcopy(batch)
    first["Records"], second["Records"] = batch["Records"][:1], batch["Records"][1:]

    second["state"] = aggregator.invoke(first)["state"]
    state = aggregator.invoke(second)["state"]

    assert state == aggregator.invoke(sample_event("aggregate_sales/window_batch.json"))["state"]
    close(aggregator, state)
    assert sales.read(MINUTE, "USD") == MinuteTotals(MINUTE, "USD", 1, 1800)


def test_windows_of_two_shards_in_the_same_minute_add_up(aggregator: LocalFunction, sales: SalesPerMinute) -> None:
    state = aggregator.invoke(sample_event("aggregate_sales/window_batch.json"))["state"]

    close(aggregator, state, shard_id="shardId-000000000000")
    close(aggregator, state, shard_id="shardId-000000000001")

    assert sales.read(MINUTE, "EUR") == MinuteTotals(MINUTE, "EUR", 2, 2 * 2599)


def test_a_window_without_sales_writes_nothing(aggregator: LocalFunction, cloud: Cloud) -> None:
    only_placed = sample_event("aggregate_sales/window_batch.json")
    only_placed["Records"] = only_placed["Records"][:1]  # an OrderPlaced: nothing sold
    state = aggregator.invoke(only_placed)["state"]

    assert close(aggregator, state) == {"batchItemFailures": [], "state": {}}

    assert item_count(cloud, "SalesPerMinuteTable") == 0
