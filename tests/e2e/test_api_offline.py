"""The offline channels over the API: staff manage agents, an agent's till sells with its key, a kiosk forwards
its payments, vouchers are redeemed by PIN, and the USSD gateway's callback answers menus."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.factories import make_line, snapshot
from topup.bootstrap import Application
from topup.entrypoints.api.app import create_app
from topup.services import api_keys, vouchers


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def as_client(application: Application, api_key: str) -> TestClient:
    return TestClient(create_app(application), headers={"Authorization": f"Bearer {api_key}"})


def register(client: TestClient, *, kind: str = "shop", licence: str = "SH-0042") -> dict[str, Any]:
    response = client.post(
        "/v1/agents",
        json={"name": "Ülvi market", "kind": kind, "licence_number": licence, "address": "Nizami 10", "verified": True},
        headers=key(),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def agent_key(application: Application, agent_id: str, role: str = "agent") -> str:
    return api_keys.create_api_key(application.uow(), application.clock, name="till", role=role, agent_id=agent_id)[1]


@pytest.fixture
def shop(client: TestClient) -> dict[str, Any]:
    agent = register(client)
    assert client.post(f"/v1/agents/{agent['id']}/deposits", json={"amount": "50.00"}, headers=key()).status_code == 201
    assert client.put("/v1/commission-rates/shop/azercell", json={"percent": "2.00"}).status_code == 200
    return agent


@pytest.fixture
def till(application: Application, shop: dict[str, Any]) -> Iterator[TestClient]:
    with as_client(application, agent_key(application, shop["id"])) as client:
        yield client


def test_an_agents_till_sells_a_top_up_from_its_float_once_per_key(
    application: Application, till: TestClient, client: TestClient, shop: dict[str, Any]
) -> None:
    number = make_line(application).msisdn.e164
    body = {"msisdn": number, "product": {"type": "topup", "amount": "10.00"}}
    headers = key()

    sold = till.post("/v1/agent/sales", json=body, headers=headers)
    again = till.post("/v1/agent/sales", json=body, headers=headers)

    assert sold.status_code == 201
    assert (sold.json()["commission"], sold.json()["float_after"]) == (
        {"amount": "0.20", "currency": "AZN"},
        {"amount": "40.00", "currency": "AZN"},
    )
    assert again.json() == sold.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    position = till.get("/v1/agent").json()
    assert (position["float"]["amount"], position["commission"]["amount"]) == ("40.00", "0.20")
    assert client.get(f"/v1/lines/{number}/balance").json()["main"]["amount"] == "10.00"
    assert client.get(sold.json()["receipt_url"].removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_a_sale_beyond_the_float_is_refused_and_changes_nothing(application: Application, till: TestClient) -> None:
    number = make_line(application).msisdn.e164
    before = snapshot(application)

    refused = till.post(
        "/v1/agent/sales", json={"msisdn": number, "product": {"type": "topup", "amount": "50.01"}}, headers=key()
    )

    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "float_insufficient")
    assert snapshot(application) == before


def test_an_agent_key_has_only_the_agent_api(application: Application, till: TestClient) -> None:
    number = make_line(application).msisdn.e164

    topup = till.post("/v1/topups", json={"msisdn": number, "amount": "5.00"}, headers=key())
    agents_list = till.get("/v1/agents")
    kiosk = till.post("/v1/kiosk/quotes", json={"msisdn": number, "inserted": "5.00"})

    assert [r.status_code for r in (topup, agents_list, kiosk)] == [403, 403, 403]
    assert {r.json()["error"]["code"] for r in (topup, agents_list, kiosk)} == {"forbidden"}


def test_staff_see_the_daily_report_as_json_csv_and_pdf(
    application: Application, till: TestClient, client: TestClient, shop: dict[str, Any]
) -> None:
    number = make_line(application).msisdn.e164
    till.post("/v1/agent/sales", json={"msisdn": number, "product": {"type": "topup", "amount": "5.00"}}, headers=key())
    till.post(
        "/v1/agent/sales",
        json={"msisdn": number, "product": {"type": "bundle", "code": "azercell-1gb-1d"}},
        headers=key(),
    )

    report = client.get(f"/v1/agents/{shop['id']}/daily-report").json()
    csv = client.get(f"/v1/agents/{shop['id']}/daily-report", params={"format": "csv"})
    pdf = client.get(f"/v1/agents/{shop['id']}/daily-report", params={"format": "pdf", "language": "en"})
    own = till.get("/v1/agent/daily-report").json()

    assert (report["sales"], report["sales_amount"], report["commission"]) == (
        2,
        {"amount": "6.00", "currency": "AZN"},
        {"amount": "0.12", "currency": "AZN"},
    )
    assert (report["opening_float"]["amount"], report["closing_float"]["amount"]) == ("0.00", "44.00")
    assert report["by_operator"] == {"azercell": {"sales": 2, "amount": {"amount": "6.00", "currency": "AZN"}}}
    assert own == report
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert "sales_amount,6.00" in csv.text
    assert csv.text.count(",sale,") == 2
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "End-of-day report" in text
    assert "Ülvi market" in text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "", "kind": "shop", "licence_number": "SH-1", "address": "x"}, "invalid_input"),
        ({"name": "A", "kind": "casino", "licence_number": "SH-1", "address": "x"}, "validation_error"),
        ({"name": "A", "kind": "shop", "licence_number": "'; DROP TABLE agents;--", "address": "x"}, "invalid_input"),
        ({"name": "A", "kind": "shop", "licence_number": "SH-1", "address": "x", "float": "9"}, "validation_error"),
    ],
)
def test_bad_agents_are_refused(client: TestClient, body: dict[str, Any], code: str) -> None:
    response = client.post("/v1/agents", json=body, headers=key())

    assert (response.status_code, response.json()["error"]["code"]) == (422, code)
    assert client.get("/v1/agents").json() == {"items": []}


def test_an_integrator_cannot_manage_agents(client: TestClient, integrator_key: str, application: Application) -> None:
    with as_client(application, integrator_key) as wallet:
        response = wallet.post(
            "/v1/agents", json={"name": "A", "kind": "shop", "licence_number": "SH-9", "address": "x"}, headers=key()
        )

    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


# --- kiosks -------------------------------------------------------------------------------------------------------


@pytest.fixture
def kiosk(application: Application, client: TestClient) -> Iterator[TestClient]:
    registered = register(client, kind="kiosk", licence="KI-0007")
    client.put("/v1/commission-rates/kiosk/azercell", json={"percent": "1.50"})
    with as_client(application, agent_key(application, registered["id"], role="kiosk")) as kiosk_client:
        kiosk_client.headers["X-Kiosk"] = registered["id"]
        yield kiosk_client


def forward(kiosk: TestClient, local_id: str, number: str, banknotes: list[int], header: str | None = None) -> Any:
    body = {"local_id": local_id, "msisdn": number, "banknotes": banknotes, "paid_at": "2026-11-23T13:55:00+04:00"}
    return kiosk.post("/v1/kiosk/payments", json=body, headers={"Idempotency-Key": header or local_id})


def test_a_kiosk_quotes_the_fee_then_forwards_its_payment_once(
    application: Application, kiosk: TestClient, client: TestClient
) -> None:
    number = make_line(application).msisdn.e164

    quote = kiosk.post("/v1/kiosk/quotes", json={"msisdn": "050" + number[6:], "inserted": "20.00"}).json()
    first = forward(kiosk, "kiosk7-000001", number, [10, 10])
    again = forward(kiosk, "kiosk7-000001", number, [10, 10])
    altered = forward(kiosk, "kiosk7-000001", number, [10, 20])

    assert (quote["operator"], quote["fee"]["amount"], quote["credited"]["amount"], quote["fee_percent"]) == (
        "azercell",
        "0.30",
        "19.70",
        "1.50",
    )
    assert (first.status_code, first.json()["state"], first.json()["credited"]["amount"]) == (201, "credited", "19.70")
    assert again.json() == first.json()
    assert (altered.status_code, altered.json()["error"]["code"]) == (409, "kiosk_payment_conflict")
    assert client.get(f"/v1/lines/{number}/balance").json()["main"]["amount"] == "19.70"
    box = client.get(f"/v1/kiosks/{kiosk.headers['X-Kiosk']}/encashment").json()
    assert (box["expected"]["amount"], box["payments"]) == ("20.00", 1)
    collected = client.post(
        f"/v1/kiosks/{kiosk.headers['X-Kiosk']}/collections", json={"counted": "20.00", "collected_by": "Rauf"}
    ).json()
    assert (collected["difference"]["amount"], collected["payments"]) == ("0.00", 1)


@pytest.mark.parametrize(
    ("banknotes", "header", "status", "code"),
    [
        ([5, 3], None, 422, "banknote_rejected"),
        ([], None, 422, "invalid_input"),
        ([5], "another-key", 422, "invalid_input"),
        ([True], None, 422, "validation_error"),
    ],
)
def test_bad_kiosk_payments_are_refused_and_change_nothing(
    application: Application, kiosk: TestClient, banknotes: list[Any], header: str | None, status: int, code: str
) -> None:
    number = make_line(application).msisdn.e164
    before = snapshot(application)

    response = forward(kiosk, "kiosk7-000002", number, banknotes, header=header)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert snapshot(application) == before


def test_a_kiosk_payment_without_its_idempotency_key_is_refused(application: Application, kiosk: TestClient) -> None:
    number = make_line(application).msisdn.e164
    body = {"local_id": "kiosk7-000003", "msisdn": number, "banknotes": [5], "paid_at": "2026-11-23T13:55:00+04:00"}

    response = kiosk.post("/v1/kiosk/payments", json=body)

    assert (response.status_code, response.json()["error"]["code"]) == (400, "idempotency_key_missing")


# --- vouchers -----------------------------------------------------------------------------------------------------


def test_a_voucher_is_redeemed_by_pin_once_and_its_status_read_by_serial(
    application: Application, client: TestClient, shop: dict[str, Any]
) -> None:
    batch, [card] = vouchers.generate(
        application.uow(), application.vouchers, operator="azercell", nominal_qepik=1000, count=1, actor="test"
    )
    assert client.post("/v1/vouchers/distribute", json={"batch_id": batch.id, "agent_id": shop["id"]}).json() == {
        "moved": 1,
        "state": "distributed",
    }
    client.post("/v1/vouchers/activate", json={"serials": [card.serial]})
    number = make_line(application).msisdn.e164

    redeemed = client.post("/v1/vouchers/redeem", json={"pin": card.pin, "msisdn": number}, headers=key())
    twice = client.post("/v1/vouchers/redeem", json={"pin": card.pin, "msisdn": number}, headers=key())
    status = client.get(f"/v1/vouchers/{card.serial}").json()

    assert (redeemed.status_code, redeemed.json()["amount"], redeemed.json()["channel"]) == (201, "10.00", "voucher")
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "voucher_already_redeemed")
    assert (status["state"], status["redeemed_msisdn"], [h["to"] for h in status["history"]]) == (
        "redeemed",
        number,
        ["generated", "distributed", "active", "redeemed"],
    )
    assert card.pin not in str(status)


def test_wrong_pins_lock_the_number(application: Application, client: TestClient) -> None:
    number = make_line(application).msisdn.e164
    codes = []
    for _ in range(4):
        response = client.post("/v1/vouchers/redeem", json={"pin": "1111111111111", "msisdn": number}, headers=key())
        codes.append((response.status_code, response.json()["error"]["code"]))

    assert codes == [(422, "voucher_invalid")] * 3 + [(409, "voucher_redemption_locked")]


# --- USSD ---------------------------------------------------------------------------------------------------------


def test_the_ussd_gateways_callback_answers_menus_as_text(application: Application, client: TestClient) -> None:
    gateway_key = api_keys.create_api_key(application.uow(), application.clock, name="gw", role="ussd_gateway")[1]
    number = make_line(application, balance_qepik=700, language="en").msisdn.e164
    form = {"sessionId": "ATUid_1", "serviceCode": "*111#", "phoneNumber": number, "networkCode": "40001"}
    with as_client(application, gateway_key) as gateway:
        menu = gateway.post("/v1/ussd", data={**form, "text": ""})
        balance = gateway.post("/v1/ussd", data={**form, "text": "1"})
        injected = gateway.post("/v1/ussd", data={**form, "text": "1'; DROP TABLE lines;--"})
        topup = gateway.post("/v1/topups", json={"msisdn": number, "amount": "5.00"}, headers=key())

    assert (menu.status_code, menu.headers["content-type"]) == (200, "text/plain; charset=utf-8")
    assert menu.text.startswith("CON Azercell\n1 Balance\n")
    assert balance.text.startswith("END Balance: 7.00 AZN\n")
    assert (injected.status_code, injected.json()["error"]["code"]) == (422, "invalid_input")
    assert topup.status_code == 403


def test_an_agent_activates_and_checks_only_the_cards_handed_to_it(
    application: Application, client: TestClient, till: TestClient, shop: dict[str, Any]
) -> None:
    other = register(client, licence="SH-0099")
    _, cards = vouchers.generate(
        application.uow(), application.vouchers, operator="azercell", nominal_qepik=500, count=2, actor="test"
    )
    mine, theirs = cards
    client.post("/v1/vouchers/distribute", json={"serials": [mine.serial], "agent_id": shop["id"]})
    client.post("/v1/vouchers/distribute", json={"serials": [theirs.serial], "agent_id": other["id"]})

    activated = till.post("/v1/agent/vouchers/activate", json={"serials": [mine.serial, theirs.serial]})
    own = till.get(f"/v1/agent/vouchers/{mine.serial}")
    foreign = till.get(f"/v1/agent/vouchers/{theirs.serial}")

    assert activated.json() == {"moved": 1, "state": "active"}
    assert (own.status_code, own.json()["state"]) == (200, "active")
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "voucher_not_found")
    assert client.get(f"/v1/vouchers/{theirs.serial}").json()["state"] == "distributed"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/agents/nosuchagent", None),
        ("post", "/v1/agents/nosuchagent/deposits", {"amount": "5.00"}),
        ("put", "/v1/agents/nosuchagent/credit-limit", {"credit_limit": "5.00"}),
        ("get", "/v1/agents/'%20OR%201=1--/statement", None),
        ("get", "/v1/kiosks/nosuchkiosk/encashment", None),
    ],
)
def test_unknown_agents_and_kiosks_are_not_found_and_nothing_changes(
    application: Application, client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = snapshot(application)

    response = getattr(client, method)(path, **({"json": body, "headers": key()} if body else {}))

    assert (response.status_code, response.json()["error"]["code"]) == (404, "agent_not_found")
    assert snapshot(application) == before
