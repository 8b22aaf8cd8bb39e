"""IAM's evaluation of identity-based policies, for one action on one resource.

An explicit Deny wins, then an Allow; nothing matching is an implicit deny. Action, NotAction, Resource and
NotResource match with IAM's wildcards (`*` any run of characters, `?` one), actions case-insensitively.
A statement's Condition is not evaluated: it applies as if its condition held (see README, IAM row).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

# A check the local cloud makes in-process for a role: (role ARN, action, resource); raises if it is not allowed.
Authorise = Callable[[str, str, str], None]


class Decision(enum.Enum):
    ALLOWED = "allowed"
    IMPLICITLY_DENIED = "no identity-based policy allows"
    EXPLICITLY_DENIED = "an explicit deny in an identity-based policy"


@functools.lru_cache(maxsize=1024)
def _pattern(wildcard: str, ignore_case: bool) -> re.Pattern[str]:
    text = re.escape(wildcard).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(text, re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _matches(statement: dict[str, Any], key: str, value: str, ignore_case: bool) -> bool:
    """Whether the statement's Key (or NotKey) covers `value`."""
    if key in statement:
        return any(_pattern(pattern, ignore_case).fullmatch(value) for pattern in _as_list(statement[key]))
    if f"Not{key}" in statement:
        return not any(_pattern(pattern, ignore_case).fullmatch(value) for pattern in _as_list(statement[f"Not{key}"]))
    return False


def statements_of(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every statement of these policy documents (a document's Statement may be one statement or a list)."""
    found: list[dict[str, Any]] = []
    for document in documents:
        statement = document.get("Statement", [])
        found.extend(statement if isinstance(statement, list) else [statement])
    return found


def decide(statements: Iterable[dict[str, Any]], action: str, resource: str) -> Decision:
    decision = Decision.IMPLICITLY_DENIED
    for statement in statements:
        if not (_matches(statement, "Action", action, True) and _matches(statement, "Resource", resource, False)):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.EXPLICITLY_DENIED
        if statement.get("Effect") == "Allow":
            decision = Decision.ALLOWED
    return decision
