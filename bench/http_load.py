"""A small HTTP/1.1 load generator: N keep-alive connections on raw asyncio streams, one request in flight each.

Run as its own process so its CPU is not the server's: `python -m bench.http_load --port P --key K ...`;
it prints one JSON object. Each request goes to a random provisioned line with a fresh Idempotency-Key:
`--kind topups` (the default) sends `POST /v1/topups`; `--kind orders` sends `POST /v1/orders` paid by a
sandbox card that is authorised without a challenge, and counts only a 201 whose order is "fulfilled";
`--kind charging` opens a data charging session (`POST /v1/charging/sessions`) and, on its 201, terminates it
(`POST /v1/charging/sessions/{id}/terminate`) on the same connection: one operation is the pair, and counts only
when the open answered 201 and the terminate 200 with the session "terminated". The lines must have the money
(`--lines` may name fewer lines than were provisioned: the first ones, which the caller funded).
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
KINDS = ("topups", "orders", "charging")
OPERATIONS = {"topups": "top_up", "orders": "order", "charging": "charging_pair"}  # the JSON's nouns, singular
# A sandbox card the acquirer authorises at once (README: "Paying by card (the sandbox)").
ORDER_CARD = '{"number":"4242424242424242","expiry_month":12,"expiry_year":2030,"cvc":"123"}'
FULFILLED = "fulfilled"
# A data session: reserve 1,000 KB, then report 500 KB used at termination (about 0.05 AZN a pair at 0.10/MB).
CHARGING_SERVICE = "data"
CHARGING_REQUESTED_UNITS = 1000
CHARGING_USED_UNITS = 500
TERMINATED = "terminated"


class Connection:
    """One keep-alive connection; reopened when the server answers `Connection: close`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            raise ConnectionError("the connection is not open")
        self.writer.write(request)
        status, body, close = await asyncio.wait_for(_read_response(self.reader), RESPONSE_TIMEOUT_SECONDS)
        if close:
            self.close()
            await self.open()
            self.reconnects += 1
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


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
        self.terminate_statuses: Counter[int] = Counter()  # kind "charging": answers to the terminate
        self.session_states: Counter[str] = Counter()  # kind "charging": "state" of each 200 terminate
        self.error_samples: list[str] = []
        self.reconnects = 0

    def _post(self, path: str, body: bytes, idempotency_key: str | None) -> bytes:
        key = f"Idempotency-Key: {idempotency_key}\r\n" if idempotency_key else ""
        return (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Authorization: Bearer {self.key}\r\n{key}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def request(self, client: int, sequence: int, rng: random.Random) -> bytes:
        """The operation's first request (the only one, except for kind "charging")."""
        msisdn = number_for(rng.randrange(self.line_count))
        if self.kind == "charging":
            path = "/v1/charging/sessions"
            body = (
                f'{{"msisdn":"{msisdn}","service":"{CHARGING_SERVICE}","requested_units":{CHARGING_REQUESTED_UNITS}}}'
            ).encode()
        elif self.kind == "orders":
            path = "/v1/orders"
            body = (
                f'{{"msisdn":"{msisdn}","product":{{"type":"topup","amount":"{self.amount}"}},'
                f'"payment":{{"method":"card","card":{ORDER_CARD}}}}}'
            ).encode()
        else:
            path = "/v1/topups"
            body = f'{{"msisdn":"{msisdn}","amount":"{self.amount}"}}'.encode()
        return self._post(path, body, f"bench-{self.run_id}-{client}-{sequence}")

    def terminate_request(self, session_id: str) -> bytes:
        """Kind "charging": the final report (request numbers make it idempotent: no Idempotency-Key)."""
        body = f'{{"request_number":1,"used_units":{CHARGING_USED_UNITS}}}'.encode()
        return self._post(f"/v1/charging/sessions/{session_id}/terminate", body, None)

    async def operation(
        self, connection: Connection, client: int, sequence: int, rng: random.Random
    ) -> list[tuple[int, bytes]]:
        """One operation's answers, in order: one exchange, or for kind "charging" the open then (on 201) the
        terminate."""
        answers = [await connection.exchange(self.request(client, sequence, rng))]
        if self.kind == "charging" and answers[0][0] == 201:
            session_id = _field(answers[0][1], "session_id")
            if session_id:
                answers.append(await connection.exchange(self.terminate_request(session_id)))
        return answers

    async def client(self, client: int, measure_from: float, measure_to: float) -> None:
        rng = random.Random(client)
        connection = Connection(self.port)
        await connection.open()
        try:
            for sequence in range(REQUESTS_MAX_PER_CLIENT):
                if time.perf_counter() >= measure_to:
                    break
                started = time.perf_counter()
                answers = await self.operation(connection, client, sequence, rng)
                finished = time.perf_counter()
                if measure_from <= finished <= measure_to:
                    self.record(answers, finished - started)
        finally:
            self.reconnects += connection.reconnects
            connection.close()

    def record(self, answers: list[tuple[int, bytes]], latency: float) -> None:
        """Count one operation that ended in the window: its first answer by status (the terminate's apart)."""
        self.statuses[answers[0][0]] += 1
        if len(answers) > 1:
            self.terminate_statuses[answers[1][0]] += 1
        if self.succeeded(answers):
            self.latencies.append(latency)
        elif len(self.error_samples) < ERROR_SAMPLES_MAX:
            status, body = answers[-1]
            stage = "terminate " if len(answers) > 1 else ""
            self.error_samples.append(f"{stage}{status} {body[:300].decode(errors='replace')}")

    def succeeded(self, answers: list[tuple[int, bytes]]) -> bool:
        """A top-up succeeds with 201; an order only with 201 and the order fulfilled (counted by status); a
        charging pair only with the open's 201 and the terminate's 200 with the session terminated."""
        status, body = answers[0]
        if status != 201:
            return False
        if self.kind == "charging":
            if len(answers) < 2 or answers[1][0] != 200:
                return False
            state = _field(answers[1][1], "state") or "(unreadable)"
            self.session_states[state] += 1
            return state == TERMINATED
        if self.kind != "orders":
            return True
        order_status = _field(body, "status") or "(unreadable)"
        self.order_statuses[order_status] += 1
        return order_status == FULFILLED


def _field(body: bytes, name: str) -> str | None:
    """One top-level field of a JSON answer, as text; None when the body is not such an object."""
    try:
        value = json.loads(body)[name]
    except (ValueError, KeyError, TypeError):
        return None
    return None if value is None else str(value)


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
    noun = f"{OPERATIONS[arguments.kind]}s"
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
    if arguments.kind == "charging":
        result["terminate_statuses"] = {str(status): count for status, count in sorted(load.terminate_statuses.items())}
        result["session_states"] = dict(sorted(load.session_states.items()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True, help="API key (Bearer)")
    parser.add_argument(
        "--lines", type=int, required=True, help="lines to pick from: number_for(0..lines-1), a random one each time"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--amount", default="5.00")
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default="topups",
        help="POST /v1/topups, /v1/orders (card), or a charging session opened and terminated",
    )
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
