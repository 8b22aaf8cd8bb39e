"""Deploy safety, read from template.yaml: live aliases everywhere, canaries rolled back by alarms, SnapStart."""

from __future__ import annotations

import shlex
import tomllib
from typing import Any

import pytest

from local_cloud.template import ROOT, Template
from tests.handlers.test_snapstart import snapstarted

API_FUNCTIONS = ["CancelOrderFunction", "GetOrderFunction", "ListOrdersFunction", "PlaceOrderFunction"]
API_FUNCTIONS += ["ReceivePaymentWebhookFunction"]
SAGA_FUNCTIONS = [
    "ArrangeShipmentFunction",
    "CompleteOrderFunction",
    "FailOrderFunction",
    "RefundPaymentFunction",
    "ReleaseInventoryFunction",
    "RequestPaymentFunction",
    "ReserveInventoryFunction",
]


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def alias_of(function: str) -> str:
    return f"{function}Aliaslive"


def referenced(value: Any) -> set[str]:
    """Every logical id a value names through Ref, GetAtt or ${...} in a Sub."""
    if isinstance(value, list):
        return set().union(*(referenced(item) for item in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref":
            found.add(str(item))
        elif key == "Fn::GetAtt":
            found.add(str(item[0] if isinstance(item, list) else item.split(".")[0]))
        elif key == "Fn::Sub":
            text = item if isinstance(item, str) else item[0]
            found |= {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
            found |= referenced(item[1] if isinstance(item, list) else None)
        else:
            found |= referenced(item)
    return found


def test_every_function_has_a_live_alias_on_a_published_version(template: Template) -> None:
    aliases = {
        spec["Properties"]["FunctionName"]["Ref"]: spec["Properties"]
        for spec in template.of_type("AWS::Lambda::Alias").values()
    }

    assert set(aliases) == set(template.of_type("AWS::Lambda::Function"))
    assert {properties["Name"] for properties in aliases.values()} == {"live"}


def test_event_sources_the_api_and_the_saga_invoke_the_alias(template: Template) -> None:
    functions = set(template.of_type("AWS::Lambda::Function"))
    mappings = [
        spec["Properties"]["FunctionName"] for spec in template.of_type("AWS::Lambda::EventSourceMapping").values()
    ]
    permissions = [spec["Properties"]["FunctionName"] for spec in template.of_type("AWS::Lambda::Permission").values()]
    [machine] = template.of_type("AWS::StepFunctions::StateMachine").values()
    [api] = template.of_type("AWS::ApiGateway::RestApi").values()

    assert mappings
    assert all(referenced(name) <= {alias_of(f) for f in functions} for name in mappings)
    assert permissions
    assert all(referenced(name) <= {alias_of(f) for f in functions} for name in permissions)
    saga_targets = referenced(machine["Properties"]["DefinitionSubstitutions"]) & (
        functions | {alias_of(f) for f in functions}
    )
    assert saga_targets == {alias_of(function) for function in SAGA_FUNCTIONS}
    assert referenced(api["Properties"]["Body"]) & functions == set()  # no integration calls $LATEST
    assert {alias_of(function) for function in API_FUNCTIONS} <= referenced(api["Properties"]["Body"])


def deployment_groups(template: Template) -> dict[str, dict[str, Any]]:
    """The CodeDeploy group of each function whose live alias CodeDeploy shifts, by function."""
    groups = template.of_type("AWS::CodeDeploy::DeploymentGroup")
    return {
        spec["Properties"]["FunctionName"]["Ref"]: groups[policy["DeploymentGroupName"]["Ref"]]["Properties"]
        for spec in template.of_type("AWS::Lambda::Alias").values()
        if (policy := spec.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate"))
    }


def test_the_api_and_saga_functions_shift_by_the_strategy_and_roll_back_on_their_errors_alarm() -> None:
    canary = Template.load(overrides={"DeploymentStrategy": "Canary10Percent5Minutes"})

    groups = deployment_groups(canary)

    assert sorted(groups) == sorted(API_FUNCTIONS + SAGA_FUNCTIONS)
    for function, group in groups.items():
        alarm = {"Ref": f"{function.removesuffix('Function')}ErrorsAlarm"}
        assert group["AlarmConfiguration"] == {"Enabled": True, "Alarms": [{"Name": alarm}]}, function
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"], function
        assert canary.resolve(group["DeploymentConfigName"]) == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        assert canary.resources[alarm["Ref"]]["Properties"]["MetricName"] == "Errors"


def test_without_gradual_deployments_no_codedeploy_is_made() -> None:
    assert deployment_groups(Template.load(overrides={"GradualDeployments": "false"})) == {}


def test_prod_deploys_by_canary_and_dev_all_at_once() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())

    def strategy(environment: str) -> str:
        text = config[environment]["deploy"]["parameters"]["parameter_overrides"]
        overrides = dict(pair.split("=", 1) for pair in shlex.split(text))
        return str(overrides.get("DeploymentStrategy", Template.load().parameters["DeploymentStrategy"]))

    assert strategy("prod").startswith("Canary")
    assert strategy("default") == "AllAtOnce"


def test_snapstart_is_on_for_the_api_functions_only(template: Template) -> None:
    assert snapstarted(template) == sorted(API_FUNCTIONS)
