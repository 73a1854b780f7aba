from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.factories import make_line, snapshot
from tests.fakes import ScriptedAcquirer, ScriptedWallet
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.orders import PaymentMethod
from topup.services import quotes

VISA = {"number": "4242 4242 4242 4242", "expiry_month": 12, "expiry_year": 2030, "cvc": "123"}
CHALLENGE = {**VISA, "number": "4000000000003220"}
DECLINED = {**VISA, "number": "4000000000000002"}


@pytest.fixture
def acquirer(application: Application) -> ScriptedAcquirer:
    fake = ScriptedAcquirer()
    application.acquirer = fake
    return fake


def order_body(msisdn: str, card: dict[str, Any], product: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "msisdn": msisdn,
        "product": product or {"type": "topup", "amount": "10.00"},
        "payment": {"method": "card", "card": card},
    }


def place(client: TestClient, body: dict[str, Any], key: str | None = None) -> Any:
    return client.post("/v1/orders", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def test_a_card_order_is_fulfilled_and_shows_only_brand_and_last_four(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)

    response = place(client, order_body(line.msisdn.e164, VISA))

    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["payment"], order["charge"]) == (
        "fulfilled",
        {"method": "card", "brand": "visa", "last_four": "4242", "saved_card_id": None},
        {"amount": "10.00", "currency": "AZN"},
    )
    assert [(t["from"], t["to"]) for t in order["transitions"]] == [("created", "paid"), ("paid", "fulfilled")]
    assert order["delivered"]["receipt_url"].endswith(
        f"/v1/transactions/{order['delivered']['transaction_id']}/receipt"
    )
    assert client.get(f"/v1/orders/{order['id']}").json() == order
    balance = client.get(f"/v1/lines/{line.msisdn.e164}/balance").json()
    assert balance["main"] == {"amount": "10.00", "currency": "AZN"}
    with application.engine.connect() as connection:
        dumped = json.dumps([list(r) for r in connection.execute(text("SELECT * FROM idempotency_keys"))], default=str)
        dumped += json.dumps([list(r) for r in connection.execute(text("SELECT * FROM orders"))], default=str)
    assert "4242424242424242" not in dumped.replace(" ", "")
    assert '"123"' not in dumped


def test_a_retry_with_the_same_key_pays_once(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    first = place(client, order_body(line.msisdn.e164, VISA), key="order-1")
    again = place(client, order_body(line.msisdn.e164, VISA), key="order-1")

    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert acquirer.calls == ["authorise", "capture"]
    assert client.get(f"/v1/lines/{line.msisdn.e164}/balance").json()["main"]["amount"] == "10.00"
    other = place(client, order_body(line.msisdn.e164, VISA, {"type": "topup", "amount": "11.00"}), key="order-1")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")


def test_a_retry_while_the_first_is_still_paying_sees_the_order_as_it_stands(
    client: TestClient, application: Application
) -> None:
    line = make_line(application)
    inside, release = threading.Event(), threading.Event()
    answers: dict[str, Any] = {}

    class Slow(ScriptedAcquirer):
        def authorise(self, **kwargs: Any) -> Any:  # type: ignore[override]
            inside.set()
            release.wait(timeout=30)
            return super().authorise(**kwargs)

    application.acquirer = Slow()
    first = threading.Thread(
        target=lambda: answers.setdefault("first", place(client, order_body(line.msisdn.e164, VISA), key="k"))
    )
    first.start()
    assert inside.wait(timeout=30)
    retry = place(client, order_body(line.msisdn.e164, VISA), key="k")
    release.set()
    first.join(timeout=30)

    assert (retry.status_code, retry.json()["status"], retry.headers["Idempotent-Replayed"]) == (201, "created", "true")
    assert retry.json()["id"] == answers["first"].json()["id"]
    assert answers["first"].json()["status"] == "fulfilled"


def test_a_challenge_returns_a_redirect_and_the_return_page_settles_it(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    order = place(client, order_body(line.msisdn.e164, CHALLENGE)).json()
    assert (order["status"], order["next_action"]) == (
        "awaiting_payment",
        {"redirect_url": "https://sandbox.test/challenge"},
    )

    acquirer.approve_challenge(order["id"])
    page = client.get(f"/v1/orders/{order['id']}/return", headers={"Authorization": ""})

    assert page.status_code == 200
    assert "topped up" in page.text
    assert client.get(f"/v1/orders/{order['id']}").json()["status"] == "fulfilled"


def test_a_declined_card_is_a_failed_order_with_the_reason(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    order = place(client, order_body(line.msisdn.e164, DECLINED)).json()
    assert (order["status"], order["failure"]["code"]) == ("failed", "card_declined")
    assert client.get(f"/v1/lines/{line.msisdn.e164}/balance").json()["main"]["amount"] == "0.00"


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ({**VISA, "number": "4242424242424241"}, "card_invalid"),
        ({**VISA, "expiry_year": 2025}, "card_expired"),
        ({**VISA, "cvc": "1"}, "card_invalid"),
    ],
)
def test_bad_cards_are_refused_before_any_provider_call(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer, card: dict[str, Any], code: str
) -> None:
    line = make_line(application)
    response = place(client, order_body(line.msisdn.e164, card))
    assert (response.status_code, response.json()["error"]["code"]) == (422, code)
    assert acquirer.calls == []
    assert client.get("/v1/orders").json() == {"items": []}


def test_integrators_see_only_their_orders(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer, integrator_key: str
) -> None:
    line = make_line(application)
    order = place(client, order_body(line.msisdn.e164, VISA)).json()
    as_integrator = {"Authorization": f"Bearer {integrator_key}"}

    hidden = client.get(f"/v1/orders/{order['id']}", headers=as_integrator)

    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "order_not_found")
    assert client.get("/v1/orders", headers=as_integrator).json() == {"items": []}
    assert [o["id"] for o in client.get(f"/v1/orders?msisdn={line.msisdn.e164}&status=fulfilled").json()["items"]] == [
        order["id"]
    ]


def test_cancel_a_waiting_order(client: TestClient, application: Application, acquirer: ScriptedAcquirer) -> None:
    line = make_line(application)
    order = place(client, order_body(line.msisdn.e164, CHALLENGE)).json()

    cancelled = client.post(f"/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "c1"})
    again = client.post(f"/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "c2"})

    assert cancelled.json()["status"] == "cancelled"
    assert (again.status_code, again.json()["error"]["code"]) == (409, "order_not_cancellable")


def test_staff_reconcile_a_day(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer, integrator_key: str
) -> None:
    line = make_line(application)
    order = place(client, order_body(line.msisdn.e164, VISA)).json()

    report = client.get("/v1/reconciliation", params={"date": "2026-11-23"})

    assert report.json() == {
        "date": "2026-11-23",
        "ok": True,
        "orders": 1,
        "captured": {"AZN": "10.00"},
        "refunded": {"AZN": "0.00"},
        "delivered": {"amount": "10.00", "currency": "AZN"},
        "mismatches": [],
    }
    acquirer.payments[order["id"]].captured = 0
    assert client.get("/v1/reconciliation", params={"date": "2026-11-23"}).json()["mismatches"] == [
        {"order_id": order["id"], "status": "fulfilled", "problem": "captured 0, expected 1000 AZN"}
    ]
    forbidden = client.get(
        "/v1/reconciliation", params={"date": "2026-11-23"}, headers={"Authorization": f"Bearer {integrator_key}"}
    )
    assert forbidden.status_code == 403
    assert client.get("/v1/reconciliation", params={"date": "yesterday"}).status_code == 422


def test_staff_refund_an_order(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer, integrator_key: str, clock: FixedClock
) -> None:
    line = make_line(application)
    order = place(client, order_body(line.msisdn.e164, VISA)).json()
    clock.advance(timedelta(minutes=1))
    refund_path = f"/v1/orders/{order['id']}/refund"

    forbidden = client.post(refund_path, headers={"Idempotency-Key": "r0", "Authorization": f"Bearer {integrator_key}"})
    refunded = client.post(refund_path, headers={"Idempotency-Key": "r1"})
    replay = client.post(refund_path, headers={"Idempotency-Key": "r1"})

    assert forbidden.status_code == 403
    assert (refunded.status_code, refunded.json()["status"]) == (200, "refunded")
    assert replay.json() == refunded.json()
    assert client.get(f"/v1/lines/{line.msisdn.e164}/balance").json()["main"]["amount"] == "0.00"
    kinds = [t["kind"] for t in client.get(f"/v1/lines/{line.msisdn.e164}/transactions").json()["items"]]
    assert kinds == ["reversal", "topup"]
    missing = client.post("/v1/orders/" + "f" * 32 + "/refund", headers={"Idempotency-Key": "r2"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "order_not_found")


def test_a_refused_order_leaves_its_key_free(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    refused = place(client, order_body(line.msisdn.e164, {**VISA, "number": "4242424242424241"}), key="same")
    accepted = place(client, order_body(line.msisdn.e164, VISA), key="same")
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "card_invalid")
    assert (accepted.status_code, accepted.json()["status"]) == (201, "fulfilled")


def test_the_receipt_of_a_paid_order_shows_how_it_was_paid(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    client.put("/v1/fx-rates/USD", json={"rate": "1.7"})
    line = make_line(application, language="en")
    body = {**order_body(line.msisdn.e164, VISA), "currency": "USD"}
    order = place(client, body).json()
    receipt = client.get(order["delivered"]["receipt_url"].removeprefix("http://127.0.0.1:8000"))

    assert receipt.status_code == 200
    for fragment in (
        "Visa •••• 4242",
        "5.89 USD",
        "1 USD = 1.700000 AZN",
        order["id"],
        f"pay_{order['id']}",
        "Paid order",
    ):
        assert fragment in receipt.text
    assert "4242424242424242" not in receipt.text

    clock.advance(timedelta(minutes=1))
    client.post(f"/v1/orders/{order['id']}/refund", headers={"Idempotency-Key": "refund"})
    reversal = client.get(f"/v1/lines/{line.msisdn.e164}/transactions").json()["items"][0]
    assert reversal["kind"] == "reversal"
    for fmt in ("html", "pdf"):
        rendered = client.get(f"/v1/transactions/{reversal['id']}/receipt", params={"format": fmt})
        assert rendered.status_code == 200
    assert "Reversal" in client.get(f"/v1/transactions/{reversal['id']}/receipt").text


@pytest.mark.parametrize(
    ("payment", "currency", "status", "code"),
    [
        ({"method": "wallet", "wallet": "paypal", "token": "abc"}, "AZN", 422, "invalid_input"),
        ({"method": "wallet", "wallet": "alipay"}, "AZN", 422, "validation_error"),
        ({"method": "goldenpay", "card": {}}, "AZN", 422, "validation_error"),
        ({"method": "goldenpay"}, "USD", 422, "currency_not_supported_by_method"),
        ({"method": "wallet", "wallet": "webmoney"}, "AZN", 409, "payment_method_unavailable"),
        ({"method": "wallet", "wallet": "googlepay", "token": ""}, "AZN", 422, "validation_error"),
    ],
)
def test_wallet_and_gateway_orders_refuse_what_cannot_be_paid(
    client: TestClient,
    application: Application,
    payment: dict[str, Any],
    currency: str,
    status: int,
    code: str,
) -> None:
    application.providers = {
        PaymentMethod.GOLDENPAY: ScriptedWallet(captures_on_approval=True, currencies=frozenset({"AZN"}))
    }
    line = make_line(application)
    quotes.set_rate(application.uow(), application.clock, currency="USD", rate="1.7", set_by="test")
    before = snapshot(application)

    response = place(client, {**order_body(line.msisdn.e164, VISA), "payment": payment, "currency": currency})

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert snapshot(application) == before


def test_a_gateway_order_answers_where_to_send_the_customer(client: TestClient, application: Application) -> None:
    gateway = ScriptedWallet(captures_on_approval=True, currencies=frozenset({"AZN"}))
    application.providers = {PaymentMethod.GOLDENPAY: gateway}
    line = make_line(application)

    response = place(client, {**order_body(line.msisdn.e164, VISA), "payment": {"method": "goldenpay"}})

    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["next_action"], order["payment"]) == (
        "awaiting_payment",
        {"redirect_url": f"https://wallet.test/approve/{order['id']}"},
        {"method": "goldenpay", "brand": None, "last_four": None, "saved_card_id": None},
    )
    gateway.approve(order["id"])
    back = client.get("/v1/payments/goldenpay/return", params={"payment_key": f"w_{order['id']}"})
    assert back.status_code == 200
    assert client.get(f"/v1/orders/{order['id']}").json()["status"] == "fulfilled"
