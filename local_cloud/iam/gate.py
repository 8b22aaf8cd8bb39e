"""The template's roles on the local AWS, credentials for each, and the gate in front of moto that checks their calls.

`Roles.create` makes every AWS::IAM::Role of the template on the local IAM (its inline policies as the
SAM transform wrote them, its managed policies attached, AWS's own managed policies from moto's copy of
them). `Roles.credentials` issues a role's credentials through STS AssumeRole. `Gate` wraps moto's WSGI
app: a request signed with a role's credentials is checked against that role's policies, as read back
from the local IAM, and refused as AWS refuses it; a request signed with any other key is the local
cloud's own (the account's administrator) and passes unchecked.
"""

from __future__ import annotations

import functools
import io
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from local_cloud.account import FAKE_CREDENTIALS
from local_cloud.iam.policy import Decision, decide, statements_of
from local_cloud.iam.requests import Asked, asked_of, signature_of
from local_cloud.template import PSEUDO_PARAMETERS, Template

AWS_MANAGED = "arn:aws:iam::aws:policy/"
# The Step Functions executor's Lambda calls wait as long as a task may run; a sandbox enforces the timeout.
TASK_READ_SECONDS = 900
TASK_CONNECTIONS = 64  # of one state machine role's client: its tasks waiting on Lambda at once, never queued


@dataclass(frozen=True)
class Principal:
    """Whoever holds a role's credentials: a function, a state machine, a rule or schedule target."""

    name: str  # the logical id of what uses the role, as the timeline names it
    role_arn: str
    session_arn: str  # what AWS's messages call the caller: the assumed role's session
    statements: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Denial:
    principal: Principal
    action: str
    resource: str
    decision: Decision

    def message(self) -> str:
        """AWS's words for it."""
        who = self.principal.session_arn
        head = f"User: {who} is not authorized to perform: {self.action} on resource: {self.resource}"
        if self.decision is Decision.EXPLICITLY_DENIED:
            return f"{head} with {self.decision.value}"
        return f"{head} because {self.decision.value} the {self.action} action"

    def text(self) -> str:
        role = self.principal.role_arn.rsplit("/", 1)[-1]
        return f"{self.principal.name} denied {self.action} on {self.resource} (role {role})"


class AccessDenied(Exception):
    """A call the caller's role does not allow (raised by the checks the local cloud makes in this process)."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.message())
        self.denial = denial


@functools.cache
def _aws_managed_policies() -> dict[str, Any]:
    return dict(json.loads(aws_managed_policies_data))  # about a second: read once per process, only when enforcing


def _admin(service: str) -> Any:
    """A client of the local AWS with the local cloud's own (administrator) credentials."""
    return boto3.client(  # type: ignore[call-overload]  # stubs type literal service names only
        service,
        region_name=FAKE_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


Observe = Callable[[Denial], None]


class Roles:
    """The template's roles as created on the local IAM, and the principals their credentials were issued to."""

    def __init__(self, observe: Observe | None = None) -> None:
        self._observe = observe
        self._by_key: dict[str, Principal] = {}
        self._credentials: dict[str, dict[str, str]] = {}  # role ARN -> its issued credentials
        self._users: dict[str, str] = {}  # role ARN -> the logical id of what uses it
        self._lock = threading.Lock()

    def create(self, template: Template) -> None:
        """Every role of the template on the local IAM, with its policies; remembers which resource uses which."""
        iam = _admin("iam")
        for logical_id, spec in template.of_type("AWS::IAM::Role").items():
            properties = template.resolve(spec.get("Properties", {}))
            name = str(properties.get("RoleName", logical_id))
            iam.create_role(
                RoleName=name,
                Path=properties.get("Path", "/"),
                AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]),
            )
            for policy in properties.get("Policies") or []:
                # The SAM transform writes no Version; IAM takes that, moto's validator wants one (no variables differ).
                document = {"Version": "2012-10-17"} | policy["PolicyDocument"]
                iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
            for arn in properties.get("ManagedPolicyArns") or []:
                self._ensure_aws_managed(str(arn))
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        self._users = _role_users(template)

    def _ensure_aws_managed(self, arn: str) -> None:
        """An AWS managed policy in the local account, from moto's copy of AWS's list (moto loads none by default)."""
        if not arn.startswith(AWS_MANAGED):
            return
        backend = iam_backends[str(PSEUDO_PARAMETERS["AWS::AccountId"])]["global"]
        if arn not in backend.managed_policies:
            name = arn.rsplit("/", 1)[-1]
            data = _aws_managed_policies()[name]
            backend.managed_policies[arn] = AWSManagedPolicy.from_data(
                name, backend.account_id, backend.region_name, data
            )

    def credentials(self, role_arn: str) -> dict[str, str]:
        """The role's credentials (STS AssumeRole on the local AWS), as the variables the Lambda runtime sets."""
        with self._lock:
            if role_arn not in self._credentials:
                name = self._users.get(role_arn, role_arn.rsplit("/", 1)[-1])
                assumed = _admin("sts").assume_role(RoleArn=role_arn, RoleSessionName=name[:64])
                issued = assumed["Credentials"]
                self._by_key[issued["AccessKeyId"]] = Principal(
                    name=name,
                    role_arn=role_arn,
                    session_arn=assumed["AssumedRoleUser"]["Arn"],
                    statements=tuple(statements_of(_policies_of(role_arn.rsplit("/", 1)[-1]))),
                )
                self._credentials[role_arn] = {
                    "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
                    "AWS_SESSION_TOKEN": issued["SessionToken"],
                }
            return dict(self._credentials[role_arn])

    def principal(self, access_key: str) -> Principal | None:
        return self._by_key.get(access_key)

    def denial(self, principal: Principal, checks: Iterable[tuple[str, str]]) -> Denial | None:
        """The first of these (action, resource) checks the principal's role does not allow, told to the observer."""
        for action, resource in checks:
            decision = decide(principal.statements, action, resource)
            if decision is not Decision.ALLOWED:
                denial = Denial(principal, action, resource, decision)
                if self._observe:
                    self._observe(denial)
                return denial
        return None

    def authorise(self, role_arn: str, action: str, resource: str) -> None:
        """A call the local cloud makes in this process on a role's behalf (a rule's or a schedule's target).

        AccessDenied if the role does not allow it.
        """
        key = self.credentials(role_arn)["AWS_ACCESS_KEY_ID"]
        denial = self.denial(self._by_key[key], [(action, resource)])
        if denial:
            raise AccessDenied(denial)


def _policies_of(role_name: str) -> list[dict[str, Any]]:
    """The role's policy documents as the local IAM holds them: inline, then attached."""
    iam = _admin("iam")
    documents = [
        iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        documents.append(version["PolicyVersion"]["Document"])
    return [json.loads(document) if isinstance(document, str) else document for document in documents]


def _role_users(template: Template) -> dict[str, str]:
    """Role ARN -> the logical id of the function, state machine, rule or schedule that uses it."""
    users: dict[str, str] = {}
    for logical_id, spec in template.resources.items():
        properties = spec.get("Properties", {})
        roles = [properties.get("Role"), properties.get("RoleArn"), properties.get("Target", {}).get("RoleArn")]
        roles += [target.get("RoleArn") for target in properties.get("Targets", [])]
        for role in roles:
            if role is not None:
                try:
                    users.setdefault(str(template.resolve(role)), logical_id)
                except LookupError:  # a resource not provisioned locally
                    continue
    return users


# ---------------------------------------------------------------------------------------------------- the gate

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Gate:
    """moto's WSGI app behind IAM: each call signed with a role's credentials is checked before moto sees it."""

    def __init__(self, app: WsgiApp, roles: Roles) -> None:
        self._app = app
        self._roles = roles

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        signature = signature_of(environ)
        principal = self._roles.principal(signature.access_key) if signature else None
        if signature is None or principal is None:  # the local cloud's own call
            return self._app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        asked = asked_of(environ, body, signature)
        denial = self._roles.denial(principal, asked.checks)
        if denial is None:
            return self._app(environ, start_response)
        return _refuse(start_response, asked, signature.service, denial)


def _refuse(start_response: Callable[..., Any], asked: Asked, service: str, denial: Denial) -> list[bytes]:
    """AccessDeniedException (JSON protocols: HTTP 400) or AccessDenied (query protocol: an XML 403), as AWS answers."""
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    if asked.json_protocol:
        status = "403 Forbidden" if service == "lambda" else "400 Bad Request"
        body = json.dumps({"__type": "AccessDeniedException", "message": denial.message()}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", "AccessDeniedException")]
        if service == "sqs":  # SQS's JSON protocol names its query-protocol code too, which boto3 reports
            headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
    else:
        status = "403 Forbidden"
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{_xml_text(denial.message())}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@contextmanager
def state_machines_sign_as_their_roles(roles: Roles) -> Iterator[None]:
    """moto's Step Functions executor calls Lambda with the state machine role's credentials, which the gate checks.

    One client per role, service and region, kept: a client is thread-safe, and building one per task (as moto
    does) cost more of the cloud's process than the task's own call, and opened a new connection each time.
    """
    moto_client_for = lambda_eval_utils.boto_client_for  # type: ignore[attr-defined]  # imported there, not exported
    clients: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if state_credentials is None or not getattr(state_credentials, "role_arn", None):
            return moto_client_for(region=region, service=service, state_credentials=state_credentials)
        role_arn = str(state_credentials.role_arn)
        with lock:
            if (role_arn, service, region) not in clients:
                clients[role_arn, service, region] = _role_client(roles.credentials(role_arn), service, region)
            return clients[role_arn, service, region]

    lambda_eval_utils.boto_client_for = client_for  # type: ignore[attr-defined]  # the bridge is this replacement
    try:
        yield
    finally:
        lambda_eval_utils.boto_client_for = moto_client_for  # type: ignore[attr-defined]  # as above


def _role_client(credentials: dict[str, str], service: str, region: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]  # stubs type literal service names only
        service,
        region_name=region,
        endpoint_url=f"http://localhost:{moto_server_port()}",
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
        # As many connections as tasks may wait on Lambda at once: a machine's functions' sandboxes.
        config=Config(
            parameter_validation=False,
            retries={"total_max_attempts": 1},
            read_timeout=TASK_READ_SECONDS,
            max_pool_connections=TASK_CONNECTIONS,
        ),
    )
