"""Reliability and security settings, read from template.yaml so a later change cannot quietly drop one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from local_cloud.template import Template


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def logical_id_of(reference: Any) -> str:
    """The resource a !Ref or !GetAtt points at."""
    if "Ref" in reference:
        return str(reference["Ref"])
    target = reference["Fn::GetAtt"]
    return str(target[0] if isinstance(target, list) else target.split(".")[0])


def test_every_function_runs_python313_on_arm64_traced_with_json_logs(template: Template) -> None:
    for logical_id, spec in template.of_type("AWS::Lambda::Function").items():
        properties = spec["Properties"]
        assert properties["Runtime"] == "python3.13", logical_id
        assert template.resolve(properties["Architectures"]) == ["arm64"], logical_id  # the Architecture default
        assert properties["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert properties["LoggingConfig"]["LogFormat"] == "JSON", logical_id
        assert properties["MemorySize"] >= 128, logical_id
        assert properties["Timeout"] <= 30, logical_id


def test_every_function_has_a_log_group_with_retention(template: Template) -> None:
    """Lambda's default group, /aws/lambda/<function name>, declared so that its retention is set."""
    retained = {
        match.group(1)
        for spec in template.of_type("AWS::Logs::LogGroup").values()
        if "RetentionInDays" in spec["Properties"]
        and (
            match := re.fullmatch(
                r"/aws/lambda/\$\{(\w+)\}", str(spec["Properties"].get("LogGroupName", {}).get("Fn::Sub"))
            )
        )
    }
    assert set(template.of_type("AWS::Lambda::Function")) <= retained


@pytest.mark.parametrize(
    "table",
    [
        "EventStoreTable",
        "OrdersTable",
        "IdempotencyTable",
        "InventoryTable",
        "PaymentsTable",
        "AnalyticsTable",
        "SalesPerMinuteTable",
    ],
)
def test_every_table_is_encrypted_recoverable_on_demand_and_protected_in_prod(template: Template, table: str) -> None:
    spec = template.resources[table]
    properties = spec["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    assert {"DeletionPolicy", "UpdateReplacePolicy"} <= set(spec)


def test_the_event_store_is_never_deleted_with_the_stack(template: Template) -> None:
    spec = template.resources["EventStoreTable"]
    assert (spec["DeletionPolicy"], spec["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert spec["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


def test_idempotency_records_expire(template: Template) -> None:
    ttl = template.properties("IdempotencyTable")["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expiration", "Enabled": True}


def stream_mappings(template: Template) -> dict[str, dict[str, Any]]:
    return {
        logical_id: spec["Properties"]
        for logical_id, spec in template.of_type("AWS::Lambda::EventSourceMapping").items()
        if "StartingPosition" in spec["Properties"]
    }


def test_every_stream_consumer_reports_partial_failures_bisects_retries_boundedly_and_keeps_failures(
    template: Template,
) -> None:
    mappings = stream_mappings(template)
    assert mappings, "the projector and the publisher read the event store stream"
    for logical_id, properties in mappings.items():
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], logical_id
        assert properties["BisectBatchOnFunctionError"] is True, logical_id
        assert 0 <= properties["MaximumRetryAttempts"] <= 10, logical_id
        assert 60 <= properties["MaximumRecordAgeInSeconds"] <= 86400, logical_id
        destination = logical_id_of(properties["DestinationConfig"]["OnFailure"]["Destination"])
        assert template.resources[destination]["Type"] == "AWS::SQS::Queue", logical_id


def dead_letter_queues(template: Template) -> set[str]:
    """Queues that receive failures: on-failure destinations and redrive targets."""
    queues = {
        logical_id_of(properties["DestinationConfig"]["OnFailure"]["Destination"])
        for properties in stream_mappings(template).values()
    }
    for spec in template.of_type("AWS::SQS::Queue").values():
        if "RedrivePolicy" in spec["Properties"]:
            queues.add(logical_id_of(spec["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))
    return queues


def test_every_dead_letter_queue_has_an_alarm_on_the_alarm_topic(template: Template) -> None:
    alarmed = {
        logical_id_of(dimension["Value"])
        for spec in template.of_type("AWS::CloudWatch::Alarm").values()
        if spec["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and spec["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        and spec["Properties"]["Threshold"] == 0
        and spec["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
        for dimension in spec["Properties"]["Dimensions"]
        if dimension["Name"] == "QueueName"
    }
    assert dead_letter_queues(template) <= alarmed


def test_every_queue_is_encrypted_and_keeps_messages_for_a_set_time(template: Template) -> None:
    for logical_id, spec in template.of_type("AWS::SQS::Queue").items():
        properties = spec["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, logical_id
        assert "MessageRetentionPeriod" in properties, logical_id


def test_the_alarm_topic_uses_a_key_cloudwatch_may_use(template: Template) -> None:
    """CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key; moto does not enforce this."""
    key = logical_id_of(template.properties("AlarmTopic")["KmsMasterKeyId"])
    statements = template.properties(key)["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert cloudwatch
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
    assert template.properties(key)["EnableKeyRotation"] is True


def inline_statements(template: Template, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.properties(role).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


# Actions IAM grants on "*" only (no resource-level permissions): a task token names no resource.
RESOURCELESS_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskFailure"}


def test_no_function_policy_has_a_wildcard_action_or_resource(template: Template) -> None:
    for logical_id, spec in template.of_type("AWS::Lambda::Function").items():
        role = logical_id_of(spec["Properties"]["Role"])
        for statement in inline_statements(template, role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in action for action in actions), (logical_id, statement)
            if statement.get("Resource") == "*":
                assert set(actions) <= RESOURCELESS_ACTIONS, (logical_id, statement)


@pytest.mark.parametrize(
    ("function", "allowed"),
    [
        (
            "PlaceOrderFunction",
            {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
        ),
        # Cancelling resumes a fulfilment that waits for the payment, or compensates when none runs any more.
        (
            "CancelOrderFunction",
            {
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "states:SendTaskFailure",
                "states:DescribeExecution",
            },
        ),
        ("GetOrderFunction", {"dynamodb:GetItem"}),
        ("ListOrdersFunction", {"dynamodb:Query"}),
        ("ProjectOrdersFunction", {"dynamodb:UpdateItem", "sqs:SendMessage"}),
        ("PublishEventsFunction", {"events:PutEvents", "sqs:SendMessage"}),
    ],
)
def test_commands_write_only_the_event_store_and_queries_read_only_the_read_model(
    template: Template, function: str, allowed: set[str]
) -> None:
    role = logical_id_of(template.properties(function)["Role"])
    granted = set()
    for statement in inline_statements(template, role):
        granted |= set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    assert granted == allowed


# The payment provider has no Cognito token: its webhook is authenticated by its HMAC signature instead.
SIGNED_ROUTES = {("post", "/webhooks/payments")}


def test_every_api_method_requires_the_cognito_authorizer(template: Template) -> None:
    body = template.properties("OrdersApi")["Body"]
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            expected: list[dict[str, list[str]]] = (
                [{"NONE": []}] if (method, path) in SIGNED_ROUTES else [{"CognitoAuthorizer": []}]
            )
            assert operation["security"] == expected, (method, path)


def test_the_api_stage_is_traced_throttled_and_access_logged(template: Template) -> None:
    [stage] = template.of_type("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["TracingEnabled"] is True
    assert "DestinationArn" in properties["AccessLogSetting"]
    assert properties["AccessLogSetting"]["Format"].startswith("{")
    [settings] = properties["MethodSettings"]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(settings)


def test_every_stack_output_a_script_reads_is_declared(template: Template) -> None:
    """The scripts find deployed resources through outputs; a renamed or dropped output must fail here, not there."""
    scripts = (Path(__file__).resolve().parents[2] / "scripts").glob("*.py")
    read = {
        key
        for script in scripts
        for key in re.findall(r"outputs(?:_of)?(?:\.get\(|\(\w+\.stack\)\[)\"(\w+)\"", script.read_text())
    }
    assert read >= {"ApiUrl", "InventoryTableName", "PaymentsTableName", "PaymentWebhookSecretArn"}
    assert read <= set(template.outputs)
