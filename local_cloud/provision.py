"""Create the template's resources on moto, with the template's own properties.

Each resource type the local cloud understands has a provisioner here; any other type is
reported by name in `Cloud.not_provisioned`, never skipped silently.
"""

from __future__ import annotations

import functools
import json
import secrets
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import clear_caches as clear_powertools_caches
from cfnlint.decode import cfn_yaml

from local_cloud import cognito
from local_cloud.cloud import Cloud
from local_cloud.scheduler import provisioner as scheduler
from local_cloud.setup_costs import paid_once_per_process
from local_cloud.stack import Attributes, Provisioner
from local_cloud.template import PSEUDO_PARAMETERS, ROOT, Template

# Types that exist only to wire things together or to describe them; locally they have no behaviour.
NOTHING_TO_PROVISION = frozenset(
    {
        "AWS::Lambda::Permission",
        "AWS::ApiGateway::Account",
        "AWS::SQS::QueuePolicy",  # resource policies: the local IAM checks identity policies only
        "AWS::SNS::TopicPolicy",
        "AWS::CloudWatch::Alarm",  # nothing raises metrics locally; the alarms are checked on the template
        # Traffic shifting between a function's versions happens at deploy time; locally one version runs.
        "AWS::CodeDeploy::Application",
        "AWS::CodeDeploy::DeploymentGroup",
        "AWS::CloudWatch::Dashboard",  # likewise: no metrics to show; tests/unit checks what it shows
    }
)

# Types moto does not run, that this package runs itself: the type, and which module does it.
EMULATED_HERE = {
    "AWS::Lambda::EventSourceMapping": "local_cloud.event_sources (streams and queues to functions)",
    "AWS::ApiGateway::RestApi": "local_cloud.api_gateway (the REST API and its Cognito authorizer)",
    "AWS::ApiGateway::Deployment": "local_cloud.api_gateway",
    "AWS::ApiGateway::Stage": "local_cloud.api_gateway (its name; no throttling or access logs)",
}


@functools.cache
def aws_client(service: str) -> Any:
    """One client per service for a provisioning run (creating one costs more than most calls it makes)."""
    return boto3.client(service)  # type: ignore[call-overload]  # stubs type literal service names only


def _table(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    client = aws_client("dynamodb")
    request: dict[str, Any] = {
        "TableName": properties.get("TableName", logical_id),
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    for name in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
        if name in properties:
            request[name] = properties[name]
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    if "SSESpecification" in properties:
        request["SSESpecification"] = {"Enabled": properties["SSESpecification"]["SSEEnabled"]}
    if "DeletionProtectionEnabled" in properties:
        request["DeletionProtectionEnabled"] = bool(properties["DeletionProtectionEnabled"])
    table = client.create_table(**request)["TableDescription"]
    if "TimeToLiveSpecification" in properties:
        client.update_time_to_live(
            TableName=table["TableName"], TimeToLiveSpecification=properties["TimeToLiveSpecification"]
        )
    return table["TableName"], {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn")}


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
)


def _queue(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    client = aws_client("sqs")
    fifo = bool(properties.get("FifoQueue"))
    name = properties.get("QueueName", logical_id + (".fifo" if fifo else ""))
    attributes: dict[Any, str] = {
        key: str(properties[key]).lower() if isinstance(properties[key], bool) else str(properties[key])
        for key in _QUEUE_ATTRIBUTES
        if key in properties
    }
    for policy in ("RedrivePolicy", "RedriveAllowPolicy"):
        if policy in properties:
            attributes[policy] = json.dumps(properties[policy])
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _event_bus(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    name = properties.get("Name", logical_id)
    arn = aws_client("events").create_event_bus(Name=name)["EventBusArn"]
    return name, {"Arn": arn, "Name": name}


def _topic(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    attributes: dict[str, Any] = {
        key: str(properties[key]) for key in ("KmsMasterKeyId", "DisplayName") if key in properties
    }
    if properties.get("FifoTopic"):
        attributes["FifoTopic"] = "true"
    name = properties.get("TopicName", logical_id)
    arn = aws_client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return arn, {"TopicArn": arn, "TopicName": name}


def _kms_key(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    key = aws_client("kms").create_key(
        Description=properties.get("Description", logical_id), Policy=json.dumps(properties["KeyPolicy"])
    )["KeyMetadata"]
    return key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]}


def _log_group(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    name = properties.get("LogGroupName", f"/local/{logical_id}")
    client = aws_client("logs")
    client.create_log_group(logGroupName=name)
    if "RetentionInDays" in properties:
        client.put_retention_policy(logGroupName=name, retentionInDays=int(properties["RetentionInDays"]))
    region, account = PSEUDO_PARAMETERS["AWS::Region"], PSEUDO_PARAMETERS["AWS::AccountId"]
    return name, {"Arn": f"arn:aws:logs:{region}:{account}:log-group:{name}:*"}


def _arn(service: str, resource: str) -> str:
    region = "" if service == "iam" else PSEUDO_PARAMETERS["AWS::Region"]
    return f"arn:aws:{service}:{region}:{PSEUDO_PARAMETERS['AWS::AccountId']}:{resource}"


def _function(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    # Functions run in-process (local_cloud.functions); the name and ARN are what the template sees.
    name = properties.get("FunctionName", logical_id)
    return name, {"Arn": _arn("lambda", f"function:{name}")}


def _version(_logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    # Locally a function has one version, its code as it is now; the ARN is what aliases and !Ref see.
    return _arn("lambda", f"function:{properties['FunctionName']}:1"), {"Version": "1"}


def _alias(_logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    # An alias's ARN is the function's, qualified; an invocation of it runs the in-process function.
    return _arn("lambda", f"function:{properties['FunctionName']}:{properties['Name']}"), {}


def _layer(logical_id: str, _properties: dict[str, Any]) -> tuple[Any, Attributes]:
    # Layers are on the in-process functions' import path (see pyproject.toml); only the ARN is needed.
    return _arn("lambda", f"layer:{logical_id}:1"), {}


def _role(logical_id: str, _properties: dict[str, Any]) -> tuple[Any, Attributes]:
    # A name and an ARN here; where IAM is enforced (make local), local_cloud.iam creates it with its policies.
    return logical_id, {"Arn": _arn("iam", f"role/{logical_id}"), "RoleId": logical_id}


def _state_machine(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    """The ASL file with its DefinitionSubstitutions applied as text, the way CloudFormation applies them."""
    definition = properties.get("Definition") or (ROOT / properties["DefinitionS3Location"]["Key"]).read_text()
    if not isinstance(definition, str):
        definition = json.dumps(definition)
    for name, value in properties.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    name = properties.get("StateMachineName", logical_id)
    arn = aws_client("stepfunctions").create_state_machine(
        name=name,
        definition=json.dumps(cfn_yaml.loads(definition)),  # the ASL may be YAML; the API takes JSON
        roleArn=properties["RoleArn"],
        type=properties.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    return arn, {"Arn": arn, "Name": name}


def _rule(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    events = aws_client("events")
    name = properties.get("Name", logical_id)
    bus = properties.get("EventBusName", "default")
    request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": properties.get("State", "ENABLED")}
    if "EventPattern" in properties:
        request["EventPattern"] = json.dumps(properties["EventPattern"])
    if "ScheduleExpression" in properties:
        request["ScheduleExpression"] = properties["ScheduleExpression"]
    arn = events.put_rule(**request)["RuleArn"]
    if properties.get("Targets"):
        events.put_targets(Rule=name, EventBusName=bus, Targets=properties["Targets"])
    return name, {"Arn": arn}


def _archive(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    request: dict[str, Any] = {"ArchiveName": properties.get("ArchiveName", logical_id)}
    request["EventSourceArn"] = properties["SourceArn"]
    if "EventPattern" in properties:
        request["EventPattern"] = json.dumps(properties["EventPattern"])
    if "RetentionDays" in properties:
        request["RetentionDays"] = int(properties["RetentionDays"])
    arn = aws_client("events").create_archive(**request)["ArchiveArn"]
    return request["ArchiveName"], {"Arn": arn}


def _subscription(_logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    attributes: dict[str, str] = {
        name: json.dumps(properties[name]) if isinstance(properties[name], dict) else str(properties[name]).lower()
        for name in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy")
        if name in properties
    }
    if "FilterPolicyScope" in attributes:
        attributes["FilterPolicyScope"] = str(properties["FilterPolicyScope"])
    arn = aws_client("sns").subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=properties["Protocol"],
        Endpoint=properties["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return arn, {}


def _kinesis_stream(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    client = aws_client("kinesis")
    name = properties.get("Name", logical_id)
    request: dict[str, Any] = {"StreamName": name, "StreamModeDetails": properties.get("StreamModeDetails", {})}
    if properties.get("ShardCount") is not None:  # !Ref AWS::NoValue resolves to None
        request["ShardCount"] = int(properties["ShardCount"])
    client.create_stream(**request)
    if "RetentionPeriodHours" in properties:
        client.increase_stream_retention_period(
            StreamName=name, RetentionPeriodHours=int(properties["RetentionPeriodHours"])
        )
    if encryption := properties.get("StreamEncryption"):
        client.start_stream_encryption(
            StreamName=name, EncryptionType=encryption["EncryptionType"], KeyId=encryption["KeyId"]
        )
    arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return name, {"Arn": arn}


def _secret(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    value = properties.get("SecretString")
    if value is None:
        # GenerateSecretString: a fresh random value, as Secrets Manager would make one.
        value = secrets.token_urlsafe(int(properties.get("GenerateSecretString", {}).get("PasswordLength", 32)))
    arn = aws_client("secretsmanager").create_secret(Name=properties.get("Name", logical_id), SecretString=value)["ARN"]
    return arn, {"Id": arn}


PROVISIONERS: dict[str, Provisioner] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::Events::EventBus": _event_bus,
    "AWS::SNS::Topic": _topic,
    "AWS::KMS::Key": _kms_key,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::Lambda::Version": _version,
    "AWS::Lambda::Alias": _alias,
    "AWS::IAM::Role": _role,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::Rule": _rule,
    "AWS::Events::Archive": _archive,
    "AWS::SNS::Subscription": _subscription,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Kinesis::Stream": _kinesis_stream,
    **cognito.PROVISIONERS,
    **scheduler.PROVISIONERS,
}


def provision(template: Template) -> Cloud:
    """Create every resource a provisioner exists for, each after the resources it refers to."""
    with paid_once_per_process():
        return _provision(template)


def _provision(template: Template) -> Cloud:
    cloud = Cloud(template)
    aws_client.cache_clear()  # this run's clients: the endpoint and credentials may differ from the last run's
    # Warm handlers' cached secrets and clients belong to the previous cloud.
    clear_powertools_caches()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
    pending = {
        logical_id: spec
        for logical_id, spec in template.resources.items()
        if "Condition" not in spec or template.condition(spec["Condition"])
    }
    while pending:
        progressed = False
        for logical_id, spec in list(pending.items()):
            provisioner = PROVISIONERS.get(spec["Type"])
            if provisioner is None:
                if spec["Type"] not in NOTHING_TO_PROVISION | EMULATED_HERE.keys():
                    cloud.not_provisioned[logical_id] = spec["Type"]
                del pending[logical_id]
                progressed = True
                continue
            try:
                properties = template.resolve(spec.get("Properties", {}))
            except LookupError:
                continue  # refers to something not made yet; try again next round
            physical_id, attributes = provisioner(logical_id, properties)
            template.physical_ids[logical_id] = physical_id
            template.attributes.update({(logical_id, name): value for name, value in attributes.items()})
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise LookupError(f"cannot resolve references of {sorted(pending)}")
    return cloud
