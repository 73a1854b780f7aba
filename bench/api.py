"""Top-ups, orders and charging sessions through the HTTP API: the server and the load generator as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.cpu import CpuWindow, per_operation_ms
from bench.http_load import OPERATIONS
from bench.server import Server, create_api_key

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GENERATOR_EXTRA_SECONDS = 120


def run_http(
    env: dict[str, str],
    *,
    line_count: int,
    clients: int,
    seconds: float,
    warmup_seconds: float,
    server_workers: int,
    log_path: Path,
) -> dict[str, Any]:
    """`POST /v1/topups` against `topup serve`."""
    return run_load(
        env,
        kind="topups",
        line_count=line_count,
        clients=clients,
        seconds=seconds,
        warmup_seconds=warmup_seconds,
        server_workers=server_workers,
        log_path=log_path,
    )


def run_load(
    env: dict[str, str],
    *,
    kind: str,
    line_count: int,
    clients: int,
    seconds: float,
    warmup_seconds: float,
    server_workers: int,
    log_path: Path,
    port: int | None = None,
) -> dict[str, Any]:
    """The server in one subprocess, `bench.http_load --kind KIND` in another; CPU and memory over the window.

    The result holds `<operation>s` and `<operation>s_per_second` (operation "top_up", "order" or
    "charging_pair") and `cpu_ms_per_<operation>`."""
    operation = OPERATIONS[kind]
    key = create_api_key(env, "bench")
    with Server(env, workers=server_workers, log_path=log_path, port=port) as server:
        command = [
            sys.executable,
            "-m",
            "bench.http_load",
            "--kind",
            kind,
            "--port",
            str(server.port),
            "--key",
            key,
            "--lines",
            str(line_count),
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
            "--warmup",
            str(warmup_seconds),
        ]
        generator = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            time.sleep(warmup_seconds)
            window = CpuWindow(trees={"server": server.pid, "client": generator.pid})
            window.start()
            time.sleep(seconds)
            cpu = window.stop()
            stdout, stderr = generator.communicate(timeout=seconds + warmup_seconds + GENERATOR_EXTRA_SECONDS)
        finally:
            if generator.poll() is None:
                generator.kill()
                generator.wait(timeout=10)
        memory = server.memory()
    if generator.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{stderr}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["cpu"] = cpu
    result[f"cpu_ms_per_{operation}"] = per_operation_ms(
        cpu, round(result[f"{operation}s_per_second"] * cpu["wall_seconds"])
    )
    result["server_workers"] = server_workers
    result["server_memory"] = memory
    result["server_log"] = str(log_path)
    return result
