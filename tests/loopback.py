"""Serve an ASGI app for real (uvicorn in a thread) on a free loopback port, to test HTTP adapters against it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

STARTUP_SECONDS_MAX = 10.0


class LoopbackServer:
    """`make_app(base_url)` builds the app once the port is known; the server can stop and start again on
    the same port (a fresh app each time, as after a restart)."""

    def __init__(self, make_app: Callable[[str], Any]) -> None:
        self._make_app = make_app
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        config = uvicorn.Config(
            self._make_app(self.base_url), host="127.0.0.1", port=self.port, log_level="warning", log_config=None
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS_MAX
        while not self._server.started:  # bounded poll: uvicorn offers no event to wait on
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_SECONDS_MAX)
        assert not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
