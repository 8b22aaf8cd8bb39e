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
from tests.unit.test_reliability import (
    alarms_to_the_alarm_topic,
    dead_letter_queues,
    queue_consumers,
    referenced_of_type,
)
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


def as_sub(value: Any) -> str:
    """A template value as the dashboard's !Sub text spells it: a !Ref X as ${X}, a literal as itself."""
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return "${" + str(value["Ref"]) + "}"
    assert not isinstance(value, dict), f"{value} has no spelling in a !Sub"
    return str(value)


def api_stages(template: Template) -> list[dict[str, Any]]:
    """{"ApiName": ..., "Stage": ...} of every REST API stage, as the template sets them (AWS/ApiGateway's dimensions).

    The API's name is its Name or, with a definition body, the body's info.title (SAM puts the stack name there).
    """
    stages = []
    for stage in template.of_type("AWS::ApiGateway::Stage").values():
        api = referenced_of_type(template, stage["Properties"]["RestApiId"], "AWS::ApiGateway::RestApi")
        assert api is not None
        properties = template.properties(api)
        name = properties.get("Name", properties.get("Body", {}).get("info", {}).get("title"))
        assert name is not None, f"{api} has no name for AWS/ApiGateway's ApiName dimension"
        stages.append({"ApiName": name, "Stage": stage["Properties"]["StageName"]})
    assert stages, "the orders API has a stage"
    return stages


def test_the_dashboard_shows_every_apis_latency_percentiles_and_its_errors(template: Template) -> None:
    metrics = dashboard_metrics(template)
    shown = plain(metrics)
    for stage in api_stages(template):
        api = ("ApiName", as_sub(stage["ApiName"]), "Stage", as_sub(stage["Stage"]))
        assert {("AWS/ApiGateway", name, *api) for name in ("Latency", "4XXError", "5XXError")} <= shown
        latency = [metric for metric in metrics if tuple(map(str, metric[:6])) == ("AWS/ApiGateway", "Latency", *api)]
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
def test_every_api_alarms_on_server_errors_and_on_its_p99_latency(template: Template, metric: str) -> None:
    alarms = alarms_to_the_alarm_topic(template, "AWS/ApiGateway", metric)
    for stage in api_stages(template):
        watching = [alarm for alarm, dimensions in alarms.items() if dimensions == stage]
        assert watching, f"no {metric} alarm on {stage}"
        if metric == "Latency":
            assert any(template.properties(alarm).get("ExtendedStatistic") == "p99" for alarm in watching)


def test_the_payment_consumer_alarms_when_it_is_throttled(template: Template) -> None:
    """The consumer of the payment-events queue: a throttled settlement keeps a fulfilment waiting."""
    consumers = [
        referenced_of_type(template, properties["FunctionName"], "AWS::Lambda::Function")
        for properties in queue_consumers(template)["PaymentEventsQueue"].values()
    ]
    assert consumers
    alarms = alarms_to_the_alarm_topic(template, "AWS/Lambda", "Throttles")
    for consumer in consumers:
        assert {"FunctionName": {"Ref": consumer}} in alarms.values()
