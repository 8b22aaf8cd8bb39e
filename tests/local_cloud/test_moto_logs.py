"""The local cloud drops moto's ERROR record of a missing JSONPath its state machine handles, and only that."""

from __future__ import annotations

import logging

import pytest
from moto.stepfunctions.parser.asl.component import eval_component

from local_cloud.moto_logs import without_handled_missing_paths


def test_only_the_handled_missing_path_records_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    interpreter = eval_component.LOG  # the logger moto's interpreter logs its exceptions to
    with caplog.at_level(logging.ERROR), without_handled_missing_paths():
        interpreter.error("%s at '%s'", "Exception=NoSuchJsonPathError, Details=None-Available", "$.compensationError")
        interpreter.error("%s at '%s'", "Exception=FailureEventException, Error=States.Runtime", "ReserveInventory")
    interpreter.error("%s at '%s'", "Exception=NoSuchJsonPathError, Details=None-Available", "after the local cloud")

    assert [record.getMessage().split(",")[0] for record in caplog.records] == [
        "Exception=FailureEventException",
        "Exception=NoSuchJsonPathError",  # outside the local cloud, as moto logs it
    ]
