"""The saga the console draws: read from the ASL definition, and an execution's history read as visits."""

from __future__ import annotations

import json
from typing import Any

from cfnlint.decode import cfn_yaml

from local_cloud.console.saga import saga_graph, visits
from local_cloud.template import ROOT

ASL = ROOT / "statemachines" / "order_fulfillment.asl.yaml"
DEFINITION: dict[str, Any] = json.loads(json.dumps(cfn_yaml.loads(ASL.read_text())))  # plain dicts, as the API gives


def test_every_state_and_transition_of_the_definition_is_drawn() -> None:
    graph = saga_graph(DEFINITION)

    assert {state.name for state in graph.states} == set(DEFINITION["States"])
    expected = {(name, state["Next"], "next") for name, state in DEFINITION["States"].items() if "Next" in state}
    states = DEFINITION["States"].items()
    expected |= {(name, choice["Next"], "next") for name, state in states for choice in state.get("Choices", [])}
    expected |= {(name, state["Default"], "next") for name, state in states if "Default" in state}
    expected |= {(name, catch["Next"], "catch") for name, state in states for catch in state.get("Catch", [])}
    assert {(t.source, t.target, t.kind) for t in graph.transitions} == expected
    placed = {state.name: state for state in graph.states}
    assert all(placed[t.target].rank > placed[t.source].rank for t in graph.transitions)  # every arrow points down
    assert len({(state.rank, state.column) for state in graph.states}) == len(graph.states)  # no two share a place


def test_the_states_reached_only_through_a_catch_are_the_compensation_path() -> None:
    graph = saga_graph(DEFINITION)

    compensating = {state.name for state in graph.states if state.compensating}

    assert compensating == {
        "RefundPayment",
        "ReleaseInventory",
        "Compensated",
        "FailOrder",
        "NotFulfilled",
        "NotSettled",
        "CompletionNotRecorded",
        "AlreadyFulfilled",
    }
    assert {state.name for state in graph.states if state.column == 0} == {
        "ReserveInventory",
        "RequestPayment",
        "ArrangeShipment",
        "CompleteOrder",
    }


def event(kind: str, number: int, **details: Any) -> dict[str, Any]:
    key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
    if kind.startswith("Task") and not kind.endswith(("Entered", "Exited")):
        key = "taskFailedEventDetails" if kind == "TaskFailed" else "taskSucceededEventDetails"
    return {"type": kind, "id": number, "timestamp": f"2026-01-01 00:00:{number:02d}", key: details}


def test_a_history_reads_as_visits_with_their_input_output_retries_and_caught_error() -> None:
    history = [
        event("TaskStateEntered", 1, name="ReserveInventory", input='{"orderId": "o-1"}'),
        event("TaskFailed", 2, error="TransientFailure", cause="throttled"),
        event("TaskSucceeded", 3, output="{}"),
        event("TaskStateExited", 4, name="ReserveInventory", output='{"orderId": "o-1"}'),
        event("TaskStateEntered", 5, name="RequestPayment", input='{"orderId": "o-1"}'),
        event("TaskFailed", 6, error="PaymentDeclined", cause="card expired"),
        event("TaskStateEntered", 7, name="RefundPayment", input='{"orderId": "o-1", "error": {}}'),
    ]

    running = visits(history, ended=False)

    assert [(v.step, v.state, v.status) for v in running] == [
        (1, "ReserveInventory", "succeeded"),
        (2, "RequestPayment", "failed"),
        (3, "RefundPayment", "running"),
    ]
    assert running[0].input == {"orderId": "o-1"}
    assert running[0].output == {"orderId": "o-1"}
    assert (running[0].error, running[0].failures) == (None, 1)  # retried, then succeeded
    assert running[1].error == {"error": "PaymentDeclined", "cause": "card expired"}
    assert visits(history, ended=True)[-1].status == "succeeded"  # the execution went on past it
