"""SnapStart on the API functions stays correct: no AWS call at init, the after-restore hook registered."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import botocore.client
import pytest

from local_cloud.cloud import Cloud
from local_cloud.functions import load_function
from local_cloud.template import Template
from orders import snapstart


def snapstarted(template: Template) -> list[str]:
    """The functions SnapStart snapshots (tests/unit/test_deploy_safety.py: the API's, and only those)."""
    return sorted(
        logical_id
        for logical_id, spec in template.of_type("AWS::Lambda::Function").items()
        if spec["Properties"].get("SnapStart") == {"ApplyOn": "PublishedVersions"}
    )


class FakeRuntimeHooks(ModuleType):
    """snapshot_restore_py as Lambda's runtime has it: it keeps what is registered."""

    def __init__(self) -> None:
        super().__init__("snapshot_restore_py")
        self.after_restore: list[Callable[[], None]] = []

    def register_after_restore(self, hook: Callable[[], None]) -> None:
        self.after_restore.append(hook)


def test_an_api_function_calls_no_aws_at_init_and_reseeds_random_after_a_restore(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    def record(client: Any, operation: str, _params: Any) -> None:
        calls.append((client.meta.service_model.service_name, operation))
        raise AssertionError(f"an AWS call at init: {operation}")

    for logical_id in snapstarted(cloud.template):
        hooks = FakeRuntimeHooks()
        monkeypatch.setitem(sys.modules, "snapshot_restore_py", hooks)
        monkeypatch.setattr(snapstart, "_registered", False)  # a new execution environment
        with monkeypatch.context() as init:
            init.setattr(botocore.client.BaseClient, "_make_api_call", record)
            load_function(cloud, logical_id)  # the module's code: Lambda's init phase

        assert calls == [], logical_id
        assert hooks.after_restore == [snapstart.reseed_random], logical_id


def test_environments_restored_from_one_snapshot_draw_different_random_numbers() -> None:
    snapshot = random.getstate()
    drawn = []
    for _environment in range(2):
        random.setstate(snapshot)
        snapstart.reseed_random()
        drawn.append(random.random())  # noqa: S311 - the sequence botocore jitters retries with, not a secret

    assert drawn[0] != drawn[1]


def test_outside_lambda_there_is_nothing_to_register(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as off Lambda
    monkeypatch.setattr(snapstart, "_registered", False)

    snapstart.register_after_restore_hooks()

    assert snapstart._registered is False
