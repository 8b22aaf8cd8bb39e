"""The daily sales summary: the day before's per-minute sales, totalled per currency, recorded and published once.

The minutes are written the way the sales aggregator writes them (its own SalesPerMinute, a closed window
at a time); the job is run as its schedule runs it, with the occurrence's time as its Input.
tests/local_cloud/test_schedules.py fires it from the local cloud's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from drivers.bus_tap import BusTap
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from orders.analytics import Sale
from orders.daily_sales import SummaryNotPublished
from orders.event_schemas import json_schema
from orders.events import EventType
from orders.sales_windows import SalesPerMinute, WindowState
from orders.wire import ContractViolation
from tests.support import item_count, lambda_raises

RUN = {"scheduledTime": "2026-11-23T02:00:00Z"}  # summarises 22 November (UTC)


@pytest.fixture
def summariser(function: Callable[[str], LocalFunction]) -> LocalFunction:
    return function("SummariseDailySalesFunction")


@pytest.fixture
def bus_tap(cloud: Cloud) -> Callable[[], list[dict[str, Any]]]:
    return BusTap(cloud.physical_id("OrdersEventBus")).drain


@pytest.fixture
def close_window(function: Callable[[str], LocalFunction]) -> Callable[..., None]:
    """Writes one closed window of completed orders, (ISO time, currency, amount) each, as the aggregator does."""
    sales: SalesPerMinute = function("AggregateSalesFunction").module.sales
    windows = iter(range(1, 1000))

    def close(*orders: tuple[str, str, int]) -> None:
        state, window = WindowState(), next(windows)
        state.start(f"{window:021d}")
        for number, (moment, currency, amount) in enumerate(orders):
            occurred_at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
            state.add(Sale(f"event-{window}-{number}", occurred_at.date(), currency, amount), occurred_at)
        assert sales.write_window(f"window-{window}", "shardId-000000000000", state)

    return close


def test_the_summary_totals_the_days_minutes_per_currency_and_nothing_of_the_days_around_it(
    summariser: LocalFunction, close_window: Callable[..., None], bus_tap: Callable[[], list[dict[str, Any]]]
) -> None:
    close_window(("2026-11-21T23:59:59", "EUR", 1000))  # the day before: not counted
    close_window(("2026-11-22T00:00:00", "EUR", 2599), ("2026-11-22T00:00:30", "USD", 1800))
    close_window(("2026-11-22T12:30:10", "EUR", 401), ("2026-11-22T12:30:50", "EUR", 1))
    close_window(("2026-11-22T12:30:20", "EUR", 99))  # another window, the same minute: the minute adds up
    close_window(("2026-11-22T23:59:59", "USD", 5), ("2026-11-23T00:00:00", "USD", 7000))  # across midnight

    response = summariser.invoke(dict(RUN))

    expected = [
        {"currency": "EUR", "orders": 4, "revenue": 2599 + 401 + 1 + 99},
        {"currency": "USD", "orders": 2, "revenue": 1800 + 5},
    ]
    assert (response["day"], response["published"], response["sales"]) == ("2026-11-22", True, expected)
    [published] = bus_tap()
    assert (published["source"], published["detail-type"]) == ("com.example.orders", "DailySalesSummarised")
    envelope = published["detail"]
    assert envelope["data"] == {"day": "2026-11-22", "sales": expected}
    assert (envelope["eventId"], envelope["orderId"], envelope["version"]) == (
        response["eventId"],
        "daily-sales-2026-11-22",
        1,
    )
    jsonschema.validate(envelope, json_schema(EventType.DAILY_SALES_SUMMARISED))


def test_a_day_without_sales_is_summarised_as_such(
    summariser: LocalFunction, bus_tap: Callable[[], list[dict[str, Any]]]
) -> None:
    assert summariser.invoke(dict(RUN))["sales"] == []
    assert [event["detail"]["data"] for event in bus_tap()] == [{"day": "2026-11-22", "sales": []}]


def test_a_second_run_for_the_same_day_publishes_nothing_and_keeps_the_recorded_figures(
    summariser: LocalFunction, close_window: Callable[..., None], bus_tap: Callable[[], list[dict[str, Any]]]
) -> None:
    close_window(("2026-11-22T10:00:00", "EUR", 2599))
    first = summariser.invoke(dict(RUN))
    close_window(("2026-11-22T10:01:00", "EUR", 100))  # a window written late, after the summary

    again = summariser.invoke(dict(RUN))

    assert again == first | {"published": False}
    assert again["sales"] == [{"currency": "EUR", "orders": 1, "revenue": 2599}]
    assert len(bus_tap()) == 1


def test_a_run_that_dies_after_publishing_publishes_again_with_the_same_event_id(
    summariser: LocalFunction,
    close_window: Callable[..., None],
    bus_tap: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    close_window(("2026-11-22T10:00:00", "GBP", 4200))

    def dies(_day: Any) -> None:
        raise TimeoutError("the function timed out before marking the summary published")

    with monkeypatch.context() as patched:
        patched.setattr(summariser.module.summaries, "mark_published", dies)
        with lambda_raises(TimeoutError):
            summariser.invoke(dict(RUN))
    retried = summariser.invoke(dict(RUN))
    third = summariser.invoke(dict(RUN))

    published = bus_tap()
    assert [event["detail"]["eventId"] for event in published] == [retried["eventId"]] * 2  # consumers dedupe
    assert (retried["published"], third["published"]) == (True, False)


def test_a_summary_the_bus_refuses_fails_the_run_and_the_retry_publishes_it(
    summariser: LocalFunction, bus_tap: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = summariser.module.publisher._client

    def throttled(**_request: Any) -> dict[str, Any]:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate"}]}

    with monkeypatch.context() as patched:
        patched.setattr(client, "put_events", throttled)
        with lambda_raises(SummaryNotPublished):
            summariser.invoke(dict(RUN))
    assert bus_tap() == []

    assert summariser.invoke(dict(RUN))["published"] is True
    assert len(bus_tap()) == 1


@pytest.mark.parametrize("event", [{}, {"scheduledTime": "yesterday"}, {"scheduledTime": "2026-11-23T02:00:00"}])
def test_a_run_without_a_zoned_scheduled_time_is_refused_and_writes_nothing(
    summariser: LocalFunction, cloud: Cloud, event: dict[str, Any]
) -> None:
    with lambda_raises(ContractViolation):
        summariser.invoke(event)
    assert item_count(cloud, "SalesPerMinuteTable") == 0
