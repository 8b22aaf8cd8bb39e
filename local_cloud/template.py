"""template.yaml, as CloudFormation sees it after the SAM transform, with intrinsics resolved locally.

Nested applications with a local template (`AWS::Serverless::Application`, `Location: stacks/...`) are
inlined: their resources join the parent's, with the values the parent passes, so the local cloud and the
tests see the whole application in one place.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from local_cloud.sam_cli import transform

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
NESTED_TEMPLATES = ROOT / "stacks"  # the local templates template.yaml nests
LOCAL_BUCKET = "local-code"  # stands in for the S3 bucket `sam deploy` uploads code to

REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "orders-local",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


def function_name_of(name_or_arn: str) -> str:
    """A function's name from its name or its ARN, without any qualifier (a version or an alias)."""
    return name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]


def _local_code_as_s3(sam_template: dict[str, Any]) -> None:
    """Point CodeUri/ContentUri at a fake bucket, as `sam package` would, keeping the folder as the key."""
    for resource in sam_template["Resources"].values():
        properties = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(name), str) and not properties[name].startswith("s3://"):
                properties[name] = f"s3://{LOCAL_BUCKET}/{properties[name].rstrip('/')}"


def _load(path: Path) -> dict[str, Any]:
    # A JSON round trip turns cfn-lint's position-tracking nodes into plain dicts.
    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))
    return loaded


def _is_local_application(spec: dict[str, Any]) -> bool:
    location = spec.get("Properties", {}).get("Location")
    return spec.get("Type") == "AWS::Serverless::Application" and isinstance(location, str) and "://" not in location


def _with_parameters(value: Any, passed: dict[str, Any]) -> Any:
    """A nested template's `value` with each of its parameters replaced by what the parent passes."""
    if isinstance(value, list):
        return [_with_parameters(item, passed) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in passed:
        return passed[value["Ref"]]
    if set(value) == {"Fn::Sub"}:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        variables = {name: _with_parameters(item, passed) for name, item in variables.items()}

        def inline(match: re.Match[str]) -> str:
            """`${Param}` as the text it stands for (`${Name}`, `${Name.Attr}`) when the parent passes a Ref/GetAtt."""
            name = match.group(1)
            given = passed.get(name) if name not in variables else None
            if (inlined := _as_sub_text(given)) is not None:
                return inlined
            if given is not None:
                variables[name] = given
            return match.group(0)

        text = re.sub(r"\$\{([^!}.][^}.]*)\}", inline, text)
        return {"Fn::Sub": [text, variables] if variables else text}
    return {key: _with_parameters(item, passed) for key, item in value.items()}


def _as_sub_text(value: Any) -> str | None:
    """`${...}` text that stands for a Ref or GetAtt value inside a Fn::Sub string; None for anything else."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return "${" + str(value["Ref"]) + "}"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        return "${" + (target if isinstance(target, str) else ".".join(target)) + "}"
    return None


def _with_outputs(value: Any, outputs: dict[tuple[str, str], Any]) -> Any:
    """`value` with each `!GetAtt <Application>.Outputs.<Name>` (or `${<Application>.Outputs.<Name>}` in a
    Fn::Sub) replaced by that output's value."""
    if isinstance(value, list):
        return [_with_outputs(item, outputs) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        logical_id, attribute = target.split(".", 1) if isinstance(target, str) else target
        if (logical_id, attribute) in outputs:
            return outputs[(logical_id, attribute)]
    if set(value) == {"Fn::Sub"}:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        variables = {name: _with_outputs(item, outputs) for name, item in variables.items()}

        def inline(match: re.Match[str]) -> str:
            key = (match.group(1), f"Outputs.{match.group(2)}")
            if match.group(0)[2:-1] in variables or key not in outputs:
                return match.group(0)
            if (inlined := _as_sub_text(outputs[key])) is not None:
                return inlined
            variables[f"{key[0]}Outputs{match.group(2)}"] = outputs[key]
            return "${" + f"{key[0]}Outputs{match.group(2)}" + "}"

        text = re.sub(r"\$\{(\w+)\.Outputs\.(\w+)\}", inline, text)
        return {"Fn::Sub": [text, variables] if variables else text}
    return {key: _with_outputs(item, outputs) for key, item in value.items()}


def _inline_applications(template: dict[str, Any], folder: Path) -> None:
    """Replace each local nested application of `template` by its resources, as CloudFormation would nest them."""
    resources: dict[str, Any] = template["Resources"]
    outputs: dict[tuple[str, str], Any] = {}
    for app_id, app in [(name, spec) for name, spec in resources.items() if _is_local_application(spec)]:
        child_path = folder / app["Properties"]["Location"]
        child = _load(child_path)
        _inline_applications(child, child_path.parent)
        passed = {
            name: spec["Default"] for name, spec in child.get("Parameters", {}).items() if "Default" in spec
        } | app["Properties"].get("Parameters", {})
        child = _with_parameters(child, passed)
        for name, spec in child.get("Resources", {}).items():
            if name in resources or name in template.get("Parameters", {}):
                raise ValueError(f"{child_path.name}: {name} is also a logical id of its parent")
            if "Condition" in app:  # a conditional application's resources exist only under its condition
                if "Condition" in spec:
                    raise NotImplementedError(f"{name}: a condition inside a conditional application")
                spec["Condition"] = app["Condition"]
            for uri in ("CodeUri", "ContentUri", "DefinitionUri"):  # paths are relative to the nested file
                local = spec.get("Properties", {}).get(uri)
                if isinstance(local, str) and "://" not in local:
                    spec["Properties"][uri] = str((child_path.parent / local).relative_to(folder))
            resources[name] = spec
        for name, condition in child.get("Conditions", {}).items():
            # The same test under the same name (IsProd on the Environment passed down) is one condition.
            if template.setdefault("Conditions", {}).get(name, condition) != condition:
                raise ValueError(f"{child_path.name}: condition {name} is also one of its parent's, defined otherwise")
            template["Conditions"][name] = condition
        for name, output in child.get("Outputs", {}).items():
            outputs[(app_id, f"Outputs.{name}")] = output["Value"]
        del resources[app_id]
    if outputs:
        for key in ("Resources", "Outputs"):
            template[key] = _with_outputs(template.get(key, {}), outputs)


def _sources_version(path: Path) -> tuple[int, ...]:
    """Changes when the template or any nested template changes: the translation cache's key."""
    nested = sorted(NESTED_TEMPLATES.glob("*.yaml")) if path.parent == ROOT else []
    return tuple(source.stat().st_mtime_ns for source in [path, *nested])


@functools.lru_cache(maxsize=8)
def _translate(
    path: Path, _version: tuple[int, ...], overrides: tuple[tuple[str, Any], ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SAM transform of the files as they are now: paid once per version and overrides, not per cloud."""
    sam_template = _load(path)
    _inline_applications(sam_template, path.parent)
    _local_code_as_s3(sam_template)
    parameters = {name: spec.get("Default") for name, spec in sam_template.get("Parameters", {}).items()} | dict(
        overrides
    )
    return parameters, transform(sam_template, parameters, REGION)


@dataclass
class Template:
    """The translated template plus the values its intrinsics resolve to on this machine."""

    resources: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    mappings: dict[str, Any]
    conditions: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)  # key -> value, intrinsics unresolved
    physical_ids: dict[str, Any] = field(default_factory=dict)  # what !Ref gives, per logical id
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)  # what !GetAtt gives

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH, overrides: Mapping[str, Any] | None = None) -> Template:
        parameters, translated = _translate(path, _sources_version(path), tuple(sorted((overrides or {}).items())))
        translated = copy.deepcopy(translated)  # each cloud resolves and records into its own copy
        return cls(
            resources=translated["Resources"],
            parameters=dict(parameters),
            mappings=translated.get("Mappings", {}),
            conditions=translated.get("Conditions", {}),
            outputs={key: output["Value"] for key, output in translated.get("Outputs", {}).items()},
        )

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: spec for name, spec in self.resources.items() if spec["Type"] == resource_type}

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties", {}))

    def code_path(self, function_id: str) -> Path:
        """The folder a function's code comes from (its CodeUri)."""
        return ROOT / str(self.properties(function_id)["Code"]["S3Key"])

    def layer_paths(self, function_id: str) -> list[Path]:
        """The folders of the template's own layers a function uses: what Lambda mounts under /opt/python."""
        paths = []
        for layer in self.properties(function_id).get("Layers", []):
            logical_id = layer.get("Ref") if isinstance(layer, dict) else None
            if logical_id in self.resources:
                paths.append(ROOT / str(self.properties(logical_id)["Content"]["S3Key"]))
        return paths

    def event_source_mapping(self, function_name: str, service: str | None = None) -> dict[str, Any]:
        """The resolved properties of the mapping to this function (from a `service` source: "sqs", "dynamodb")."""
        for spec in self.of_type("AWS::Lambda::EventSourceMapping").values():
            properties: dict[str, Any] = self.resolve(spec["Properties"])
            from_service = service is None or f":{service}:" in properties["EventSourceArn"]
            if function_name_of(properties["FunctionName"]) == function_name and from_service:
                return properties
        raise LookupError(f"{function_name} has no {service or 'event source'} mapping in the template")

    # -------------------------------------------------------------- intrinsics

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by its local result."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::"):
                return self._intrinsic(name, argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _intrinsic(self, name: str, argument: Any) -> Any:
        handlers: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::FindInMap": lambda args: self.mappings[args[0]][args[1]][self.resolve(args[2])],
            "Fn::If": lambda args: self.resolve(args[1] if self.condition(args[0]) else args[2]),
            "Fn::Join": lambda args: str(args[0]).join(str(part) for part in self.resolve(args[1])),
            "Fn::Select": lambda args: self.resolve(args[1])[int(self.resolve(args[0]))],
            "Fn::Split": lambda args: str(self.resolve(args[1])).split(args[0]),
            "Fn::Equals": lambda args: self.resolve(args[0]) == self.resolve(args[1]),
            "Fn::Not": lambda args: not self.resolve(args[0]),
            "Fn::And": lambda args: all(self.resolve(arg) for arg in args),
            "Fn::Or": lambda args: any(self.resolve(arg) for arg in args),
        }
        if name not in handlers:
            raise NotImplementedError(f"{name} is not resolved by the local cloud")
        return handlers[name](argument)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def _ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.physical_ids:
            raise LookupError(f"!Ref {name}: that resource is not provisioned locally")
        return self.physical_ids[name]

    def _get_att(self, argument: str | list[str]) -> Any:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        if (logical_id, attribute) not in self.attributes:
            raise LookupError(f"!GetAtt {logical_id}.{attribute}: not provisioned locally")
        return self.attributes[(logical_id, attribute)]

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        resolved = {name: self.resolve(value) for name, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved:
                return str(resolved[name])
            if "." in name and name not in PSEUDO_PARAMETERS:
                return str(self._get_att(name))
            return str(self._ref(name))

        return re.sub(r"\$\{([^!}][^}]*)\}", substitute, text)
