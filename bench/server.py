"""The real server as a subprocess (`topup serve`), the `topup` CLI, and memory read from /proc."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from bench.cpu import descendants

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
HEALTHY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
CLI_TIMEOUT_SECONDS = 300


def topup_command() -> str:
    return str(BIN / "topup")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def run_cli(arguments: list[str], env: dict[str, str]) -> str:
    """Run `topup ARGUMENTS`; returns stdout, raises with stderr on failure."""
    finished = subprocess.run(
        [topup_command(), *arguments], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(f"topup {' '.join(arguments)} failed ({finished.returncode}):\n{finished.stderr}")
    return finished.stdout


def create_api_key(env: dict[str, str], name: str) -> str:
    """`topup api-keys create` prints the key alone on the last stdout line."""
    lines = [
        line.strip() for line in run_cli(["api-keys", "create", "--role", "admin", "--name", name], env).splitlines()
    ]
    keys = [line for line in lines if line]
    if not keys:
        raise RuntimeError("topup api-keys create printed no key")
    return keys[-1]


def memory_kb(pid: int) -> dict[str, Any] | None:
    """VmHWM (peak resident set) and VmRSS of one process, from /proc/<pid>/status."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kilobytes(name: str) -> int | None:
        value = fields.get(name)
        return int(value.split()[0]) if value else None

    return {"pid": pid, "command": command[:160], "peak_rss_kb": kilobytes("VmHWM"), "rss_kb": kilobytes("VmRSS")}


class Server:
    """`topup serve --workers N` in its own process group, killed as a group on exit."""

    def __init__(self, env: dict[str, str], *, workers: int, log_path: Path, port: int | None = None) -> None:
        self.env = env
        self.workers = workers
        self.port = port or free_port()  # given when the environment must name it (TOPUP_PUBLIC_BASE_URL)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [topup_command(), "serve", "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one killpg stops the supervisor and its workers
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            if self._healthy() and self._workers_started() >= self.workers:
                # Every worker answers once it has imported the app; give the last one a moment more.
                time.sleep(1.0)
                return
            time.sleep(0.2)
        raise RuntimeError(f"the server was not healthy within {HEALTHY_TIMEOUT_SECONDS} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server is not running")
        return self.process.pid

    def _workers_started(self) -> int:
        """uvicorn spawns its workers with multiprocessing (one process more: the resource tracker)."""
        if self.workers == 1 or self.process is None:
            return self.workers
        commands = [memory_kb(pid) for pid in descendants(self.process.pid)]
        return sum(1 for found in commands if found is not None and "spawn_main" in found["command"])

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            connection.request("GET", "/v1/health")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def memory(self) -> dict[str, Any]:
        if self.process is None:
            return {}
        processes = [
            found
            for found in (memory_kb(pid) for pid in [self.process.pid, *descendants(self.process.pid)])
            if found is not None
        ]
        peaks = [found["peak_rss_kb"] or 0 for found in processes]
        return {
            "processes": processes,
            "peak_rss_total_kb": sum(peaks),
            "peak_rss_max_kb": max(peaks, default=0),
        }

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except ProcessLookupError:
                pass
            with contextlib.suppress(ProcessLookupError):  # a worker that outlived its supervisor
                os.killpg(self.process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
