"""A small HTTP/1.1 load generator: N keep-alive connections on raw asyncio streams, one request in flight each.

Run as its own process so its CPU is not the server's: `python -m bench.http_load --port P --key K ...`;
it prints one JSON object. Each request goes to a random provisioned line with a fresh Idempotency-Key:
`--kind topups` (the default) sends `POST /v1/topups`; `--kind orders` sends `POST /v1/orders` paid by a
sandbox card that is authorised without a challenge, and counts only a 201 whose order is "fulfilled".
Written on raw streams (no HTTP client library) because on two cores every microsecond the generator
spends is one the server does not get.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from typing import Any

from bench.provision import number_for
from bench.report import latency_summary

HOST = "127.0.0.1"
REQUESTS_MAX_PER_CLIENT = 5_000_000  # a bound besides time
ERROR_SAMPLES_MAX = 5
HEADER_LINES_MAX = 100
RESPONSE_TIMEOUT_SECONDS = 30
KINDS = ("topups", "orders")
# A sandbox card the acquirer authorises at once (README: "Paying by card (the sandbox)").
ORDER_CARD = '{"number":"4242424242424242","expiry_month":12,"expiry_year":2030,"cvc":"123"}'
FULFILLED = "fulfilled"


class Load:
    def __init__(self, port: int, key: str, line_count: int, amount: str, kind: str = "topups") -> None:
        self.port = port
        self.key = key
        self.line_count = line_count
        self.amount = amount
        self.kind = kind
        self.run_id = uuid.uuid4().hex[:12]
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.order_statuses: Counter[str] = Counter()  # the "status" of each 201 order (kind "orders")
        self.error_samples: list[str] = []
        self.reconnects = 0

    def request(self, client: int, sequence: int, rng: random.Random) -> bytes:
        msisdn = number_for(rng.randrange(self.line_count))
        if self.kind == "orders":
            path = "/v1/orders"
            body = (
                f'{{"msisdn":"{msisdn}","product":{{"type":"topup","amount":"{self.amount}"}},'
                f'"payment":{{"method":"card","card":{ORDER_CARD}}}}}'
            ).encode()
        else:
            path = "/v1/topups"
            body = f'{{"msisdn":"{msisdn}","amount":"{self.amount}"}}'.encode()
        return (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Authorization: Bearer {self.key}\r\nIdempotency-Key: bench-{self.run_id}-{client}-{sequence}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def client(self, client: int, measure_from: float, measure_to: float) -> None:
        rng = random.Random(client)
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            for sequence in range(REQUESTS_MAX_PER_CLIENT):
                if time.perf_counter() >= measure_to:
                    break
                started = time.perf_counter()
                writer.write(self.request(client, sequence, rng))
                status, body, close = await asyncio.wait_for(_read_response(reader), RESPONSE_TIMEOUT_SECONDS)
                finished = time.perf_counter()
                if measure_from <= finished <= measure_to:
                    self.statuses[status] += 1
                    if self.succeeded(status, body):
                        self.latencies.append(finished - started)
                    elif len(self.error_samples) < ERROR_SAMPLES_MAX:
                        self.error_samples.append(f"{status} {body[:300].decode(errors='replace')}")
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, self.port)
                    self.reconnects += 1
        finally:
            writer.close()

    def succeeded(self, status: int, body: bytes) -> bool:
        """A top-up succeeds with 201; an order only with 201 and the order fulfilled (counted by status)."""
        if status != 201:
            return False
        if self.kind != "orders":
            return True
        try:
            order_status = str(json.loads(body)["status"])
        except (ValueError, KeyError, TypeError):
            order_status = "(unreadable)"
        self.order_statuses[order_status] += 1
        return order_status == FULFILLED


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    close = False
    for _ in range(HEADER_LINES_MAX):
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def _main(arguments: argparse.Namespace) -> dict[str, Any]:
    load = Load(arguments.port, arguments.key, arguments.lines, arguments.amount, arguments.kind)
    started = time.perf_counter()
    measure_from = started + arguments.warmup
    measure_to = measure_from + arguments.seconds
    outcomes = await asyncio.gather(
        *(load.client(client, measure_from, measure_to) for client in range(arguments.clients)),
        return_exceptions=True,
    )
    failures = [f"{type(outcome).__name__}: {outcome}" for outcome in outcomes if isinstance(outcome, BaseException)]
    ok = len(load.latencies)  # one latency per success
    noun = "orders" if arguments.kind == "orders" else "top_ups"
    cpu = os.times()
    result: dict[str, Any] = {
        "kind": arguments.kind,
        "clients": arguments.clients,
        "seconds": arguments.seconds,
        "warmup_seconds": arguments.warmup,
        "line_count": arguments.lines,
        noun: ok,
        f"{noun}_per_second": ok / arguments.seconds,
        "statuses": {str(status): count for status, count in sorted(load.statuses.items())},
        "latency": latency_summary(load.latencies),
        "error_samples": load.error_samples,
        "client_failures": failures,
        "reconnects": load.reconnects,
        "generator_cpu_seconds": cpu.user + cpu.system,
        "event_loop": type(asyncio.get_running_loop()).__module__,
    }
    if arguments.kind == "orders":
        result["order_statuses"] = dict(sorted(load.order_statuses.items()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True, help="API key (Bearer)")
    parser.add_argument("--lines", type=int, required=True, help="provisioned lines: number_for(0..lines-1)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--amount", default="5.00")
    parser.add_argument("--kind", choices=KINDS, default="topups", help="POST /v1/topups or /v1/orders (card)")
    arguments = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_main(arguments))
    else:
        result = uvloop.run(_main(arguments))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
