"""The local cloud's console: a web page to follow an order through the system, and to redrive, replay and fire.

`make local` serves it on 127.0.0.1:LOCAL_CONSOLE_PORT (3002). It reads and acts only through the
AWS APIs the local cloud serves (see views.py), so what it shows is what an AWS client would see.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import TYPE_CHECKING

from local_cloud.console.handler import ConsoleHandler
from local_cloud.console.views import Console
from local_cloud.listening import CONSOLE, HOST, LoopbackHTTPServer
from local_cloud.replay_range import replays_keep_their_time_range

if TYPE_CHECKING:
    from local_cloud.server import LocalCloud


@contextmanager
def serving_console(local: LocalCloud, port: int = CONSOLE.default) -> Iterator[str]:
    """The console for `local` on HOST:port (0: any free port) until the block ends; yields its URL."""
    with ExitStack() as stack:
        stack.enter_context(replays_keep_their_time_range(local.timeline))
        stopping = threading.Event()
        # HOST is loopback only: the console can redrive and replay. Its threads are daemons, so an open
        # event stream does not hold up the stop.
        server = LoopbackHTTPServer((HOST, port), partial(ConsoleHandler, console=Console(local), stopping=stopping))
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        stack.callback(stopping.set)
        threading.Thread(target=server.serve_forever, name="local-cloud-console", daemon=True).start()
        yield f"http://{HOST}:{server.server_address[1]}"
