"""A function's module imports only what its handler uses: each import is paid at every cold start.

Each handler module is imported in a fresh interpreter, as Lambda does, and what it pulled into
sys.modules is held against what that function is allowed. `make bench` measures what the imports
cost; this keeps an unneeded one from creeping back (a consumer importing the API's models, say).
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import pytest

from local_cloud.api_gateway.routes import routes_in_template
from local_cloud.template import ROOT, Template
from orders.config import Setting

# The packages whose import costs a cold start most, beyond boto3 and Powertools' Logger (which also
# imports Metrics and Tracer): each function may import only those it is listed with.
COSTLY = (
    "pydantic",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.parser",
    "asyncio",
)
# The consumers answer partial batches with orders.partial_batch, not Powertools' batch utility (which imports
# asyncio and all of data_classes).
BATCH_CONSUMERS = {
    "ProjectOrdersFunction",
    "ProcessPaymentEventsFunction",
    "SendNotificationsFunction",
    "RecordAnalyticsFunction",
    "AggregateSalesFunction",
}
ALLOWED: dict[str, set[str]] = {
    # The API functions route with orders.api, not Powertools' event handler (which imports asyncio and all of
    # data_classes), and check requests against schemas the models generated at build time: no pydantic either.
    "PlaceOrderFunction": {"aws_lambda_powertools.utilities.idempotency"},
    "CancelOrderFunction": set(),
    "GetOrderFunction": set(),
    "ListOrdersFunction": set(),
    "ReceivePaymentWebhookFunction": {"aws_lambda_powertools.utilities.parameters"},
    "ProjectOrdersFunction": set(),
    "ProcessPaymentEventsFunction": set(),
    "SendNotificationsFunction": {"aws_lambda_powertools.utilities.idempotency"},
    "RecordAnalyticsFunction": set(),
    "AggregateSalesFunction": set(),
    "PublishEventsFunction": set(),
    "ReconcileOrdersFunction": set(),
    "SummariseDailySalesFunction": set(),
    "ReserveInventoryFunction": set(),
    "RequestPaymentFunction": set(),
    "ArrangeShipmentFunction": set(),
    "CompleteOrderFunction": set(),
    "RefundPaymentFunction": set(),
    "ReleaseInventoryFunction": set(),
    "FailOrderFunction": set(),
}
# Layer modules a function needs on a rare path only, imported there: a refund after the saga stopped waiting.
DEFERRED: dict[str, set[str]] = {"ProcessPaymentEventsFunction": {"orders.saga"}}
# Layer modules a function never needs: the webhook's receiver checks a signature and queues the raw body.
NEVER: dict[str, set[str]] = {
    "ReceivePaymentWebhookFunction": {"orders.events", "orders.wire", "orders.order"},
    # The queries read the read model's items as stored: no domain event, no aggregate, no projector.
    "GetOrderFunction": {"orders.events", "orders.order", "orders.order_projector"},
    "ListOrdersFunction": {"orders.events", "orders.order", "orders.order_projector"},
}
# The functions that read an event's data as its record (orders.event_data): the rest read only the envelope
# (orders.events), and defining the records would cost their every cold start.
EVENT_DATA_READERS = {"SendNotificationsFunction", "RecordAnalyticsFunction", "AggregateSalesFunction"}
# The layer's modules that route and check HTTP requests: the API functions' alone.
API_MODULES = {"orders.api", "orders.api_operations", "orders.api_request", "orders.api_validation"}
# The pydantic models: build and test time only (tools/openapi.py), never in a function.
MODEL_MODULES = {"orders.api_models", "orders.webhook_models"}

PRINT_MODULES = (
    "import importlib, json, sys; sys.path[:0] = sys.argv[2:]; importlib.import_module(sys.argv[1]);"
    " print(json.dumps(sorted(sys.modules)))"
)


@cache
def template() -> Template:
    return Template.load()


@cache
def api_functions() -> frozenset[str]:
    return frozenset(routes_in_template(template()).values())


@cache
def imported_by(logical_id: str) -> set[str]:
    """Every module in sys.modules once a fresh interpreter has imported the function's handler module."""
    module = str(template().properties(logical_id)["Handler"]).rsplit(".", 1)[0]
    return imported_on_import(module, str(template().code_path(logical_id)))


@cache
def imported_on_import(module: str, code_path: str) -> set[str]:
    """Every module in sys.modules once a fresh interpreter, as Lambda sets it up, has imported `module`."""
    # Import needs only the variables set, not their values (no AWS call is made at import).
    environment = {setting.value: "1" for setting in Setting} | {"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin"}
    completed = subprocess.run(  # noqa: S603 - this interpreter, importing the project's own handler
        [sys.executable, "-c", PRINT_MODULES, module, code_path, str(ROOT / "layer")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    modules: list[str] = json.loads(completed.stdout)
    return set(modules)


def within(modules: set[str], package: str) -> bool:
    return any(module == package or module.startswith(f"{package}.") for module in modules)


def test_every_function_of_the_template_is_listed() -> None:
    assert set(ALLOWED) == set(template().of_type("AWS::Lambda::Function"))


@pytest.mark.parametrize("logical_id", sorted(ALLOWED))
def test_a_function_imports_only_the_costly_packages_it_uses(logical_id: str) -> None:
    modules = imported_by(logical_id)

    imported = {package for package in COSTLY if within(modules, package)}

    assert imported <= ALLOWED[logical_id], f"{logical_id} imports {sorted(imported - ALLOWED[logical_id])}"
    assert not modules & DEFERRED.get(logical_id, set()), f"{logical_id} imports a rare path's module at init"
    assert not modules & NEVER.get(logical_id, set()), f"{logical_id} imports {sorted(modules & NEVER[logical_id])}"
    assert not modules & MODEL_MODULES, f"{logical_id} imports {sorted(modules & MODEL_MODULES)}: pydantic models"
    if logical_id not in EVENT_DATA_READERS:
        assert "orders.event_data" not in modules, f"{logical_id} reads no event's data: no orders.event_data"
    if logical_id not in api_functions():
        assert not within(modules, "pydantic"), f"{logical_id} parses no HTTP request: no pydantic"
        assert not within(modules, "aws_lambda_powertools.event_handler"), logical_id
        assert not modules & API_MODULES, f"{logical_id} imports {sorted(modules & API_MODULES)}"


@pytest.mark.parametrize("logical_id", sorted(api_functions()))
def test_an_api_function_imports_neither_powertools_event_handler_nor_pydantic(logical_id: str) -> None:
    modules = imported_by(logical_id)

    assert "orders.api" in modules, f"{logical_id} routes with orders.api"
    assert not within(modules, "aws_lambda_powertools.event_handler"), f"{logical_id} imports the event handler"
    assert not within(modules, "aws_lambda_powertools.utilities.data_classes"), f"{logical_id} imports data_classes"
    assert not within(modules, "pydantic"), f"{logical_id} imports pydantic"


@pytest.mark.parametrize("logical_id", sorted(BATCH_CONSUMERS))
def test_a_batch_consumer_imports_neither_powertools_batch_nor_its_event_classes(logical_id: str) -> None:
    modules = imported_by(logical_id)

    assert "orders.partial_batch" in modules, f"{logical_id} answers partial batches with orders.partial_batch"
    assert not within(modules, "aws_lambda_powertools.utilities.batch"), f"{logical_id} imports Powertools' batch"
    assert not within(modules, "aws_lambda_powertools.utilities.data_classes"), f"{logical_id} imports data_classes"
    assert "asyncio" not in modules, f"{logical_id} imports asyncio"


def test_the_api_modules_alone_import_nothing_costly() -> None:
    """What every API function shares costs none of COSTLY: a function's allowance covers only its own extras."""
    shared = imported_on_import("orders.api", str(ROOT))

    assert shared >= API_MODULES
    assert not {package for package in COSTLY if within(shared, package)}


def test_the_event_data_readers_do_import_the_records() -> None:
    """EVENT_DATA_READERS names only functions that read records: the list cannot outgrow what it excuses."""
    assert all("orders.event_data" in imported_by(logical_id) for logical_id in EVENT_DATA_READERS)


def test_the_api_functions_are_those_the_template_routes() -> None:
    """The allowances above assume which functions serve HTTP: the template decides that."""
    assert api_functions() == {name for name in ALLOWED if "orders.api" in imported_by(name)}
