"""One attribute of a module or a class replaced while a block runs, then put back as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    """`owner.name` is `value` inside the block.

    The original is read from the owner's own namespace, so a staticmethod or classmethod comes back as one;
    an attribute the owner only inherited is removed again rather than copied onto it.
    """
    own = name in vars(owner)
    original = vars(owner)[name] if own else None
    setattr(owner, name, value)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)
