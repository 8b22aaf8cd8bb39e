"""ministack's gaps, in one place: where make deploy-check's CloudFormation engine differs from AWS, and what we do.

ministack (PyPI `ministack[full]`, pinned in requirements-ministack.txt) deploys this template with the real
`sam deploy`; a few things it does not do as AWS does. Each is met here or named here, with its reason:
the deploy parameters that leave a resource out (checked against samconfig.toml's [ministack] environment
by tests/unit/test_ministack_gaps.py), the one build rewrite, how its API is addressed, and the semantics it does
not apply, which make a scenario that depends on one skip on ministack only, with the reason printed.
None is filed upstream from here (no internet on this machine): the README's "ministack's gaps" holds the
report text for each, to file at UPSTREAM_ISSUES.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

UPSTREAM_ISSUES = "https://github.com/ministackorg/ministack/issues"
VERSION = "1.5.33"  # requirements-ministack.txt

# Template parameters `sam deploy --config-env ministack` must pass, each for one gap.
DEPLOY_OVERRIDES: dict[str, tuple[str, str]] = {
    # ministack runs a function with its own host Python (LAMBDA_EXECUTOR=local), so the layer's compiled
    # wheels (pydantic-core) must be built for the host: x86_64 here, not Lambda's arm64 default.
    "Architecture": ("x86_64", "functions run on ministack's host Python, so the layer is built for the host"),
    # CreateStack fails with "Unsupported resource type" for AWS::EventSchemas::Registry,
    # AWS::EventSchemas::Schema and AWS::Events::Archive; nothing reads them at run time.
    "EventCatalogue": ("Disabled", "ministack refuses the schema registry and archive resource types"),
    # It has no CodeDeploy (no AWS::CodeDeploy::* resource types), so a DeploymentPreference cannot deploy;
    # the live aliases are still published and invoked, they move to each new version at once.
    # (Passed as the built template's default too: see overrides_as_defaults.)
    "GradualDeployments": ("false", "ministack has no CodeDeploy to shift the live aliases' traffic"),
}


# Not ministack's gap but SAM CLI's on any endpoint other than AWS's: `sam deploy` writes a nested stack's
# TemplateURL as `<endpoint>/<bucket>/<key>` (http://127.0.0.1:<port>/...), which `sam delete` then fails to
# parse ("not a valid S3 url": it takes s3:// and https://s3... only), before it deletes anything.
SAM_DELETE = "sam delete cannot parse the http:// TemplateURL sam deploy writes for a nested stack on a custom endpoint"


class Semantics(StrEnum):
    """Behaviour of AWS a scenario may depend on."""

    STREAM_PARTIAL_BATCH = "a stream mapping's partial batch response (ReportBatchItemFailures)"
    STREAM_BISECT_AND_RETRY_LIMIT = "a stream mapping's BisectBatchOnFunctionError and MaximumRetryAttempts"
    RULE_TARGET_DLQ = "an EventBridge rule target's DeadLetterConfig and RetryPolicy"
    SCHEDULER_RETRIES = "EventBridge Scheduler's RetryPolicy and DeadLetterConfig"
    # Its worker reports every exception a handler raises as errorType "Runtime.HandlerError" (AWS: the
    # exception's class name), so a state machine's Catch on a business error (OutOfStock) never matches.
    FUNCTION_ERROR_TYPE = "a function error's errorType (the exception's class name), which a Catch matches"
    # A lambda:invoke.waitForTaskToken task whose function raises keeps waiting for a callback until its
    # TimeoutSeconds (AWS fails the task with the function's error at once).
    CALLBACK_TASK_FUNCTION_ERROR = "the failure of a waitForTaskToken task whose function raised"


# What ministack does not apply: found deploying this template onto it and running the suite there.
MISSING_SEMANTICS: dict[Semantics, str] = {
    semantics: f"ministack {VERSION} does not apply {semantics.value}" for semantics in Semantics
}


# The ASL fields that take a number. A DefinitionSubstitutions placeholder in one (`TimeoutSeconds:
# ${PaymentTimeoutSeconds}`) is a number once AWS has substituted it into the YAML text and parsed that;
# in JSON it must stay unquoted for the substituted text to be a number too.
ASL_NUMBER_FIELDS = frozenset({
    "TimeoutSeconds", "HeartbeatSeconds", "Seconds", "IntervalSeconds", "MaxAttempts", "BackoffRate",
    "MaxDelaySeconds", "MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage",
})  # fmt: skip
PLACEHOLDER = re.compile(r"\$\{\w+\}")


def asl_as_json(asl_yaml: str) -> str:
    """An ASL definition written in YAML as JSON text, placeholders in number fields left unquoted."""
    numbers: list[str] = []

    def mark(node: Any) -> Any:
        if isinstance(node, list):
            return [mark(item) for item in node]
        if not isinstance(node, dict):
            return node
        marked = {}
        for key, value in node.items():
            if key in ASL_NUMBER_FIELDS and isinstance(value, str) and PLACEHOLDER.fullmatch(value):
                numbers.append(value)
                marked[key] = f"@number{len(numbers) - 1}@"
            else:
                marked[key] = mark(value)
        return marked

    text = json.dumps(mark(yaml.safe_load(asl_yaml)), indent=2)
    for index, placeholder in enumerate(numbers):
        text = text.replace(f'"@number{index}@"', placeholder)
    return text


def definitions_as_json(built_template: Path) -> list[Path]:
    """Give each state machine of a built template its definition as JSON; returns the files written.

    `sam deploy` uploads a DefinitionUri file as it is; AWS substitutes DefinitionSubstitutions into its
    text and accepts YAML or JSON. ministack substitutes, then cannot parse YAML. The same definition,
    converted here in the build output only, leaves statemachines/*.asl.yaml the format it is.
    """
    text = built_template.read_text()
    written: list[Path] = []

    def to_json(match: re.Match[str]) -> str:
        source = (built_template.parent / match.group(2)).resolve()
        target = built_template.parent / f"{source.name.removesuffix('.yaml')}.json"
        target.write_text(asl_as_json(source.read_text()))
        written.append(target)
        return f"{match.group(1)}{target.name}"

    built_template.write_text(re.sub(r"^(\s+DefinitionUri: )(\S+\.asl\.ya?ml)$", to_json, text, flags=re.MULTILINE))
    return written


def overrides_as_defaults(built_template: Path) -> None:
    """Make DEPLOY_OVERRIDES the built template's parameter defaults.

    ministack runs the SAM transform without the stack's parameter values (it passes none), so what SAM
    resolves at transform time, such as DeploymentPreference's Enabled, takes each parameter's default.
    CloudFormation's own Ref and Condition do get the values; the defaults make both agree.
    `sam build` writes intrinsics in their long form (`Ref:`), so the built template is plain YAML.
    """
    template = yaml.safe_load(built_template.read_text())
    for name, (value, _reason) in DEPLOY_OVERRIDES.items():
        template["Parameters"][name]["Default"] = value
    built_template.write_text(yaml.safe_dump(template, sort_keys=False))


def api_url(deployed_url: str, endpoint: str) -> str:
    """Where ministack serves a REST API stage the stack's outputs name by its AWS host.

    Its execute-api host is `{id}.execute-api.localhost`, which 127.0.0.1 does not resolve; its path form
    `/_aws/execute-api/{id}/{stage}/...` needs no DNS.
    """
    match = re.fullmatch(r"https://(\w+)\.execute-api\.[^/]+/(.*)", deployed_url)
    if not match:
        return deployed_url
    return f"{endpoint.rstrip('/')}/_aws/execute-api/{match.group(1)}/{match.group(2)}"
