"""The dashboard shows what issue 13 asks an operator to see, and the API and payment consumer alarm when they suffer.

Read from the SAM-translated template.yaml: the dashboard body is the template's own !Sub text, parsed as
JSON with its ${...} references kept as the names they stand for.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local_cloud.template import Template
from tests.unit.test_reliability import alarms_to_the_alarm_topic, dead_letter_queues, referenced_of_type
from tests.unit.test_template import stream_mappings


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def dashboard_metrics(template: Template) -> list[list[Any]]:
    [dashboard] = template.of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    return [metric for widget in widgets for metric in widget["properties"]["metrics"]]


def plain(metrics: list[list[Any]]) -> set[tuple[str, ...]]:
    """(namespace, metric, dimension values...) of the metrics named outright (not by SEARCH)."""
    return {tuple(str(part) for part in metric if not isinstance(part, dict)) for metric in metrics}


def searches(metrics: list[list[Any]]) -> list[str]:
    return [
        part["expression"] for metric in metrics for part in metric if isinstance(part, dict) and "expression" in part
    ]


def test_the_dashboard_shows_the_apis_latency_percentiles_and_its_errors(template: Template) -> None:
    metrics = dashboard_metrics(template)
    api = ("ApiName", "${AWS::StackName}", "Stage", "v1")
    shown = plain(metrics)
    assert {("AWS/ApiGateway", name, *api) for name in ("Latency", "4XXError", "5XXError")} <= shown
    latency = [metric for metric in metrics if not isinstance(metric[0], dict) and metric[1] == "Latency"]
    assert {part["stat"] for metric in latency for part in metric if isinstance(part, dict)} == {"p50", "p99"}


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_the_dashboard_shows_every_functions_errors_and_throttles(template: Template, metric: str) -> None:
    """By SEARCH on the stack's name: CloudFormation names each function <stack>-<logical id>-<suffix>."""
    assert any(
        re.search(r"\{AWS/Lambda,FunctionName\} MetricName=\"" + metric + r"\" \"\$\{AWS::StackName\}\"", search)
        for search in searches(dashboard_metrics(template))
    )
    explicit = [
        spec for spec in template.of_type("AWS::Lambda::Function").values() if "FunctionName" in spec["Properties"]
    ]
    assert not explicit, "a function with its own FunctionName would escape the search on the stack's name"


def test_the_dashboard_shows_fulfilment_executions_started_succeeded_and_failed(template: Template) -> None:
    shown = plain(dashboard_metrics(template))
    for state_machine in template.of_type("AWS::StepFunctions::StateMachine"):
        for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed"):
            assert ("AWS/States", metric, "StateMachineArn", "${" + state_machine + "}") in shown


def test_the_dashboard_shows_every_dead_letter_queues_depth(template: Template) -> None:
    """By SEARCH for the token DeadLetterQueue: every dead-letter queue of the template is named so."""

    assert any(
        "DeadLetterQueue" in search and "ApproximateNumberOfMessagesVisible" in search
        for search in searches(dashboard_metrics(template))
    )
    assert all(queue.endswith("DeadLetterQueue") for queue in dead_letter_queues(template))


def test_the_dashboard_shows_every_stream_consumers_iterator_age(template: Template) -> None:
    shown = plain(dashboard_metrics(template))
    for properties in stream_mappings(template).values():
        function = referenced_of_type(template, properties["FunctionName"], "AWS::Lambda::Function")  # not its alias
        assert function is not None
        assert ("AWS/Lambda", "IteratorAge", "FunctionName", "${" + function + "}") in shown


@pytest.mark.parametrize("metric", ["5XXError", "Latency"])
def test_the_api_alarms_on_server_errors_and_on_its_p99_latency(template: Template, metric: str) -> None:
    alarms = alarms_to_the_alarm_topic(template, "AWS/ApiGateway", metric)
    assert any(dimensions == {"ApiName": {"Ref": "AWS::StackName"}, "Stage": "v1"} for dimensions in alarms.values())
    if metric == "Latency":
        assert any(template.properties(alarm).get("ExtendedStatistic") == "p99" for alarm in alarms)


def test_the_payment_consumer_alarms_when_it_is_throttled(template: Template) -> None:
    alarms = alarms_to_the_alarm_topic(template, "AWS/Lambda", "Throttles")
    assert {"FunctionName": {"Ref": "ProcessPaymentEventsFunction"}} in alarms.values()
