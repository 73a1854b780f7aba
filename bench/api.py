"""Top-ups through the HTTP API: the real server in a subprocess, the load generator in another."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    key = create_api_key(env, "bench")
    with Server(env, workers=server_workers, log_path=log_path) as server:
        command = [
            sys.executable,
            "-m",
            "bench.http_load",
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
        finished = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=seconds + warmup_seconds + GENERATOR_EXTRA_SECONDS,
            check=False,
        )
        memory = server.memory()
    if finished.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{finished.stderr}")
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    result["server_workers"] = server_workers
    result["server_memory"] = memory
    result["server_log"] = str(log_path)
    return result
