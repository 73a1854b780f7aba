"""Run the real `topup` server and CLI as processes on a loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

TOPUP = str(Path(sys.executable).parent / "topup")
STARTUP_SECONDS_MAX = 30.0


def served_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Environment for a server on a free port with its own SQLite and sandbox databases under `tmp_path`."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOPUP_")}
    env.update(
        TOPUP_DATABASE_URL=f"sqlite:///{tmp_path / 'topup.db'}",
        TOPUP_SANDBOX_DATABASE_PATH=str(tmp_path / "sandbox.db"),
        TOPUP_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PORT=str(port),
    )
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run([TOPUP, *arguments], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def start_server(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # The server finds its own public address from --port (the CLI calls are told it explicitly).
    server_env = {key: value for key, value in env.items() if key != "TOPUP_PUBLIC_BASE_URL"}
    server = subprocess.Popen(
        [TOPUP, "serve", "--port", env["PORT"]], env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + STARTUP_SECONDS_MAX
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{env['TOPUP_PUBLIC_BASE_URL']}/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.1)  # polling for the port to open, bounded by the deadline
    server.kill()
    pytest.fail("the server did not start")
