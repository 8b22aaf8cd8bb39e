"""One Lambda execution environment: import the handler once (the init phase), then answer invocations.

Run as a script by `local_cloud.sandbox.pool`, with the environment the template gives the function and
nothing else of the local cloud's. Standard library only, so the handler sees the import path Lambda gives
it: its code folder, its layers and the runtime's packages, never the local cloud's modules.

Protocol, one JSON line each: the first line on stdin names the handler; the worker answers with its init
report, then reads one request line per invocation and writes one answer line. What happens around the
handler (init, context, error payload, marshalling, duration and memory) is `runtime`'s, the code the
in-process transport runs too; this script is only the transport. `sys.exit` or a crash ends the
process, which the pool reports as Lambda does.

A worker ends by itself once the pool's end of its stdin closes, the pool having stopped it or died
(SIGKILL, or SIGTERM unhandled): between invocations its read of stdin ends, and during one a watching
thread ends the process, so a handler still running (sleeping, or waiting on the local AWS that died with
the pool) is not left running under pid 1 until it returns.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import sys
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from local_cloud.sandbox import runtime
else:
    import runtime  # the shared runtime, beside this script: its folder is sys.path[0] until main() removes it

    del sys.modules["runtime"]  # the handler's own `import runtime`, if it has one, finds its own module


PARENT_CHECK_SECONDS = 1.0  # how soon a worker notices its pool gone where a closed pipe does not wake poll()


def _end_when_the_pool_goes() -> None:
    """Exit at once when the pool closes its end of stdin, or this process is re-parented (its pool died).

    poll() with no events asked for still reports POLLHUP: on Linux it wakes the moment the last writer
    closes, without reading (so it never takes a request line from the main loop) and without cost while
    the pool lives. Where a platform does not report it, the parent pid check ends the worker within a second.
    """
    parent = os.getppid()
    watch = select.poll()
    watch.register(sys.stdin.fileno(), 0)
    while not watch.poll(PARENT_CHECK_SECONDS * 1000) and os.getppid() == parent:
        pass
    for stream in (sys.stdout, sys.stderr):  # the handler's last log lines, then no cleanup: nobody awaits an answer
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


def _answer(channel: TextIO, line: str) -> None:
    channel.write(line + "\n")
    channel.flush()


def main() -> None:
    # The protocol keeps a private copy of stdout; the handler's prints and logs go to stderr, the function log.
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    del sys.path[0]  # this file's folder: not on a Lambda function's path
    threading.Thread(target=_end_when_the_pool_goes, name="end-when-the-pool-goes", daemon=True).start()
    setup = json.loads(sys.stdin.readline())
    sys.path[0:0] = setup["path"]
    module_name, handler_name = setup["handler"].rsplit(".", 1)
    handler, init = runtime.initialise(lambda: importlib.import_module(module_name), handler_name)
    _answer(channel, init)
    if handler is None:  # the init error is reported; the pool stops this environment
        return
    for line in sys.stdin:
        _answer(channel, runtime.invoke(handler, line, os.environ))


if __name__ == "__main__":
    main()
