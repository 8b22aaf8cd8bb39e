"""The template and the code agree: functions and folders, settings and environment, schemas and registry."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from local_cloud.template import ROOT, Template
from orders.config import Setting

FUNCTIONS_DIR = ROOT / "functions"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def functions_in(template: Template) -> dict[str, Path]:
    """Function logical id -> its code folder."""
    return {logical_id: template.code_path(logical_id) for logical_id in template.of_type("AWS::Lambda::Function")}


def folder_name(logical_id: str) -> str:
    """PlaceOrderFunction -> place_order: the naming convention of docs/architecture.md."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id.removesuffix("Function")).lower()


def settings_read_by(source: Path) -> set[str]:
    """The Setting members a module names, e.g. Setting.EVENT_STORE_TABLE."""
    return {
        node.attr
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Setting"
    }


def test_every_function_has_its_folder_handler_and_requirements_and_every_folder_a_function(
    template: Template,
) -> None:
    functions = functions_in(template)
    for logical_id, folder in functions.items():
        module_name, handler = template.properties(logical_id)["Handler"].rsplit(".", 1)
        source = folder / f"{module_name}.py"
        assert folder.name == folder_name(logical_id), (
            f"{logical_id} should live in functions/{folder_name(logical_id)}"
        )
        assert (folder / "requirements.txt").is_file()
        defined = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
        assert handler in defined, f"{source} defines no {handler}"
    assert {path for path in FUNCTIONS_DIR.iterdir() if path.is_dir() and path.name != "__pycache__"} == set(
        functions.values()
    )


def test_every_setting_a_function_reads_is_set_by_the_template(template: Template) -> None:
    for logical_id, folder in functions_in(template).items():
        variables = template.properties(logical_id).get("Environment", {}).get("Variables", {})
        missing = settings_read_by(folder / "app.py") - set(variables)
        assert not missing, f"{logical_id} reads {sorted(missing)} but the template does not set them"


def test_every_setting_is_used_by_some_function(template: Template) -> None:
    read = set().union(*(settings_read_by(folder / "app.py") for folder in functions_in(template).values()))
    assert read == {setting.name for setting in Setting}


def test_only_the_config_module_reads_the_environment() -> None:
    readers = [
        path
        for path in [*(ROOT / "layer").rglob("*.py"), *FUNCTIONS_DIR.rglob("*.py")]
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text())
    ]
    assert readers == [ROOT / "layer" / "orders" / "config.py"]


def schema_resources(template: Template) -> dict[str, dict[str, Any]]:
    """Event type -> the schema the template registers for it."""
    return {
        logical_id.removesuffix("Schema"): json.loads(spec["Properties"]["Content"])
        for logical_id, spec in template.of_type("AWS::EventSchemas::Schema").items()
    }


def test_the_registry_holds_exactly_the_schemas_in_the_schemas_folder(template: Template) -> None:
    files = {path.stem: json.loads(path.read_text()) for path in (ROOT / "schemas").glob("*.json")}
    assert schema_resources(template) == files, "run `make schemas` to copy schemas/ into the template"


@pytest.mark.parametrize("path", sorted((ROOT / "schemas").glob("*.json")), ids=lambda path: path.stem)
def test_each_schema_is_a_draft4_schema_of_its_event_type(path: Path) -> None:
    schema = json.loads(path.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["properties"]["type"]["enum"] == [path.stem]


def test_no_deployed_function_can_be_told_it_runs_under_sam_local(template: Template) -> None:
    """AWS_SAM_LOCAL turns on the X-Local-Customer-Id stand-in for the token; only `sam local` may set it."""
    for logical_id in functions_in(template):
        assert "AWS_SAM_LOCAL" not in template.properties(logical_id).get("Environment", {}).get("Variables", {})
