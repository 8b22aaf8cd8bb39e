"""IAM enforced from the template: each role's calls are checked against its policies, and refused as AWS refuses them.

The mistake test runs the local cloud as `make local` does (sandboxes, IAM on) on a copy of template.yaml
with one permission taken away from each of a function, the state machine, a rule target and a schedule;
the unmodified template's flows are the end-to-end suite's (`E2E_TARGET=sandboxes`).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnlint.decode import cfn_yaml

from drivers.api_client import Customer
from local_cloud.iam.gate import Roles
from local_cloud.iam.policy import decide
from local_cloud.provision import provision
from local_cloud.scheduler.firing import InvokeError, Outcome
from local_cloud.server import local_aws, running_local_cloud
from local_cloud.template import NESTED_TEMPLATES, TEMPLATE_PATH, Template
from local_cloud.timeline import Timeline
from tests.support import sample_event

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"


def _statement(effect: str, action: str, resource: str, negated: str = "") -> dict[str, str]:
    """A statement; `negated` "Action" or "Resource" makes that element NotAction or NotResource."""
    return {"Effect": effect, f"{'Not' if negated == 'Action' else ''}Action": action,
            f"{'Not' if negated == 'Resource' else ''}Resource": resource}  # fmt: skip


QUEUE = "arn:aws:sqs:us-east-1:123456789012:q1"


@pytest.mark.parametrize(
    ("statements", "action", "resource", "decision"),
    [
        ([_statement("Allow", "dynamodb:GetItem", TABLE)], "dynamodb:GetItem", TABLE, "ALLOWED"),
        ([_statement("Allow", "dynamodb:Get*", "*")], "DynamoDB:getitem", TABLE, "ALLOWED"),
        ([_statement("Allow", "dynamodb:GetItem", TABLE)], "dynamodb:PutItem", TABLE, "IMPLICITLY"),
        ([_statement("Allow", "dynamodb:Query", TABLE)], "dynamodb:Query", f"{TABLE}/index/x", "IMPLICITLY"),
        ([_statement("Allow", "dynamodb:Query", f"{TABLE}*")], "dynamodb:Query", f"{TABLE}/index/x", "ALLOWED"),
        (
            [_statement("Allow", "*", "*"), _statement("Deny", "dynamodb:*", TABLE)],
            "dynamodb:GetItem",
            TABLE,
            "EXPLICITLY",
        ),
        ([_statement("Allow", "dynamodb:DeleteItem", "*", "Action")], "dynamodb:DeleteItem", TABLE, "IMPLICITLY"),
        (
            [_statement("Allow", "sqs:SendMessage", "arn:aws:sqs:*:*:q?", "Resource")],
            "sqs:SendMessage",
            QUEUE,
            "IMPLICITLY",
        ),
    ],
)
def test_a_policy_allows_what_it_names_with_iams_wildcards_and_a_deny_wins(
    statements: list[dict[str, Any]], action: str, resource: str, decision: str
) -> None:
    assert decide(statements, action, resource).name.startswith(decision)


def _a_key(template: Template, table: str) -> dict[str, Any]:
    """Some key of the table, in the shape its KeySchema gives."""
    types = {a["AttributeName"]: a["AttributeType"] for a in template.properties(table)["AttributeDefinitions"]}
    return {k["AttributeName"]: {types[k["AttributeName"]]: "1"} for k in template.properties(table)["KeySchema"]}


@pytest.mark.local_cloud
def test_a_roles_refused_call_fails_as_aws_answers_it() -> None:
    denials: list[str] = []
    roles = Roles(observe=lambda denial: denials.append(denial.text()))
    with local_aws(0, roles) as endpoint:
        cloud = provision(Template.load())
        roles.create(cloud.template)
        role = str(cloud.template.resolve(cloud.template.properties("GetOrderFunction")["Role"]))
        credentials = roles.credentials(role)
        session = boto3.Session(
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
            region_name="us-east-1",
        )
        dynamodb, sqs = session.client("dynamodb", endpoint_url=endpoint), session.client("sqs", endpoint_url=endpoint)
        orders, events = cloud.physical_id("OrdersTable"), cloud.physical_id("EventStoreTable")
        dynamodb.get_item(TableName=orders, Key=_a_key(cloud.template, "OrdersTable"))  # its policy allows this

        with pytest.raises(ClientError) as json_service:
            dynamodb.get_item(TableName=events, Key=_a_key(cloud.template, "EventStoreTable"))
        with pytest.raises(ClientError) as queue:  # SQS's JSON protocol, with its query-compatible code
            sqs.send_message(QueueUrl=cloud.physical_id("PaymentEventsQueue"), MessageBody="{}")
        with pytest.raises(ClientError) as query_service:
            session.client("sns", endpoint_url=endpoint).list_topics()

    assert json_service.value.response["Error"]["Code"] == "AccessDeniedException"
    assert json_service.value.response["Error"]["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/GetOrderFunctionRole/GetOrderFunction is not authorized to "
        f"perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/{events} "
        "because no identity-based policy allows the dynamodb:GetItem action"
    )
    assert queue.value.response["Error"]["Code"] == "AccessDenied"
    assert query_service.value.response["Error"]["Code"] == "AccessDenied"
    assert query_service.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert denials[0] == (
        f"GetOrderFunction denied dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/{events}"
        " (role GetOrderFunctionRole)"
    )


def _template_with_permissions_taken_away(folder: Path) -> Path:
    """template.yaml, but GetOrder may not read orders, the saga may not invoke ReserveInventory, the activity
    rule may not put to its stream, and the reconciler's schedule runs under a role that allows nothing."""
    shutil.copytree(NESTED_TEMPLATES, folder / NESTED_TEMPLATES.name)  # what it nests, at the same relative path
    copies = [folder / "template.yaml", *sorted((folder / NESTED_TEMPLATES.name).glob("*.yaml"))]
    # Each file of the copy as plain dicts, so that a resource is changed in whichever file declares it.
    sams = {copy: json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE_PATH if copy == copies[0] else copy))))
            for copy in copies}  # fmt: skip

    def resource(logical_id: str) -> dict[str, Any]:
        [found] = [sam["Resources"][logical_id] for sam in sams.values() if logical_id in sam["Resources"]]
        return found  # type: ignore[no-any-return]  # json.loads's Any: a resource is a mapping

    resources = sams[copies[0]]["Resources"]
    resource("GetOrderFunction")["Properties"]["Policies"] = []
    saga = resource("OrderFulfillmentStateMachine")["Properties"]
    saga["Policies"] = [policy for policy in saga["Policies"] if "ReserveInventoryFunction" not in json.dumps(policy)]
    resource("OrderActivityRuleRole")["Properties"]["Policies"] = []
    trust = {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
    resources["NothingAllowedRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]}},
    }
    schedule = resource("ReconcileOrdersFunction")["Properties"]["Events"]["Every5Minutes"]["Properties"]
    schedule["RoleArn"] = {"Fn::GetAtt": ["NothingAllowedRole", "Arn"]}
    for copy, sam in sams.items():
        copy.write_text(json.dumps(sam))  # JSON is YAML: the loader reads it as it reads the original
    return copies[0]


def _eventually(found: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 60
    while not (value := found()):
        assert time.monotonic() < deadline, f"not within 60 s: {what}"
        time.sleep(0.1)
    return value


@pytest.mark.local_cloud
def test_a_permission_taken_away_fails_the_flow_that_needs_it_with_access_denied(tmp_path: Path) -> None:
    template = _template_with_permissions_taken_away(tmp_path)
    with running_local_cloud(0, 0, 0, timeline=Timeline(out=None), watch_code=False, sandboxes=True,
                             template_path=template) as local:  # fmt: skip
        alice = Customer(local.api_url, local.token("alice"))
        placed = alice.place_order(json.loads(sample_event("place_order/valid.json")["body"]))
        assert placed.status == 201, placed  # PlaceOrder's own permissions are untouched
        order_id = placed.body["orderId"]
        read = alice.order(order_id)
        firing = local.schedules.fire(next(name for name in local.schedules.names if "Reconcile" in name))

        def denied(who: str, action: str) -> list[str]:
            lines = [entry.text for entry in local.timeline.entries() if entry.source == "iam"]
            return [line for line in lines if line.startswith(f"{who} denied {action}")]

        saga = _eventually(lambda: denied("OrderFulfillmentStateMachine", "lambda:InvokeFunction"), "the saga's denial")
        rule = _eventually(lambda: denied("OrderActivityRule", "kinesis:PutRecord"), "the activity rule's denial")
        reader = denied("GetOrderFunction", "dynamodb:GetItem")

    assert read.status == 502, read  # API Gateway's answer to the handler's unhandled AccessDeniedException
    assert reader
    assert f":table/{local.cloud.physical_id('OrdersTable')}" in reader[0]
    assert f":function:{local.cloud.physical_id('ReserveInventoryFunction')}" in saga[0]
    assert f":stream/{local.cloud.physical_id('OrderActivityStream')}" in rule[0]
    assert firing.outcome is Outcome.DEAD_LETTERED
    assert isinstance(firing.error, InvokeError)
    assert firing.error.code == "AccessDeniedException"
    assert firing.function_runs == 0
