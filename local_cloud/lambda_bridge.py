"""moto's Lambda Invoke, answered by the template's functions (in this process, or in their sandboxes).

Step Functions' Lambda tasks (and anything else that calls Invoke on moto) reach moto's
Lambda backend, which would need Docker to run code. While `invoke_in_process` is active,
an Invoke of a template function runs its real handler instead, and answers the way
Lambda does: the handler's JSON result, or the error payload the runtime reports (the
exception's class name as `errorType`, `Runtime.MarshalError`, `Sandbox.Timedout`, and from a
sandbox `Runtime.ExitError`): what a state machine's Retry and Catch match on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.awslambda.models import LambdaBackend

from local_cloud.functions import FunctionRegistry
from local_cloud.sandbox.pool import FunctionError


@contextmanager
def invoke_in_process(functions: FunctionRegistry) -> Iterator[None]:
    moto_invoke = LambdaBackend.invoke

    def invoke(  # noqa: PLR0917 - the signature of the moto method it replaces
        backend: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> str | bytes | None:
        function = functions.by_name(function_name)
        if function is None:
            return moto_invoke(backend, function_name, qualifier, body, headers, response_headers)
        event = json.loads(body) if body else {}
        try:
            result = function.invoke(event)
        except FunctionError as error:  # as the runtime reported it, in this process or in a sandbox
            response_headers["x-amz-function-error"] = "Unhandled"
            result = {"errorType": error.error_type, "errorMessage": str(error), "stackTrace": error.stack_trace}
        payload = json.dumps(result).encode()
        response_headers["Content-Length"] = str(len(payload))
        return payload

    LambdaBackend.invoke = invoke  # type: ignore[method-assign,assignment]  # the bridge is exactly this replacement
    try:
        yield
    finally:
        LambdaBackend.invoke = moto_invoke  # type: ignore[method-assign]
