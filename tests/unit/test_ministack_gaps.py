"""The workarounds of tools/ministack_gaps.py keep their promises: same definition, same deploy settings."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml

from local_cloud.template import ROOT, Template
from tools import ministack_gaps

DEFINITION = ROOT / "statemachines" / "order_fulfillment.asl.yaml"


def substituted(text: str, values: dict[str, str]) -> str:
    """DefinitionSubstitutions applied as AWS applies them: into the definition's text."""
    return re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], text)


def overrides(section: dict[str, str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(section["parameter_overrides"]))


def test_the_json_definition_is_the_yaml_one_once_substituted() -> None:
    template = Template.load()
    [machine] = template.of_type("AWS::StepFunctions::StateMachine").values()
    names = machine["Properties"]["DefinitionSubstitutions"]
    # A timeout is a number, as its parameter's value is; every other substitution is a function's ARN.
    values = {
        name: "900" if name.endswith("Seconds") else f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        for name in names
    }
    yaml_text = DEFINITION.read_text()

    as_json = json.loads(substituted(ministack_gaps.asl_as_json(yaml_text), values))

    assert as_json == yaml.safe_load(substituted(yaml_text, values))
    assert as_json["States"]["RequestPayment"]["TimeoutSeconds"] == 900


def test_the_built_template_points_at_the_json_definition(tmp_path: Path) -> None:
    built = tmp_path / "template.yaml"
    built.write_text(f"Resources:\n  Saga:\n    Properties:\n      DefinitionUri: {DEFINITION}\n")

    [written] = ministack_gaps.definitions_as_json(built)

    assert written == tmp_path / "order_fulfillment.asl.json"
    assert f"DefinitionUri: {written.name}\n" in built.read_text()
    assert "${PaymentTimeoutSeconds}" in written.read_text()


def test_the_ministack_environment_of_samconfig_passes_each_gaps_parameter() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["ministack"]
    wanted = {name: value for name, (value, _reason) in ministack_gaps.DEPLOY_OVERRIDES.items()}

    deployed = overrides(config["deploy"]["parameters"])
    built = overrides(config["build"]["parameters"])

    assert wanted.items() <= deployed.items()
    assert built["Architecture"] == deployed["Architecture"]
    assert set(wanted) <= set(Template.load().parameters)  # each names a parameter the template has


def test_an_api_url_of_the_outputs_is_served_at_ministacks_path() -> None:
    url = "https://a1b2c3d4.execute-api.us-east-1.amazonaws.com/v1/webhooks/payments"

    assert ministack_gaps.api_url(url, "http://127.0.0.1:4566/") == (
        "http://127.0.0.1:4566/_aws/execute-api/a1b2c3d4/v1/webhooks/payments"
    )
    assert ministack_gaps.api_url("orders-dev-PaymentsTable-1", "http://127.0.0.1:4566") == "orders-dev-PaymentsTable-1"


def test_the_built_template_defaults_to_the_ministack_parameters(tmp_path: Path) -> None:
    built = tmp_path / "template.yaml"
    parameters = {name: {"Type": "String", "Default": "x"} for name in ministack_gaps.DEPLOY_OVERRIDES}
    built.write_text(yaml.safe_dump({"Transform": "AWS::Serverless-2016-10-31", "Parameters": parameters}))

    ministack_gaps.overrides_as_defaults(built)

    written = yaml.safe_load(built.read_text())
    assert {name: spec["Default"] for name, spec in written["Parameters"].items()} == {
        name: value for name, (value, _reason) in ministack_gaps.DEPLOY_OVERRIDES.items()
    }
    assert written["Transform"] == "AWS::Serverless-2016-10-31"
