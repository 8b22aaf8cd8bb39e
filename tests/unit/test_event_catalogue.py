"""stacks/event-catalogue.yaml is exactly what `make schemas` writes from the event records: generated, never edited."""

from __future__ import annotations

from tools.event_catalogue import CATALOGUE, catalogue


def test_the_event_catalogue_is_what_make_schemas_writes() -> None:
    assert CATALOGUE.read_text() == catalogue(), "run `make schemas` after changing the records in orders/events.py"


def test_the_catalogue_names_each_schema_after_the_parent_stack() -> None:
    """Nested, the catalogue's own AWS::StackName is not the service's: names come from the ServiceName parameter."""
    text = catalogue()
    assert "AWS::StackName" not in text
    assert "!Sub ${ServiceName}-orders" in text
