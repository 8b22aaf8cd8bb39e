"""What `sam local` is given: the env-vars file, the architecture, a deployed stack's names, SAM's answers read back.

`make sam-local` runs SAM itself on every sample event; these check the pieces it is built from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local_cloud.cloud import Cloud
from local_cloud.functions import lambda_environment
from local_cloud.sam_env import container_endpoint, env_vars
from local_cloud.template import ROOT, Template
from tools.deployed_stack import stack_cloud
from tools.sam_local import EmulatorReport, emulator_report, json_template, sam_response

HOST_ENDPOINT = "http://127.0.0.1:5000"
MAKE = shutil.which("make") or "make"


def test_every_function_gets_every_variable_its_template_sets_and_the_local_endpoint(cloud: Cloud) -> None:
    variables = env_vars(cloud, HOST_ENDPOINT)

    assert set(variables) == set(cloud.template.of_type("AWS::Lambda::Function"))
    for logical_id, given in variables.items():
        declared = cloud.template.properties(logical_id)["Environment"]["Variables"]
        assert set(given) == set(declared), logical_id  # AWS_ENDPOINT_URL is declared (unset) in the Globals
        assert given["AWS_ENDPOINT_URL"] == container_endpoint(HOST_ENDPOINT) != HOST_ENDPOINT
        assert HOST_ENDPOINT not in json.dumps(given), "a container cannot reach the host's loopback"
    assert variables["PlaceOrderFunction"]["EVENT_STORE_TABLE"] == cloud.physical_id("EventStoreTable")
    queue_url = variables["ReceivePaymentWebhookFunction"]["PAYMENT_EVENTS_QUEUE_URL"]
    assert queue_url.endswith(str(cloud.physical_id("PaymentEventsQueue")).split("/", 3)[3])


def test_a_deployed_stack_gets_no_endpoint(cloud: Cloud) -> None:
    assert all("AWS_ENDPOINT_URL" not in given for given in env_vars(cloud, None).values())


def test_the_declared_endpoint_is_unset_when_the_template_runs_in_process(cloud: Cloud) -> None:
    # !Ref AWS::NoValue removes the key, as CloudFormation does; "None" would send boto3 nowhere.
    assert "AWS_ENDPOINT_URL" not in lambda_environment(cloud, "PlaceOrderFunction")


@mock_aws
def test_a_deployed_stacks_names_come_from_its_resources() -> None:
    cloudformation = boto3.client("cloudformation")
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": "orders-dev-EventStoreTable-1A2B",
            "AttributeDefinitions": [{"AttributeName": "aggregateId", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "aggregateId", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    body = {"Parameters": {"OrderDeadlineMinutes": {"Type": "Number"}}, "Resources": {"EventStoreTable": table}}
    cloudformation.create_stack(
        StackName="orders-dev",
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": "OrderDeadlineMinutes", "ParameterValue": "5"}],
    )

    cloud = stack_cloud("orders-dev")

    assert cloud.physical_id("EventStoreTable") == "orders-dev-EventStoreTable-1A2B"
    assert cloud.template.parameters["OrderDeadlineMinutes"] == "5"


def test_one_parameter_turns_every_function_and_the_layer_to_x86_64() -> None:
    template = Template.load(overrides={"Architecture": "x86_64"})
    for logical_id in template.of_type("AWS::Lambda::Function"):
        assert template.resolve(template.properties(logical_id)["Architectures"]) == ["x86_64"], logical_id
    [layer] = template.of_type("AWS::Lambda::LayerVersion")
    assert template.resolve(template.properties(layer)["CompatibleArchitectures"]) == ["x86_64"]


def test_sam_answers_are_read_back_with_the_error_a_step_raised() -> None:
    printed = 'Invoking app.lambda_handler\n{"errorMessage": "not yet", "errorType": "TransientFailure"}\n'
    assert sam_response(printed) == ({"errorMessage": "not yet", "errorType": "TransientFailure"}, "TransientFailure")
    assert sam_response('{"statusCode": 201, "body": "{}"}\n') == ({"statusCode": 201, "body": "{}"}, None)
    assert sam_response("") == (None, None)


def test_the_emulators_report_is_read_back_cold_or_warm() -> None:
    # As SAM 1.170's emulator prints them (tab-separated, a trailing tab), after the handler's own log lines.
    cold = (
        "START RequestId: e421 Version: $LATEST\nEND RequestId: e421\n"
        "REPORT RequestId: e421\tInit Duration: 0.03 ms\tDuration: 1672.66 ms\tBilled Duration: 1673 ms"
        "\tMemory Size: 1024 MB\tMax Memory Used: 1024 MB\t\n"
    )
    warm = "REPORT RequestId: f9\tDuration: 3.10 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\t"

    assert emulator_report(cold) == EmulatorReport(init_ms=0.03, duration_ms=1672.66)
    assert emulator_report(warm) == EmulatorReport(init_ms=None, duration_ms=3.1)
    assert emulator_report("Invoking app.handler (python3.13)\n") is None


def test_the_json_template_sam_reads_is_the_built_template(tmp_path: Path) -> None:
    built = tmp_path / "template.yaml"
    built.write_text("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref Name\n")
    assert json.loads(json_template(built).read_text()) == {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}}
    }


@pytest.mark.parametrize(
    ("architecture", "platform"),
    [(None, "manylinux2014_aarch64"), ("arm64", "manylinux2014_aarch64"), ("x86_64", "manylinux2014_x86_64")],
)
def test_the_layer_is_built_with_wheels_for_the_chosen_architecture(architecture: str | None, platform: str) -> None:
    dry_run = subprocess.run(  # noqa: S603 - the project's own layer/Makefile, dry run
        [MAKE, "--dry-run", "-C", str(ROOT / "layer"), "build-OrdersLayer", "ARTIFACTS_DIR=/nowhere"],
        env={"PATH": "/usr/bin:/bin"} | ({"ARCHITECTURE": architecture} if architecture else {}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"--platform {platform}" in dry_run.stdout  # unset: the deployed default, arm64
