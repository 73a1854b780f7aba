from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import snapshot
from topup.bootstrap import Application


def post(client: TestClient, path: str, body: object) -> Any:
    return client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})


def test_set_a_rate_and_quote_a_top_up_in_dollars(client: TestClient) -> None:
    rate = client.put("/v1/fx-rates/USD", json={"rate": "1.70"})
    assert rate.status_code == 200
    assert rate.json()["rate"] == "1.700000"

    response = post(
        client,
        "/v1/quotes",
        {"msisdn": "050 123 45 67", "product": {"type": "topup", "amount": "10.00"}, "currency": "USD"},
    )

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("msisdn", "operator", "price", "vat", "fee", "charge", "rate", "validity_days")} == {
        "msisdn": "+994501234567",
        "operator": "azercell",
        "price": {"amount": "10.00", "currency": "AZN"},
        "vat": {"amount": "1.53", "currency": "AZN"},
        "fee": {"amount": "0.00", "currency": "AZN"},
        "charge": {"amount": "5.89", "currency": "USD"},
        "rate": "1.700000",
        "validity_days": 60,
    }
    assert body["expires_at"] == "2026-11-23T10:15:00+00:00"
    assert client.get(f"/v1/quotes/{body['id']}").json() == body
    assert client.get("/v1/fx-rates").json()["items"][0]["currency"] == "USD"


def test_quote_a_bundle_in_azn(client: TestClient) -> None:
    response = post(
        client, "/v1/quotes", {"msisdn": "+994702223344", "product": {"type": "bundle", "code": "nar-3-5gb-14d"}}
    )
    assert response.status_code == 201
    assert response.json()["charge"] == {"amount": "6.77", "currency": "AZN"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"msisdn": "0501234567", "product": {"type": "topup", "amount": "0.10"}}, 422, "amount_out_of_range"),
        ({"msisdn": "0501234567", "product": {"type": "topup", "amount": 10}}, 422, "validation_error"),
        ({"msisdn": "0501234567", "product": {"type": "gift", "amount": "10"}}, 422, "validation_error"),
        (
            {"msisdn": "0501234567", "product": {"type": "topup", "amount": "10"}, "currency": "XYZ"},
            422,
            "unsupported_currency",
        ),
        (
            {"msisdn": "0501234567", "product": {"type": "topup", "amount": "10"}, "currency": "EUR"},
            422,
            "rate_unavailable",
        ),
        (
            {"msisdn": "0501234567", "product": {"type": "bundle", "code": "nar-3-5gb-14d"}},
            422,
            "bundle_of_another_operator",
        ),
        ({"msisdn": "+79123456789", "product": {"type": "topup", "amount": "10"}}, 422, "number_foreign"),
    ],
)
def test_bad_quotes(
    client: TestClient, application: Application, body: dict[str, object], status: int, code: str
) -> None:
    before = snapshot(application)
    response = post(client, "/v1/quotes", body)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert snapshot(application) == before


@pytest.mark.parametrize(
    ("currency", "rate", "status", "code"),
    [
        ("USD", "-1", 422, "invalid_rate"),
        ("USD", "1e3", 422, "invalid_rate"),
        ("GBP", "1.0", 422, "unsupported_currency"),
        ("AZN", "1.0", 422, "rate_unavailable"),
    ],
)
def test_bad_rates(client: TestClient, currency: str, rate: str, status: int, code: str) -> None:
    response = client.put(f"/v1/fx-rates/{currency}", json={"rate": rate})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert client.get("/v1/fx-rates").json() == {"items": []}


def test_integrators_cannot_set_rates(client: TestClient, integrator_key: str) -> None:
    response = client.put(
        "/v1/fx-rates/USD", json={"rate": "1.7"}, headers={"Authorization": f"Bearer {integrator_key}"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


def test_unknown_quote(client: TestClient) -> None:
    response = client.get("/v1/quotes/" + "a" * 32)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "quote_not_found")
