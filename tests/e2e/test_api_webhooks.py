"""Webhooks end to end: a real receiver on loopback, the real HTTP sender, the worker's delivery pass."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_line
from tests.fakes import ScriptedAcquirer
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.entrypoints import worker

VISA = {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2030, "cvc": "123"}


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # status codes to give, in order; then 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            self.send_response(state.answers.pop(0) if state.answers else 200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def paid_order(client: TestClient, application: Application) -> Any:
    application.acquirer = ScriptedAcquirer()
    line = make_line(application)

    def place() -> dict[str, Any]:
        body = {
            "msisdn": line.msisdn.e164,
            "product": {"type": "topup", "amount": "10.00"},
            "payment": {"method": "card", "card": VISA},
        }
        return client.post("/v1/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}).json()  # type: ignore[no-any-return]

    return place


def register(client: TestClient, url: str) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201
    return response.json()  # type: ignore[no-any-return]


def test_a_completed_order_is_delivered_signed_once(
    client: TestClient, application: Application, receiver: Receiver, paid_order: Any
) -> None:
    hook = register(client, receiver.url)
    order = paid_order()

    worker.run_once(application)
    worker.run_once(application)  # nothing more to send

    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    event = json.loads(body)
    assert (event["type"], event["data"]["order_id"], event["data"]["status"]) == (
        "order.completed",
        order["id"],
        "fulfilled",
    )
    assert headers["Topup-Event-Id"] == event["id"]
    timestamp, mac = (part.split("=", 1)[1] for part in headers["Topup-Signature"].split(","))
    expected = hmac.new(hook["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    history = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [(h["event_id"], h["attempt"], h["status_code"], h["delivered"]) for h in history] == [
        (event["id"], 1, 200, True)
    ]


def test_a_failed_delivery_is_retried_with_back_off(
    client: TestClient, application: Application, receiver: Receiver, paid_order: Any, clock: FixedClock
) -> None:
    hook = register(client, receiver.url)
    receiver.answers = [500]
    paid_order()

    worker.run_once(application)
    worker.run_once(application)  # not due again yet
    assert len(receiver.received) == 1
    clock.advance(timedelta(minutes=1))
    worker.run_once(application)

    assert len(receiver.received) == 2
    assert receiver.received[0][1] == receiver.received[1][1]  # the same event, the same id
    history = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [(h["attempt"], h["status_code"], h["error"], h["delivered"]) for h in history] == [
        (2, 200, None, True),
        (1, 500, "HTTP 500", False),
    ]


def test_webhooks_belong_to_whoever_registered_them(
    client: TestClient, application: Application, receiver: Receiver, integrator_key: str
) -> None:
    hook = register(client, receiver.url)
    response = client.get(
        f"/v1/webhooks/{hook['id']}/deliveries", headers={"Authorization": f"Bearer {integrator_key}"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "webhook_not_found")


@pytest.mark.parametrize(
    "body",
    [{"url": "ftp://example.test/x"}, {"url": "https://shop.test/x", "events": ["order.exploded"]}, {"url": 5}],
)
def test_bad_webhooks_are_refused(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/webhooks", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 422
    assert response.json()["error"]["code"] in {"invalid_input", "validation_error"}
