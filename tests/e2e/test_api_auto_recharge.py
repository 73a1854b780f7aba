"""Saved cards, auto-recharge and notification settings over the API, the worker running the rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.factories import make_line, snapshot
from tests.fakes import ScriptedAcquirer
from topup.bootstrap import Application
from topup.entrypoints import worker
from topup.entrypoints.api.app import create_app

VISA = {"number": "4242 4242 4242 4242", "expiry_month": 12, "expiry_year": 2030, "cvc": "123"}
DECLINED = {**VISA, "number": "4000000000000002"}


@pytest.fixture
def acquirer(application: Application) -> ScriptedAcquirer:
    fake = ScriptedAcquirer()
    application.acquirer = fake
    return fake


def save_card(client: TestClient, msisdn: str, card: dict[str, Any] = VISA, key: str | None = None) -> Any:
    return client.post(
        f"/v1/lines/{msisdn}/payment-methods",
        json={"card": card},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def test_a_saved_card_shows_brand_and_last_four_and_a_retry_saves_it_once(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    msisdn = make_line(application).msisdn.e164

    first = save_card(client, msisdn, key="save-1")
    again = save_card(client, msisdn, key="save-1")

    assert first.status_code == 201
    card = first.json()
    assert {k: card[k] for k in ("type", "brand", "last_four", "display", "expiry_month", "expiry_year")} == {
        "type": "card",
        "brand": "visa",
        "last_four": "4242",
        "display": "Visa •••• 4242",
        "expiry_month": 12,
        "expiry_year": 2030,
    }
    assert "4242424242424242" not in first.text
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (201, card, "true")
    assert acquirer.calls == ["save_card"]
    assert client.get(f"/v1/lines/{msisdn}/payment-methods").json() == {"items": [card]}


def test_a_declined_card_is_refused_and_nothing_is_kept(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    msisdn = make_line(application).msisdn.e164
    before = snapshot(application)

    response = save_card(client, msisdn, DECLINED)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "card_not_accepted"
    assert response.json()["error"]["details"] == {"decline_code": "card_declined"}
    assert client.get(f"/v1/lines/{msisdn}/payment-methods").json() == {"items": []}
    assert snapshot(application) == before


def test_an_integrator_sees_and_uses_only_the_cards_it_saved(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer, integrator_key: str
) -> None:
    msisdn = make_line(application).msisdn.e164
    staff_card = save_card(client, msisdn).json()
    with TestClient(create_app(application), headers={"Authorization": f"Bearer {integrator_key}"}) as wallet:
        assert wallet.get(f"/v1/lines/{msisdn}/payment-methods").json() == {"items": []}
        refused = wallet.put(
            f"/v1/lines/{msisdn}/auto-recharge/threshold",
            json={"threshold": "2.00", "amount": "10.00", "payment_method_id": staff_card["id"]},
        )
        removal = wallet.delete(f"/v1/lines/{msisdn}/payment-methods/{staff_card['id']}")

    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "payment_method_not_found")
    assert (removal.status_code, removal.json()["error"]["code"]) == (404, "payment_method_not_found")


def test_a_threshold_rule_tops_up_through_the_worker_and_tells_the_subscriber(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    msisdn = make_line(application, balance_qepik=150, language="en").msisdn.e164
    card = save_card(client, msisdn).json()

    response = client.put(
        f"/v1/lines/{msisdn}/auto-recharge/threshold",
        json={"threshold": "2.00", "amount": "10.00", "monthly_max": 2, "payment_method_id": card["id"]},
    )

    assert response.status_code == 200
    rule = response.json()
    assert {k: rule[k] for k in ("kind", "state", "amount", "threshold", "monthly_max", "runs_this_month")} == {
        "kind": "threshold",
        "state": "active",
        "amount": {"amount": "10.00", "currency": "AZN"},
        "threshold": {"amount": "2.00", "currency": "AZN"},
        "monthly_max": 2,
        "runs_this_month": 0,
    }
    assert rule["next_run_at"] == application.clock.now().isoformat()  # 1.50 is below 2.00 already
    assert rule["payment_method"]["id"] == card["id"]

    worker.run_once(application)

    [after] = client.get(f"/v1/lines/{msisdn}/auto-recharge").json()["items"]
    assert (after["next_run_at"], after["runs_this_month"], after["last_run"]["outcome"]) == (None, 1, "fulfilled")
    order = client.get(f"/v1/orders/{after['last_run']['order_id']}").json()
    assert (order["status"], order["auto_recharge_id"], order["payment"]["saved_card_id"]) == (
        "fulfilled",
        rule["id"],
        card["id"],
    )
    assert client.get(f"/v1/lines/{msisdn}/balance").json()["main"] == {"amount": "11.50", "currency": "AZN"}
    inbox = client.get("/v1/dev/inbox", params={"msisdn": msisdn}).json()["items"]
    assert [item["text"] for item in inbox if item["kind"] == "auto_recharge_done"] == [
        "Auto-recharge: your balance was topped up by AZN10.00 from Visa •••• 4242. Balance: AZN11.50."
    ]


def test_an_order_paid_with_a_saved_card(
    client: TestClient, application: Application, acquirer: ScriptedAcquirer
) -> None:
    msisdn = make_line(application).msisdn.e164
    card = save_card(client, msisdn).json()

    response = client.post(
        "/v1/orders",
        json={
            "msisdn": msisdn,
            "product": {"type": "topup", "amount": "3.00"},
            "payment": {"method": "saved_card", "payment_method_id": card["id"]},
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["payment"]) == (
        "fulfilled",
        {"method": "card", "brand": "visa", "last_four": "4242", "saved_card_id": card["id"]},
    )


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("threshold", {"threshold": "2.00", "amount": "0.50"}, 422, "amount_out_of_range"),
        ("threshold", {"threshold": "-1.00", "amount": "10.00"}, 422, "invalid_amount"),
        ("threshold", {"threshold": "2.00", "amount": "10.00", "monthly_max": 0}, 422, "invalid_input"),
        ("threshold", {"threshold": "2.00", "amount": "10.00", "monthly_max": "3"}, 422, "validation_error"),
        ("threshold", {"threshold": "2.00", "amount": "1e3"}, 422, "invalid_amount"),
        ("schedule", {"day_of_month": 32, "amount": "5.00"}, 422, "invalid_input"),
        ("schedule", {"day_of_month": 5, "amount": "5.00", "extra": 1}, 422, "validation_error"),
        (
            "schedule",
            {"day_of_month": 5, "amount": "5.00", "payment_method_id": "nope"},
            404,
            "payment_method_not_found",
        ),
    ],
)
def test_bad_rules_are_refused_with_a_code_and_change_nothing(
    client: TestClient,
    application: Application,
    acquirer: ScriptedAcquirer,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164
    card = save_card(client, msisdn).json()
    before = snapshot(application)

    response = client.put(f"/v1/lines/{msisdn}/auto-recharge/{path}", json={"payment_method_id": card["id"], **body})

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert client.get(f"/v1/lines/{msisdn}/auto-recharge").json() == {"items": []}
    assert snapshot(application) == before


def test_rules_on_unknown_lines_and_kinds_are_refused(client: TestClient, acquirer: ScriptedAcquirer) -> None:
    unknown = client.get("/v1/lines/+994509999999/auto-recharge")
    kind = client.delete("/v1/lines/+994509999999/auto-recharge/weekly")
    letters = client.get("/v1/lines/05012ABCDE/payment-methods")

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "line_not_found")
    assert (kind.status_code, kind.json()["error"]["code"]) == (422, "validation_error")
    assert letters.status_code == 422


def test_notification_settings_choose_channels_and_show_a_new_webhook_secret_once(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application).msisdn.e164
    assert client.get(f"/v1/lines/{msisdn}/notification-settings").json() == {
        "msisdn": msisdn,
        "sms": True,
        "email": None,
        "webhook_url": None,
        "muted": [],
        "updated_at": None,
    }
    body = {
        "sms": False,
        "email": "aysel@example.az",
        "webhook_url": "https://hooks.example.az/t",
        "muted": ["data_75"],
    }

    first = client.put(f"/v1/lines/{msisdn}/notification-settings", json=body)
    again = client.put(f"/v1/lines/{msisdn}/notification-settings", json=body)

    assert first.status_code == 200
    assert len(first.json()["webhook_secret"]) == 64
    assert "webhook_secret" not in again.json()
    assert client.get(f"/v1/lines/{msisdn}/notification-settings").json() == {
        "msisdn": msisdn,
        "sms": False,
        "email": "aysel@example.az",
        "webhook_url": "https://hooks.example.az/t",
        "muted": ["data_75"],
        "updated_at": application.clock.now().isoformat(),
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "aysel"}, "invalid_input"),
        ({"email": "a@b.az\nBcc: everyone@example.az"}, "invalid_input"),
        ({"webhook_url": "javascript:alert(1)"}, "invalid_input"),
        ({"muted": ["everything"]}, "invalid_input"),
        ({"sms": "yes"}, "validation_error"),
    ],
)
def test_bad_notification_settings_are_refused_and_change_nothing(
    client: TestClient, application: Application, body: dict[str, Any], code: str
) -> None:
    msisdn = make_line(application).msisdn.e164

    response = client.put(f"/v1/lines/{msisdn}/notification-settings", json=body)

    assert (response.status_code, response.json()["error"]["code"]) == (422, code)
    with application.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM notification_settings")).scalar_one() == 0
