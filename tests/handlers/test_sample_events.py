"""Every file under events/ is a case `sam local invoke -e` can replay; each one is run here, in-process.

The expectations live in drivers.sample_events, which `make sam-local` reads too. A new sample
event without an expectation fails `test_every_sample_event_has_an_expectation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from drivers.sample_events import ALICES_ORDER_EVENT, EXPECTATIONS, FUNCTION_OF_FOLDER, Expect, function_of
from drivers.seed import seed_inventory
from local_cloud.cloud import Cloud
from local_cloud.functions import LocalFunction
from local_cloud.sandbox.pool import FunctionError
from orders.inventory import Inventory
from tests.support import EVENTS, sample_event, table_sizes


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
        function("PlaceOrderFunction").invoke(sample_event(ALICES_ORDER_EVENT))
        project()
    seed_inventory(Inventory(boto3.client("dynamodb"), cloud.physical_id("InventoryTable")))
    before = table_sizes(cloud)

    response, raised = None, None
    try:
        response = function(function_of(path)).invoke(sample_event(path))
    except FunctionError as error:  # as Lambda reports the handler's exception: by its class name
        raised = error.error_type

    assert expect.mismatch(response, raised) is None
    if (expect.status or 0) >= 400:
        assert table_sizes(cloud) == before, "a refused request must write nothing"


def test_a_changed_expectation_fails() -> None:
    """The check can fail: each kind of expectation rejects an outcome that differs from it."""
    assert Expect(status=201).mismatch({"statusCode": 422, "body": '{"message": "no"}'}, None)
    assert Expect(status=401, status_under_sam_local=201).mismatch({"statusCode": 401, "body": "{}"}, None, True)
    assert Expect(failures=()).mismatch({"batchItemFailures": [{"itemIdentifier": "1"}]}, None)
    assert Expect(result={"status": "FAILED"}).mismatch({"status": "PLACED"}, None)
    assert Expect(error="OrderNotFound").mismatch(None, "TransientFailure")
    assert Expect(status=200).mismatch(None, "OrderNotFound")
