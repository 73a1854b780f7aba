"""The happy paths through the JSON API, end to end: HTTP in, database and back out."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SAMPLE_CATALOGUE, START
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.entrypoints.api.app import create_app

NUMBER = "+994501234567"
NAR_NUMBER = "+994702223344"
VALID_ICCID = "89994012345678901235"  # 20 digits, Luhn check digit 5


def fresh_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def provision(client: TestClient, number: str = NUMBER, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/lines", json={"msisdn": number, **extra}, headers=fresh_key())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def top_up(client: TestClient, number: str = NUMBER, amount: str = "5.00") -> dict[str, Any]:
    response = client.post("/v1/topups", json={"msisdn": number, "amount": amount}, headers=fresh_key())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def main_balance(client: TestClient, number: str = NUMBER) -> str:
    response = client.get(f"/v1/lines/{number}/balance")
    assert response.status_code == 200, response.text
    amount: str = response.json()["main"]["amount"]
    return amount


@pytest.fixture
def integrator(application: Application, integrator_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(application), headers={"Authorization": f"Bearer {integrator_key}"}) as test_client:
        yield test_client


# Numbers and the catalogue -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["050 123 45 67", "+994501234567", "994501234567", "0501234567", "(050) 123-45-67", "00994 50 123 45 67"]
)
def test_lookup_normalises_every_format_to_one_number(client: TestClient, number: str) -> None:
    response = client.get("/v1/lookup", params={"number": number})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "msisdn": "+994501234567",
        "national": "050 123 45 67",
        "operator": "azercell",
        "original_operator": "azercell",
        "ported": False,
    }


@pytest.mark.parametrize(
    ("number", "operator"),
    [("0551234567", "bakcell"), ("0991234567", "bakcell"), ("0701234567", "nar"), ("0771234567", "nar")],
)
def test_lookup_finds_the_operator_by_prefix(client: TestClient, number: str, operator: str) -> None:
    response = client.get("/v1/lookup", params={"number": number})

    assert response.status_code == 200, response.text
    assert response.json()["operator"] == operator
    assert response.json()["ported"] is False


def test_operators_lists_four_with_naxtel_closed(client: TestClient) -> None:
    response = client.get("/v1/operators")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["catalogue_version"] == "2026.12-sample.4"
    by_code = {item["code"]: item for item in body["items"]}
    assert sorted(by_code) == ["azercell", "bakcell", "nar", "naxtel"]
    assert by_code["naxtel"] == {"code": "naxtel", "name": "Naxtel", "status": "closed", "closed_on": "2025-12-01"}
    for code, name in (("azercell", "Azercell"), ("bakcell", "Bakcell"), ("nar", "Nar")):
        assert by_code[code] == {"code": code, "name": name, "status": "active", "closed_on": None}


def test_operator_catalogue_shows_rules_tariff_and_bundles(client: TestClient) -> None:
    response = client.get("/v1/operators/azercell/catalogue")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "azercell"
    assert body["catalogue_version"] == "2026.12-sample.4"
    assert body["vat_percent"] == "18"
    assert body["topup"]["min"] == "1.00"
    assert body["topup"]["max"] == "500.00"
    assert body["topup"]["denominations"] == []
    assert body["topup"]["grace_days"] == 180
    assert body["topup"]["validity_tiers"][0] == {"from": "1.00", "days": 5}
    assert body["topup"]["validity_tiers"][-1] == {"from": "50.00", "days": 120}
    assert body["tariff"] == {
        "data_per_mb": "0.10",
        "data_increment_kb": 100,
        "voice_per_minute": "0.10",
        "voice_increment_seconds": 60,
        "sms": "0.05",
    }
    codes = [bundle["code"] for bundle in body["bundles"]]
    assert codes == [
        "azercell-1gb-1d",
        "azercell-3gb-7d",
        "azercell-10gb-30d",
        "azercell-roaming-1gb-7d",
        "azercell-25gb-30d",
    ]  # by price, then code
    monthly = body["bundles"][2]
    assert monthly == {
        "code": "azercell-10gb-30d",
        "operator": "azercell",
        "names": {"az": "Aylıq 10 GB", "en": "Monthly 10 GB", "ru": "Месячный 10 ГБ", "zh": "每月 10 GB 流量包"},
        "price": "15.00",
        "currency": "AZN",
        "validity_days": 30,
        "data_kb": 10_000_000,
        "voice_seconds": 0,
        "sms": 0,
        "auto_renew": True,
        "stacking": "stack",
        "roaming": False,
    }


# Lines ----------------------------------------------------------------------------------------------------------


def test_provision_a_line_and_read_it_back_with_or_without_plus(client: TestClient) -> None:
    response = client.post(
        "/v1/lines",
        json={"msisdn": "050 123 45 67", "iccid": VALID_ICCID, "language": "en"},
        headers=fresh_key(),
    )

    assert response.status_code == 201, response.text
    expected = {
        "msisdn": "+994501234567",
        "national": "050 123 45 67",
        "operator": "azercell",
        "type": "prepaid",
        "status": "active",
        "language": "en",
        "iccid": VALID_ICCID,
        "valid_until": None,
    }
    assert response.json() == expected
    for path in ("/v1/lines/994501234567", "/v1/lines/%2B994501234567", "/v1/lines/0501234567"):
        fetched = client.get(path)
        assert fetched.status_code == 200, (path, fetched.text)
        assert fetched.json() == expected


def test_a_postpaid_line_has_no_usage_period(client: TestClient) -> None:
    body = provision(client, "+994551234567", type="postpaid")

    assert body["operator"] == "bakcell"
    assert body["type"] == "postpaid"
    assert top_up(client, "+994551234567")["valid_until"] is None


# Top-ups and balance --------------------------------------------------------------------------------------------


def test_top_up_answers_with_the_completed_transaction(client: TestClient) -> None:
    provision(client)

    response = client.post("/v1/topups", json={"msisdn": "050 123 45 67", "amount": "5.00"}, headers=fresh_key())

    assert response.status_code == 201, response.text
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", body["verification_code"])
    assert body == {
        "id": body["id"],
        "kind": "topup",
        "status": "completed",
        "msisdn": "+994501234567",
        "operator": "azercell",
        "channel": "api",
        "amount": "5.00",
        "currency": "AZN",
        "vat": "0.76",
        "balance_after": "5.00",
        "valid_until": "2026-12-23",
        "created_at": "2026-11-23T10:00:00+00:00",
        "verification_code": body["verification_code"],
        "receipt_url": f"/v1/transactions/{body['id']}/receipt",
    }
    assert "Idempotent-Replayed" not in response.headers


@pytest.mark.parametrize(("amount", "balance"), [("1", "1.00"), ("1.5", "1.50"), ("500.00", "500.00")])
def test_top_up_accepts_every_decimal_form_within_the_rules(client: TestClient, amount: str, balance: str) -> None:
    provision(client)

    assert top_up(client, amount=amount)["amount"] == balance
    assert main_balance(client) == balance


def test_balance_shows_main_and_validity(client: TestClient) -> None:
    provision(client)
    top_up(client)
    top_up(client, amount="2.50")  # +10 days on top of what is left

    response = client.get("/v1/lines/0501234567/balance")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "msisdn": "+994501234567",
        "operator": "azercell",
        "status": "active",
        "main": {"amount": "7.50", "currency": "AZN"},
        "valid_until": "2027-01-02",
        "buckets": [],
    }


def test_buying_a_bundle_fills_buckets_until_its_validity_ends(client: TestClient) -> None:
    provision(client)
    top_up(client, amount="20.00")

    response = client.post(f"/v1/lines/{NUMBER}/bundles", json={"bundle": "azercell-10gb-30d"}, headers=fresh_key())

    assert response.status_code == 201, response.text
    bought = response.json()
    assert bought["kind"] == "bundle_purchase"
    assert bought["status"] == "completed"
    assert bought["bundle"] == "azercell-10gb-30d"
    assert bought["amount"] == "15.00"
    assert bought["vat"] == "2.29"
    assert bought["balance_after"] == "5.00"
    assert bought["bundle_expires_at"] == "2026-12-23T10:00:00+00:00"
    balance = client.get(f"/v1/lines/{NUMBER}/balance").json()
    assert balance["main"] == {"amount": "5.00", "currency": "AZN"}
    assert [{k: v for k, v in bucket.items() if k != "id"} for bucket in balance["buckets"]] == [
        {
            "bundle": "azercell-10gb-30d",
            "unit": "data_kb",
            "remaining": 10_000_000,
            "initial": 10_000_000,
            "expires_at": (START + timedelta(days=30)).isoformat(),
        }
    ]
    assert isinstance(balance["buckets"][0]["id"], int)


def test_a_bundle_with_data_voice_and_sms_opens_three_buckets(client: TestClient) -> None:
    provision(client, NAR_NUMBER)
    top_up(client, NAR_NUMBER, "10.00")

    response = client.post(f"/v1/lines/{NAR_NUMBER}/bundles", json={"bundle": "nar-3-5gb-14d"}, headers=fresh_key())

    assert response.status_code == 201, response.text
    assert response.json()["balance_after"] == "3.23"
    balance = client.get(f"/v1/lines/{NAR_NUMBER}/balance").json()
    expires_at = (START + timedelta(days=14)).isoformat()
    assert balance["main"]["amount"] == "3.23"
    assert sorted(({k: v for k, v in b.items() if k != "id"} for b in balance["buckets"]), key=str) == sorted(
        (
            {"bundle": "nar-3-5gb-14d", "unit": unit, "remaining": amount, "initial": amount, "expires_at": expires_at}
            for unit, amount in (("data_kb", 3_500_000), ("voice_seconds", 15_000), ("sms", 80))
        ),
        key=str,
    )


# History ----------------------------------------------------------------------------------------------------------


def test_transactions_filter_by_kind(client: TestClient) -> None:
    provision(client)
    topped = top_up(client, amount="10.00")
    bought = client.post(f"/v1/lines/{NUMBER}/bundles", json={"bundle": "azercell-1gb-1d"}, headers=fresh_key()).json()

    def ids(query: str) -> list[str]:
        response = client.get(f"/v1/lines/{NUMBER}/transactions{query}")
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert set(ids("")) == {topped["id"], bought["id"]}
    assert ids("?kind=topup") == [topped["id"]]
    assert ids("?kind=bundle_purchase") == [bought["id"]]
    assert set(ids("?kind=topup&kind=bundle_purchase")) == {topped["id"], bought["id"]}


def test_transactions_filter_by_time_window(client: TestClient, clock: FixedClock) -> None:
    provision(client)
    ids = []
    for _ in range(3):  # at 10:00, 11:00 and 12:00 UTC
        ids.append(top_up(client)["id"])
        clock.advance(timedelta(hours=1))

    def window(**params: str) -> list[str]:
        response = client.get(f"/v1/lines/{NUMBER}/transactions", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert window(**{"from": "2026-11-23T10:30:00+00:00"}) == [ids[2], ids[1]]
    assert window(to="2026-11-23T11:00:00Z") == [ids[0]]  # `to` is exclusive
    assert window(**{"from": "2026-11-23T15:00:00+04:00", "to": "2026-11-23T15:59:59+04:00"}) == [ids[1]]  # Baku
    assert window(**{"from": "2026-11-24T00:00:00+04:00"}) == []


def test_transactions_page_with_a_cursor_newest_first(client: TestClient, clock: FixedClock) -> None:
    provision(client)
    created = []
    for _ in range(5):
        created.append(top_up(client, amount="1.00")["id"])
        clock.advance(timedelta(minutes=7))
    newest_first = created[::-1]

    pages, cursor = [], None
    for _ in range(3):
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"/v1/lines/{NUMBER}/transactions", params=params)
        assert response.status_code == 200, response.text
        pages.append([item["id"] for item in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if len(pages) < 3:
            assert isinstance(cursor, str)
            assert cursor
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]
    assert cursor is None


def test_one_transaction_by_id(client: TestClient) -> None:
    provision(client)
    topped = top_up(client)

    response = client.get(f"/v1/transactions/{topped['id']}")

    assert response.status_code == 200, response.text
    assert response.json() == topped


# Receipts --------------------------------------------------------------------------------------------------------


def test_receipt_as_html_masks_the_number(client: TestClient) -> None:
    provision(client)
    topped = top_up(client)

    response = client.get(f"/v1/transactions/{topped['id']}/receipt")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert topped["verification_code"] in html
    assert "+994 50 *** ** 67" in html
    assert "501234567" not in html
    assert "5.00 AZN" in html


def test_receipt_as_pdf(client: TestClient) -> None:
    provision(client)
    topped = top_up(client)

    response = client.get(f"/v1/transactions/{topped['id']}/receipt", params={"format": "pdf"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response.headers["content-disposition"] == f'inline; filename="receipt-{topped["id"]}.pdf"'


# Ports ----------------------------------------------------------------------------------------------------------


def test_a_port_moves_the_line_and_removing_it_moves_it_back(client: TestClient) -> None:
    provision(client)

    response = client.post("/v1/ports", json={"msisdn": "050 123 45 67", "operator": "bakcell"}, headers=fresh_key())

    assert response.status_code == 201, response.text
    ported = {
        "msisdn": NUMBER,
        "national": "050 123 45 67",
        "operator": "bakcell",
        "original_operator": "azercell",
        "ported": True,
    }
    assert response.json() == ported
    assert client.get("/v1/lookup", params={"number": NUMBER}).json() == ported
    assert client.get(f"/v1/lines/{NUMBER}").json()["operator"] == "bakcell"
    assert [item["msisdn"] for item in client.get("/v1/ports").json()["items"]] == [NUMBER]
    top_up(client)  # the line now buys Bakcell's bundles
    bought = client.post(f"/v1/lines/{NUMBER}/bundles", json={"bundle": "bakcell-2gb-7d"}, headers=fresh_key())
    assert bought.status_code == 201, bought.text
    assert bought.json()["operator"] == "bakcell"

    removed = client.delete("/v1/ports/%2B994501234567")

    assert removed.status_code == 200, removed.text
    back = {**ported, "operator": "azercell", "ported": False}
    assert removed.json() == back
    assert client.get("/v1/lookup", params={"number": NUMBER}).json() == back
    assert client.get(f"/v1/lines/{NUMBER}").json()["operator"] == "azercell"
    assert client.get("/v1/ports").json()["items"] == []


def test_a_number_can_be_ported_before_its_line_exists(client: TestClient) -> None:
    response = client.post("/v1/ports", json={"msisdn": "0701112233", "operator": "azercell"}, headers=fresh_key())

    assert response.status_code == 201, response.text
    assert provision(client, "0701112233")["operator"] == "azercell"


# Catalogue -------------------------------------------------------------------------------------------------------


def test_loading_a_new_catalogue_version_once(client: TestClient) -> None:
    source = SAMPLE_CATALOGUE.read_text(encoding="utf-8")
    assert 'version = "2026.12-sample.4"' in source
    newer = source.replace('version = "2026.12-sample.4"', 'version = "2026.12-test.1"', 1)
    newer = newer.replace('price = "15.00"', 'price = "14.00"', 1)  # azercell-10gb-30d
    headers = {"Content-Type": "application/toml"}

    first = client.put("/v1/catalogue", content=newer.encode(), headers=headers)
    again = client.put("/v1/catalogue", content=newer.encode(), headers=headers)

    assert first.status_code == 200, first.text
    assert first.json() == {
        "catalogue_version": "2026.12-test.1",
        "changed": True,
        "operators": ["azercell", "bakcell", "nar", "naxtel"],
    }
    assert again.status_code == 200, again.text
    assert again.json()["changed"] is False
    assert client.get("/v1/operators").json()["catalogue_version"] == "2026.12-test.1"
    bundles = client.get("/v1/operators/azercell/catalogue").json()["bundles"]
    assert {b["code"]: b["price"] for b in bundles}["azercell-10gb-30d"] == "14.00"


# Idempotency -----------------------------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_and_moves_money_once(client: TestClient) -> None:
    provision(client)
    headers = {"Idempotency-Key": "retry-1"}
    body = {"msisdn": NUMBER, "amount": "5.00"}

    first = client.post("/v1/topups", json=body, headers=headers)
    second = client.post("/v1/topups", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    assert second.content == first.content
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert main_balance(client) == "5.00"
    assert len(client.get(f"/v1/lines/{NUMBER}/transactions").json()["items"]) == 1


def test_the_same_key_with_another_body_is_refused(client: TestClient) -> None:
    provision(client)
    headers = {"Idempotency-Key": "retry-2"}
    assert client.post("/v1/topups", json={"msisdn": NUMBER, "amount": "5.00"}, headers=headers).status_code == 201

    response = client.post("/v1/topups", json={"msisdn": NUMBER, "amount": "6.00"}, headers=headers)

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert main_balance(client) == "5.00"


def test_the_same_key_on_another_route_is_refused(client: TestClient) -> None:
    headers = {"Idempotency-Key": "shared"}
    assert client.post("/v1/lines", json={"msisdn": NUMBER}, headers=headers).status_code == 201

    response = client.post("/v1/topups", json={"msisdn": NUMBER, "amount": "5.00"}, headers=headers)

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert main_balance(client) == "0.00"


def test_whitespace_and_key_order_do_not_make_a_different_request(client: TestClient) -> None:
    provision(client)
    headers = {"Idempotency-Key": "retry-3", "Content-Type": "application/json"}
    compact = b'{"msisdn":"+994501234567","amount":"5.00"}'
    spaced = b'{\n  "amount" :  "5.00",\n\t"msisdn": "+994501234567" ,\n  "currency": "AZN"\n}\n'

    first = client.post("/v1/topups", content=compact, headers=headers)
    second = client.post("/v1/topups", content=spaced, headers=headers)

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert main_balance(client) == "5.00"


def test_a_failed_request_does_not_use_up_its_key(client: TestClient) -> None:
    headers = {"Idempotency-Key": "retry-4"}
    body = {"msisdn": NUMBER, "amount": "5.00"}
    refused = client.post("/v1/topups", json=body, headers=headers)
    assert refused.status_code == 404, refused.text
    provision(client)

    response = client.post("/v1/topups", json=body, headers=headers)

    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers
    assert main_balance(client) == "5.00"


def test_idempotency_keys_are_scoped_per_api_key(client: TestClient, integrator: TestClient) -> None:
    provision(client)
    headers = {"Idempotency-Key": "same-string"}
    body = {"msisdn": NUMBER, "amount": "5.00"}

    by_admin = client.post("/v1/topups", json=body, headers=headers)
    by_integrator = integrator.post("/v1/topups", json=body, headers=headers)

    assert by_admin.status_code == 201, by_admin.text
    assert by_integrator.status_code == 201, by_integrator.text
    assert "Idempotent-Replayed" not in by_integrator.headers
    assert by_integrator.json()["id"] != by_admin.json()["id"]
    assert by_integrator.json()["balance_after"] == "10.00"
    assert main_balance(client) == "10.00"


def test_a_bundle_purchase_retry_is_replayed(client: TestClient) -> None:
    provision(client)
    top_up(client, amount="20.00")
    headers = {"Idempotency-Key": "bundle-retry"}
    path = f"/v1/lines/{NUMBER}/bundles"

    first = client.post(path, json={"bundle": "azercell-10gb-30d"}, headers=headers)
    second = client.post(path, json={"bundle": "azercell-10gb-30d"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    balance = client.get(f"/v1/lines/{NUMBER}/balance").json()
    assert balance["main"]["amount"] == "5.00"
    assert len(balance["buckets"]) == 1


# Service -----------------------------------------------------------------------------------------------------------


def test_health(client: TestClient) -> None:
    response = client.get("/v1/health")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "schema_current": True}


def test_docs_and_openapi(client: TestClient) -> None:
    docs = client.get("/docs")
    schema = client.get("/openapi.json")

    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "post" in paths["/v1/topups"]
    assert "/v1/lines/{msisdn}/balance" in paths
    assert "/v1/transactions/{transaction_id}/receipt" in paths
    # The key is a security scheme (one dependency authenticates and checks the role); Idempotency-Key a header.
    assert schema.json()["components"]["securitySchemes"] == {
        "ApiKey": {"type": "http", "scheme": "bearer", "description": "Bearer <API key>"}
    }
    for path in ("/v1/topups", "/v1/charging/sessions", "/v1/orders"):
        operation = paths[path]["post"]
        assert operation["security"] == [{"ApiKey": []}], path
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path


def test_anyone_can_verify_a_receipt_by_its_code(client: TestClient, application: Application) -> None:
    from tests.factories import make_line

    line = make_line(application, balance_qepik=500)
    record = client.get(f"/v1/lines/{line.msisdn.e164}/transactions").json()["items"][0]
    code = record["verification_code"]

    for typed in (code, code.lower(), code.replace("-", ""), f" {code} "):
        response = client.get("/v1/receipts/verify", params={"code": typed}, headers={"Authorization": ""})
        assert response.status_code == 200
        assert response.json() == {
            "genuine": True,
            "verification_code": code,
            "kind": "topup",
            "msisdn": line.msisdn.masked,
            "operator": "azercell",
            "amount": {"amount": "5.00", "currency": "AZN"},
            "created_at": record["created_at"],
        }
    for forged in ("AAAAA-AAAAA", "x" * 32, "' OR 1=1 --"):
        response = client.get("/v1/receipts/verify", params={"code": forged}, headers={"Authorization": ""})
        assert (response.status_code, response.json()["error"]["code"]) == (404, "receipt_not_found")
