"""Every file under events/ is a case `sam local invoke -e` can replay; each one is run here.

A new sample event without an expectation below fails `test_every_sample_event_has_an_expectation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from local_cloud.functions import LocalFunction
from local_cloud.provision import Cloud
from tests.support import EVENTS, body, sample_event, table_sizes

FUNCTION_OF_FOLDER = {
    "place_order": "PlaceOrderFunction",
    "cancel_order": "CancelOrderFunction",
    "get_order": "GetOrderFunction",
    "list_orders": "ListOrdersFunction",
    "project_orders": "ProjectOrdersFunction",
    "publish_events": "PublishEventsFunction",
}


@dataclass(frozen=True)
class Expect:
    status: int | None = None  # API events: the HTTP status
    failures: tuple[str, ...] | None = None  # stream events: the sequence numbers reported for retry
    after_order: bool = False  # run once Alice's order from place_order/valid.json is placed and projected


EXPECTATIONS = {
    "place_order/valid.json": Expect(status=201),
    "place_order/duplicate.json": Expect(status=201, after_order=True),
    "place_order/same_key_other_body.json": Expect(status=422, after_order=True),
    "place_order/invalid_body.json": Expect(status=422),
    "place_order/malformed_json.json": Expect(status=422),
    "place_order/missing_key.json": Expect(status=400),
    "place_order/unauthenticated.json": Expect(status=401),
    "place_order/sam_local_identity.json": Expect(status=401),  # the header counts only under `sam local`
    "cancel_order/valid.json": Expect(status=200, after_order=True),
    "cancel_order/other_customer.json": Expect(status=404, after_order=True),
    "cancel_order/unknown_order.json": Expect(status=404),
    "get_order/valid.json": Expect(status=200, after_order=True),
    "get_order/other_customer.json": Expect(status=404, after_order=True),
    "get_order/unknown_order.json": Expect(status=404),
    "list_orders/valid.json": Expect(status=200, after_order=True),
    "list_orders/other_customer.json": Expect(status=200, after_order=True),
    "list_orders/invalid_limit.json": Expect(status=422),
    "list_orders/foreign_token.json": Expect(status=400),
    "project_orders/stream_batch.json": Expect(failures=()),
    "project_orders/stale_record.json": Expect(failures=(), after_order=True),
    "publish_events/stream_batch.json": Expect(failures=()),
    "publish_events/unreadable_record.json": Expect(failures=("999000000000000000001",)),
}


def test_every_sample_event_has_an_expectation() -> None:
    files = {str(path.relative_to(EVENTS)) for path in EVENTS.glob("*/*.json")}
    assert files == set(EXPECTATIONS)
    assert {path.split("/")[0] for path in files} == set(FUNCTION_OF_FOLDER)


@pytest.mark.parametrize("path", sorted(EXPECTATIONS))
def test_sample_event(
    path: str, cloud: Cloud, function: Callable[[str], LocalFunction], project: Callable[[], list[Any]]
) -> None:
    expect = EXPECTATIONS[path]
    if expect.after_order:
        function("PlaceOrderFunction").invoke(sample_event("place_order/valid.json"))
        project()
    before = table_sizes(cloud)

    response = function(FUNCTION_OF_FOLDER[path.split("/", maxsplit=1)[0]]).invoke(sample_event(path))

    if expect.status is not None:
        assert response["statusCode"] == expect.status, response["body"]
        assert isinstance(body(response), dict)
        if expect.status >= 400:
            assert table_sizes(cloud) == before, "a refused request must write nothing"
            assert body(response)["message"]
    else:
        assert response == {"batchItemFailures": [{"itemIdentifier": number} for number in expect.failures or ()]}
