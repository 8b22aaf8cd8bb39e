"""The saga as the console draws it: states and transitions from its definition, visits from an execution's history.

The graph is the definition's, not a drawing kept beside it: the ASL file as the state machine runs
it (DescribeStateMachine), every state and every Next, Default, Choices and Catch transition, laid
out in ranks (longest path from StartAt). States off the happy path (reached only through a Catch)
are the compensation path and are marked so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_HAPPY = "next"  # the transition kinds; a catch leads off the happy path
_CATCH = "catch"


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    kind: str  # next or catch
    label: str = ""


@dataclass(frozen=True)
class StateNode:
    name: str
    type: str
    comment: str
    rank: int
    column: int
    compensating: bool
    end: bool


@dataclass(frozen=True)
class SagaGraph:
    start_at: str
    states: list[StateNode]
    transitions: list[Transition]

    def as_json(self) -> dict[str, Any]:
        return {
            "startAt": self.start_at,
            "states": [vars(state) for state in self.states],
            "transitions": [vars(transition) for transition in self.transitions],
        }


def _transitions(name: str, state: dict[str, Any]) -> list[Transition]:
    found: list[Transition] = []
    if "Next" in state:
        found.append(Transition(name, state["Next"], _HAPPY))
    found.extend(Transition(name, choice["Next"], _HAPPY, "choice") for choice in state.get("Choices", []))
    if "Default" in state:
        found.append(Transition(name, state["Default"], _HAPPY, "default"))
    for catch in state.get("Catch", []):
        found.append(Transition(name, catch["Next"], _CATCH, ", ".join(catch.get("ErrorEquals", []))))
    return found


def _ranks(start: str, transitions: list[Transition], names: list[str]) -> dict[str, int]:
    """Longest distance from the start: a state sits below every state that leads to it (the saga has no loop)."""
    rank = dict.fromkeys(names, 0)
    for _ in names:  # Bellman-Ford style relaxation; a definition with a loop stops after len(names) passes
        changed = False
        for transition in transitions:
            if transition.target != start and rank[transition.target] < rank[transition.source] + 1:
                rank[transition.target] = rank[transition.source] + 1
                changed = True
        if not changed:
            break
    return rank


def _happy_path(start: str, transitions: list[Transition]) -> set[str]:
    reached, frontier = {start}, [start]
    while frontier:
        current = frontier.pop()
        for transition in transitions:
            if transition.source == current and transition.kind == _HAPPY and transition.target not in reached:
                reached.add(transition.target)
                frontier.append(transition.target)
    return reached


def saga_graph(definition: dict[str, Any]) -> SagaGraph:
    states: dict[str, dict[str, Any]] = definition["States"]
    start = str(definition["StartAt"])
    transitions = [transition for name, state in states.items() for transition in _transitions(name, state)]
    ranks = _ranks(start, transitions, list(states))
    happy = _happy_path(start, transitions)
    taken: set[tuple[int, int]] = set()
    nodes: list[StateNode] = []
    for name in sorted(states, key=lambda state: (ranks[state], state not in happy, list(states).index(state))):
        column = 0 if name in happy else 1
        while (ranks[name], column) in taken:
            column += 1
        taken.add((ranks[name], column))
        state = states[name]
        nodes.append(
            StateNode(
                name=name,
                type=str(state["Type"]),
                comment=str(state.get("Comment", "")),
                rank=ranks[name],
                column=column,
                compensating=name not in happy,
                end=bool(state.get("End")) or state["Type"] in {"Succeed", "Fail"},
            )
        )
    return SagaGraph(start, nodes, transitions)


@dataclass
class Visit:
    """One pass through a state: what it was given, what it gave, and whether it ended in an error."""

    state: str
    step: int
    entered: str
    input: Any = None
    exited: str | None = None
    output: Any = None
    error: dict[str, str] | None = None
    failures: int = 0  # attempts that failed: the retries, and the error it ended on if it did
    status: str = "running"  # running, succeeded, failed (an error it ended on, caught or not)
    events: list[str] = field(default_factory=list)


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _close(visit: Visit) -> None:
    """A state left without an exit event (moto's catch and end go straight on): over, with or without its error."""
    if visit.status == "running":
        visit.status = "failed" if visit.error else "succeeded"


def visits(history: list[dict[str, Any]], ended: bool) -> list[Visit]:
    """The states an execution went through, in order, from its GetExecutionHistory events."""
    found: list[Visit] = []
    for event in history:
        kind = str(event["type"])
        details: dict[str, Any] = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
        current = found[-1] if found and found[-1].exited is None else None
        if kind.endswith("StateEntered"):
            if found:
                _close(found[-1])
            found.append(Visit(details["name"], len(found) + 1, str(event["timestamp"]), _json(details.get("input"))))
        elif kind.endswith("StateExited") and current is not None:
            current.exited, current.output = str(event["timestamp"]), _json(details.get("output"))
            current.status = "failed" if current.error else "succeeded"
        elif current is not None and kind in {"TaskFailed", "TaskTimedOut", "LambdaFunctionFailed"}:
            current.failures += 1
            current.error = {"error": str(details.get("error", kind)), "cause": str(details.get("cause", ""))}
        elif current is not None and kind == "TaskSucceeded":
            current.error = None
        elif current is not None and kind in {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}:
            current.status = "failed"
            current.error = current.error or {"error": kind, "cause": str(details.get("cause", ""))}
        if current is not None:
            current.events.append(kind)
    if ended and found:
        _close(found[-1])
    return found
