"""The soak's sizer counts what an object takes: with an instance's inline attributes, which getsizeof leaves out."""

from __future__ import annotations

import gc
import sys
import tracemalloc

import pytest

from tools.object_size import object_size

INSTANCES = 2_000


class Empty:
    pass


class Pair:
    def __init__(self) -> None:
        self.kind, self.value = "S", "x"


class Record:
    def __init__(self) -> None:
        self.a, self.b, self.c, self.d, self.e, self.f, self.g = range(7)


@pytest.mark.parametrize("shape", [Empty, Pair, Record])
def test_an_instance_is_sized_as_tracemalloc_measures_it(shape: type) -> None:
    shape()  # the class's shared keys, made before the measure
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        made = [shape() for _ in range(INSTANCES)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    measured = (sum(stat.size_diff for stat in after.compare_to(before, "filename")) - sys.getsizeof(made)) / INSTANCES
    sized = object_size(made[0], gc.get_referents(made[0]))
    assert abs(sized - measured) <= 8, (sized, measured)  # pymalloc rounds to 8 or 16 bytes
    assert sys.getsizeof(made[0]) < measured - 16  # what getsizeof alone would miss
