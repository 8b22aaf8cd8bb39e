"""moto's Step Functions interpreter logs, at ERROR, a missing JSONPath that the state machine itself handles.

Evaluating `IsPresent: $.compensationError` (a Choice of the fulfilment saga) raises NoSuchJsonPathError inside
moto, which logs it before the Choice answers false: `make demo` and `make local` printed an ERROR line for every
order whose saga passed that Choice, though nothing failed. Only those records are dropped here. A missing path that
does fail a state is still reported: moto logs the States.Runtime failure it turns into separately, and the
timeline shows the execution's failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

INTERPRETER_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


def _not_a_handled_missing_path(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Exception=NoSuchJsonPathError")


@contextmanager
def without_handled_missing_paths() -> Iterator[None]:
    logger = logging.getLogger(INTERPRETER_LOGGER)
    logger.addFilter(_not_a_handled_missing_path)
    try:
        yield
    finally:
        logger.removeFilter(_not_a_handled_missing_path)
