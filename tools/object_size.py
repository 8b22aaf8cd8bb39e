"""What one Python object takes in memory, as the soak's sizer (scripts/bench_memory.py) counts it.

CPython 3.13 keeps an instance's attributes inline, in a pre-header and a values array around the object:
sys.getsizeof counts neither (48 bytes for an instance of two attributes that takes 88; tracemalloc
measured 72 bytes and 8 an attribute).
"""

from __future__ import annotations

import sys
from typing import Any

_INLINE_VALUES = 1 << 2  # Py_TPFLAGS_INLINE_VALUES
_INLINE_HEADER, _INLINE_SLOT = 24, 8  # the pre-header (dict and weakref pointers) and the values' header; a value


def object_size(value: Any, referents: list[Any]) -> int:
    """sys.getsizeof, and an instance's inline attributes (`referents`, gc.get_referents of it, but its class)."""
    size = sys.getsizeof(value)
    if type(value).__flags__ & _INLINE_VALUES:
        size += _INLINE_HEADER + _INLINE_SLOT * (len(referents) - 1)
    return size
