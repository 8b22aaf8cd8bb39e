"""The template and the code agree: functions and folders, settings and environment, event records and registry."""

from __future__ import annotations

import ast
import base64
import binascii
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from local_cloud.template import ROOT, Template
from orders.config import Setting
from orders.event_data import DATA_OF, record
from orders.event_schemas import json_schema
from orders.events import DomainEvent, EventType
from orders.wire import ContractViolation
from tests.support import EVENTS

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
    """Event type -> the schema the template (its nested event catalogue included) registers for it."""
    return {
        logical_id.removesuffix("Schema"): json.loads(spec["Properties"]["Content"])
        for logical_id, spec in template.of_type("AWS::EventSchemas::Schema").items()
    }


def test_the_registry_holds_exactly_the_schemas_the_event_records_generate(template: Template) -> None:
    assert schema_resources(template) == {event_type.value: json_schema(event_type) for event_type in EventType}


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_each_schema_is_a_draft4_schema_of_its_event_type(event_type: EventType) -> None:
    schema = json_schema(event_type)
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["properties"]["type"]["enum"] == [event_type.value]
    assert schema["description"], f"{DATA_OF[event_type].__name__} needs a docstring: the event's description"


def order_events_in(value: Any, bus_source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, envelope) of each order event inside a sample: EventBridge events of the orders bus, and the bare
    envelopes the outcomes topic delivers, also where an SQS body or Kinesis data (base64) carries them."""
    if isinstance(value, dict):
        if value.get("source") == bus_source and "detail-type" in value:
            yield value["detail-type"], value["detail"]
            return
        if {"eventId", "type", "data"} <= set(value) and value["type"] in list(EventType):
            yield value["type"], value
            return
        for item in value.values():
            yield from order_events_in(item, bus_source)
    elif isinstance(value, list):
        for item in value:
            yield from order_events_in(item, bus_source)
    elif isinstance(value, str) and value[:1] in "{e":  # a JSON body, or base64 of one ("eyJ" is `{"`)
        for decode in (json.loads, lambda text: json.loads(base64.b64decode(text, validate=True))):
            try:
                decoded = decode(value)
            except (ValueError, binascii.Error):
                continue
            yield from order_events_in(decoded, bus_source)
            return


def test_each_order_event_in_the_sample_events_matches_its_schema_and_the_reader(template: Template) -> None:
    bus_source = template.mappings["Events"]["Bus"]["Source"]
    checked: set[str] = set()
    for path in sorted(EVENTS.glob("*/*.json")):
        for event_type, envelope in order_events_in(json.loads(path.read_text()), bus_source):
            jsonschema.validate(envelope, json_schema(EventType(event_type)))
            assert record(DomainEvent.from_envelope(envelope)), path
            checked.add(str(path.relative_to(EVENTS)))
    # The walk finds them where they are today: a Kinesis batch, SQS batches of both consumers.
    assert {"aggregate_sales/window_batch.json", "record_analytics/completed_batch.json"} <= checked
    assert "send_notifications/outcome_batch.json" in checked


def valid_envelope(event_type: EventType) -> dict[str, Any]:
    data = {
        "customerId": "c-1",
        "items": [{"sku": "SKU-1", "quantity": 2}],
        "shippingAddress": {"name": "A", "line1": "1 Road", "city": "B", "postalCode": "1", "country": "DE"},
        "currency": "EUR",
        "fulfilmentId": "arn:aws:states:us-east-1:123456789012:execution:x:y",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": 100}],
        "amount": 200,
        "paymentId": "pay_1",
        "trackingId": "track-1",
        "carrier": "sandbox",
        "reason": "r",
        "error": "OutOfStock",
        "day": "2026-11-22",
        "sales": [{"currency": "EUR", "orders": 2, "revenue": 200}],
    }
    wanted = json_schema(event_type)["properties"]["data"]["required"]
    aggregate = "daily-sales-2026-11-22" if event_type is EventType.DAILY_SALES_SUMMARISED else "order-1"
    return DomainEvent(event_type, aggregate, 1, "c-1", {key: data[key] for key in wanted}).envelope()


def broken(envelope: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Variants of `envelope` that each break one rule: a field missing, of the wrong type or out of bounds."""
    for key in envelope:
        yield f"no {key}", {name: value for name, value in envelope.items() if name != key}
    for key, value in envelope["data"].items():
        yield f"no data.{key}", {**envelope, "data": {name: v for name, v in envelope["data"].items() if name != key}}
        wrong = 1 if isinstance(value, str) else "1"
        yield f"data.{key} of the wrong type", {**envelope, "data": {**envelope["data"], key: wrong}}
        if isinstance(value, str):
            yield f"data.{key} empty", {**envelope, "data": {**envelope["data"], key: ""}}
        if isinstance(value, int):
            yield f"data.{key} negative", {**envelope, "data": {**envelope["data"], key: -1}}
        if isinstance(value, list):
            yield f"data.{key} empty", {**envelope, "data": {**envelope["data"], key: []}}
    yield "version 0", {**envelope, "version": 0}
    yield "version 2", {**envelope, "version": 2}
    yield "orderId of another form", {**envelope, "orderId": "order-2"}
    yield "occurredAt with an offset", {**envelope, "occurredAt": "2026-11-22T10:00:00+01:00"}


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_the_reader_and_the_schema_agree_on_what_breaks_the_contract(event_type: EventType) -> None:
    """One definition, two readers: the consumers' (orders.wire) and the registry's (JSON Schema) say the same."""
    envelope = valid_envelope(event_type)
    schema = json_schema(event_type)
    jsonschema.validate(envelope, schema)
    record(DomainEvent.from_envelope(envelope))
    disagreements = []
    for case, variant in broken(envelope):
        schema_refuses = not jsonschema.Draft4Validator(schema).is_valid(variant)
        try:
            record(DomainEvent.from_envelope(variant))
            reader_refuses = False
        except ContractViolation:
            reader_refuses = True
        if schema_refuses != reader_refuses:
            disagreements.append(f"{case}: schema refuses {schema_refuses}, reader refuses {reader_refuses}")
    assert disagreements == []


def test_no_deployed_function_can_be_told_it_runs_under_sam_local(template: Template) -> None:
    """AWS_SAM_LOCAL turns on the X-Local-Customer-Id stand-in for the token; only `sam local` may set it."""
    for logical_id in functions_in(template):
        assert "AWS_SAM_LOCAL" not in template.properties(logical_id).get("Environment", {}).get("Variables", {})
