"""What a request to the local AWS asks IAM for: its caller's access key, and each (action, resource ARN) it needs.

Read from the request as AWS reads it: the signing service and key from SigV4's credential scope, the
operation from X-Amz-Target (JSON protocols), Action (query protocol) or the path (Lambda's REST API), the
resources from the parameters that name them. An operation with no resource of its own is checked against
`*`, as IAM does for actions without resource-level permissions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.secretsmanager.exceptions import SecretsManagerClientError
from moto.secretsmanager.models import secretsmanager_backends

from local_cloud.template import PSEUDO_PARAMETERS

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")

Check = tuple[str, str]  # (action, resource ARN)


@dataclass(frozen=True)
class Signature:
    access_key: str
    region: str
    service: str  # the signing name, which is IAM's service prefix for the services checked here


def signature_of(environ: dict[str, Any]) -> Signature | None:
    """Who signed the request (a header or a presigned URL's query), if it is signed with SigV4."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    presigned = "Credential=" + unquote(_query_value(environ, "X-Amz-Credential"))
    found = _CREDENTIAL.search(header) or _CREDENTIAL.search(presigned)
    return Signature(*found.groups()) if found else None


def _query_value(environ: dict[str, Any], name: str) -> str:
    return str(parse_qs(environ.get("QUERY_STRING", "")).get(name, [""])[0])


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{PSEUDO_PARAMETERS['AWS::AccountId']}:{resource}"


@dataclass(frozen=True)
class Asked:
    """One request, as IAM sees it."""

    operation: str
    checks: list[Check]
    json_protocol: bool  # answered in JSON (AccessDeniedException) rather than XML (AccessDenied)


def asked_of(environ: dict[str, Any], body: bytes, signature: Signature) -> Asked:
    service, region = signature.service, signature.region
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation = target.rsplit(".", 1)[-1]
        parameters = json.loads(body or b"{}")
        return Asked(operation, _checks(service, region, operation, parameters), json_protocol=True)
    invoked = _LAMBDA_INVOKE.match(environ.get("PATH_INFO", ""))
    if service == "lambda" and invoked:
        name = unquote(invoked.group(1))
        qualifier = _query_value(environ, "Qualifier")
        arn = name if name.startswith("arn:") else _arn("lambda", region, f"function:{name}")
        return Asked("Invoke", [("lambda:InvokeFunction", f"{arn}:{qualifier}" if qualifier else arn)], True)
    form = {key: values[0] for key, values in parse_qs(body.decode(errors="replace")).items()}
    form |= {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    operation = form.get("Action", environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", ""))
    return Asked(operation, _checks(service, region, operation, form), json_protocol=False)


def _dynamodb(region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    def table(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else _arn("dynamodb", region, f"table/{name}")
        return f"{arn}/index/{index}" if index else arn

    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [(f"dynamodb:{operation}", table(name)) for name in parameters.get("RequestItems", {})]
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        # A transaction needs each item's own action on its table.
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem"}
        kinds["ConditionCheck"] = "ConditionCheckItem"
        return [
            (f"dynamodb:{kinds[kind]}", table(item[kind]["TableName"]))
            for item in parameters.get("TransactItems", [])
            for kind in item
        ]
    if "TableName" in parameters:
        return [(f"dynamodb:{operation}", table(parameters["TableName"], parameters.get("IndexName")))]
    return [(f"dynamodb:{operation}", "*")]


def _sqs(region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    if "QueueUrl" in parameters:
        return [(f"sqs:{operation}", _arn("sqs", region, str(parameters["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]))]
    if "QueueName" in parameters:
        return [(f"sqs:{operation}", _arn("sqs", region, str(parameters["QueueName"])))]
    return [(f"sqs:{operation}", "*")]


def _events(region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    def bus(name: str) -> str:
        return name if name.startswith("arn:") else _arn("events", region, f"event-bus/{name}")

    if operation == "PutEvents":
        entries = parameters.get("Entries", [])
        return [("events:PutEvents", bus(entry.get("EventBusName", "default"))) for entry in entries]
    return [(f"events:{operation}", bus(parameters["EventBusName"]) if "EventBusName" in parameters else "*")]


def _states(_region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    arn = parameters.get("executionArn") or parameters.get("stateMachineArn") or "*"  # SendTask*: no resource
    return [(f"states:{operation}", str(arn))]


def _secretsmanager(region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    secret = parameters.get("SecretId")
    if not secret:
        return [(f"secretsmanager:{operation}", "*")]
    try:  # a policy names a secret by its ARN, which ends in a random suffix a name does not carry
        arn = secretsmanager_backends[str(PSEUDO_PARAMETERS["AWS::AccountId"])][region].describe_secret(str(secret)).arn
    except SecretsManagerClientError:  # no such secret: IAM checks the ARN as given; moto answers NotFound
        arn = str(secret)
    return [(f"secretsmanager:{operation}", arn)]


def _sns(_region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    return [(f"sns:{operation}", str(parameters.get("TopicArn") or parameters.get("TargetArn") or "*"))]


def _kinesis(region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    name = parameters.get("StreamName")
    arn = parameters.get("StreamARN") or (_arn("kinesis", region, f"stream/{name}") if name else "*")
    return [(f"kinesis:{operation}", str(arn))]


_SERVICES: dict[str, Callable[[str, str, dict[str, Any]], list[Check]]] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "events": _events,
    "states": _states,
    "secretsmanager": _secretsmanager,
    "sns": _sns,
    "kinesis": _kinesis,
}


def _checks(service: str, region: str, operation: str, parameters: dict[str, Any]) -> list[Check]:
    reader = _SERVICES.get(service)
    return reader(region, operation, parameters) if reader else [(f"{service}:{operation}", "*")]
