"""One fixture provisions AWS from template.yaml on moto; handlers run in-process with the template's environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local_cloud.account import fake_account
from local_cloud.cloud import Cloud
from local_cloud.environment import temporary_environment
from local_cloud.functions import LocalFunction
from local_cloud.in_process import in_process_cloud
from local_cloud.queues import QueueMapping
from local_cloud.streams import StreamMapping

# Process-wide too, not only per test: a saga execution of an earlier test may finish late in moto's thread,
# and an invocation then restores the environment it saw; it must never see one without a region or with
# real credentials (that race was a NoRegionError in a later test's setup). Not when the end-to-end suite
# runs against a deployed stack (E2E_TARGET=ministack|aws): it needs that stack's own endpoint and account.
if os.environ.get("E2E_TARGET", "local") in {"local", "sandboxes"}:
    for _name, _value in fake_account().items():
        if _value is None:
            os.environ.pop(_name, None)
        else:
            os.environ[_name] = _value


@pytest.fixture(autouse=True)
def _aws_credentials(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fake credentials so nothing can reach a real account, whatever the shell has.

    Tests marked `local_cloud` are left alone: running_local_cloud sets fake credentials and its own endpoint.
    """
    if request.node.get_closest_marker("local_cloud"):
        yield
        return
    with temporary_environment(fake_account()):
        yield


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    """Every resource of template.yaml, created on in-process moto."""
    with in_process_cloud() as provisioned:
        yield provisioned


@pytest.fixture
def function(cloud: Cloud) -> Callable[[str], LocalFunction]:
    """Loads a function by its template logical id, e.g. function("PlaceOrderFunction").

    The same instance moto's Lambda Invoke reaches, so a test's monkeypatch on it holds for the saga too.
    """
    return cloud.functions.get


@pytest.fixture
def project(cloud: Cloud, function: Callable[[str], LocalFunction]) -> Callable[[], list[Any]]:
    """Delivers new event-store stream records to the projector, as its template mapping would."""
    return StreamMapping.from_template(cloud, function("ProjectOrdersFunction")).deliver


@pytest.fixture
def publish(cloud: Cloud, function: Callable[[str], LocalFunction]) -> Callable[[], list[Any]]:
    """Delivers new event-store stream records to the outbox publisher."""
    return StreamMapping.from_template(cloud, function("PublishEventsFunction")).deliver


@pytest.fixture
def notifications(cloud: Cloud, function: Callable[[str], LocalFunction]) -> QueueMapping:
    """Delivers NotificationsQueue to its consumer, as its template mapping would."""
    return QueueMapping.from_template(cloud, function("SendNotificationsFunction"))


@pytest.fixture
def analytics(cloud: Cloud, function: Callable[[str], LocalFunction]) -> QueueMapping:
    """Delivers AnalyticsQueue to its consumer."""
    return QueueMapping.from_template(cloud, function("RecordAnalyticsFunction"))
