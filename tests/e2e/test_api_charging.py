"""Online charging over the API: sessions that reserve, report and end, single SMS events, the worker's time-out.

Prices come from the sample catalogue's Azercell tariff: data 0.10 AZN per MB in 100 KB steps (1 qəpik a
step), voice 0.10 AZN a minute in 60 s steps, SMS 0.05 AZN. Every refusal is checked to change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import START
from tests.factories import make_line, snapshot
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.lines import LineType
from topup.domain.money import included_vat
from topup.entrypoints.api.app import create_app
from topup.entrypoints.worker import run_once
from topup.services import bundles, ledger

SESSIONS = "/v1/charging/sessions"
EVENTS = "/v1/charging/events"
VALIDITY = timedelta(seconds=300)  # Settings.charging_session_seconds by default
VAT_BP = 1800


def fresh_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def azn(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "AZN"}


def open_session(
    client: TestClient, msisdn: str, service: str = "data", units: int = 1000, *, roaming: bool | None = None
) -> Any:
    body: dict[str, Any] = {"msisdn": msisdn, "service": service, "requested_units": units}
    if roaming is not None:
        body["roaming"] = roaming
    return client.post(SESSIONS, json=body, headers=fresh_key())


def opened(client: TestClient, msisdn: str, service: str = "data", units: int = 1000, **kwargs: Any) -> str:
    response = open_session(client, msisdn, service, units, **kwargs)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def update(client: TestClient, session_id: str, number: int, used: int, requested: int | None = None) -> Any:
    body: dict[str, Any] = {"request_number": number, "used_units": used}
    if requested is not None:
        body["requested_units"] = requested
    return client.post(f"{SESSIONS}/{session_id}/update", json=body)


def terminate(client: TestClient, session_id: str, number: int, used: int) -> Any:
    return client.post(f"{SESSIONS}/{session_id}/terminate", json={"request_number": number, "used_units": used})


def balance(client: TestClient, msisdn: str) -> dict[str, Any]:
    response = client.get(f"/v1/lines/{msisdn}/balance")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def main(client: TestClient, msisdn: str) -> str:
    amount: str = balance(client, msisdn)["main"]["amount"]
    return amount


def history(client: TestClient, msisdn: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/lines/{msisdn}/transactions")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def spend_down(client: TestClient, msisdn: str, qepik: int) -> None:
    """Spend exactly `qepik` from the main balance on data (1 qəpik per 100 KB), to reach balances below the
    smallest top-up."""
    session_id = opened(client, msisdn, "data", qepik * 100)
    response = terminate(client, session_id, 1, qepik * 100)
    assert response.status_code == 200, response.text
    assert response.json()["charged"]["amount"] == f"{qepik // 100}.{qepik % 100:02d}"


def kinds(client: TestClient, msisdn: str) -> list[str]:
    """The kinds in the line's history, sorted (a fixed clock gives every transaction the same time)."""
    return sorted(item["kind"] for item in history(client, msisdn))


def buy(application: Application, msisdn: str, code: str) -> None:
    bundles.buy_bundle(
        application.uow(), application.clock, application.codes, number=msisdn, bundle_code=code, channel="api"
    )


def audit_ok(application: Application) -> bool:
    return ledger.audit_ledger(application.uow()).ok


def session_row(application: Application, session_id: str) -> tuple[Any, ...]:
    with application.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT state, request_number, holds, money_units, money_qepik, used_units, charged_qepik "
                "FROM charging_sessions WHERE id = :id"
            ),
            {"id": session_id},
        ).one()
    return tuple(row)


def reserved(application: Application) -> dict[str, int]:
    """What the reservation accounts hold now, per unit (their balances are derived from their transfers)."""
    with application.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT a.unit, SUM(CASE WHEN t.credit_account_id = a.id THEN t.amount ELSE -t.amount END) "
                "FROM accounts a JOIN transfers t ON a.id IN (t.credit_account_id, t.debit_account_id) "
                "WHERE a.code LIKE 'reserved:%' GROUP BY a.unit"
            )
        ).all()
    return {unit: int(total) for unit, total in rows if total}


def session_count(application: Application) -> int:
    with application.engine.connect() as connection:
        count: int = connection.execute(text("SELECT COUNT(*) FROM charging_sessions")).scalar_one()
    return count


@pytest.fixture
def integrator(application: Application, integrator_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(application), headers={"Authorization": f"Bearer {integrator_key}"}) as test_client:
        yield test_client


# Money: reserve, charge what was used, release the rest ------------------------------------------------------


def test_a_data_session_holds_money_then_charges_only_what_was_used(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164

    response = open_session(client, msisdn, "data", 1000)

    assert response.status_code == 201, response.text
    session = response.json()
    session_id = session.pop("session_id")
    assert session_id.isalnum()
    assert session == {
        "request_number": 0,
        "state": "open",
        "msisdn": msisdn,
        "service": "data",
        "roaming": False,
        "granted_units": 1000,
        "granted_total_units": 1000,
        "throttled_kbps": None,
        "used_units": 0,
        "charged": azn("0.00"),
        "expires_at": (START + VALIDITY).isoformat(),
        "ended_because": None,
    }
    held = balance(client, msisdn)
    assert held["main"] == azn("9.90")  # ten 100 KB steps at 1 qəpik each are held
    assert held["buckets"] == []
    shown = client.get(f"{SESSIONS}/{session_id}").json()
    assert (shown["state"], shown["granted_total_units"], shown["used_units"], shown["charged"]) == (
        "open",
        1000,
        0,
        azn("0.00"),
    )

    ended = terminate(client, session_id, 1, 250)

    assert ended.status_code == 200, ended.text
    assert ended.json() == {
        "session_id": session_id,
        "request_number": 1,
        "state": "terminated",
        "msisdn": msisdn,
        "service": "data",
        "roaming": False,
        "granted_units": 0,
        "granted_total_units": 1000,
        "throttled_kbps": None,
        "used_units": 250,
        "charged": azn("0.03"),  # 250 KB is billed as three 100 KB steps
        "expires_at": (START + VALIDITY).isoformat(),
        "ended_because": "terminated",
    }
    assert main(client, msisdn) == "9.97"
    items = history(client, msisdn)
    assert sorted(item["kind"] for item in items) == ["topup", "usage"]
    (usage,) = (item for item in items if item["kind"] == "usage")
    assert (usage["channel"], usage["amount"], usage["vat"], usage["balance_after"]) == (
        "charging",
        "0.03",
        f"0.{included_vat(3, VAT_BP):02d}",
        "9.97",
    )
    assert history(client, msisdn) == [i for i in items if i["kind"] != "reservation"]
    reserved = client.get(f"/v1/lines/{msisdn}/transactions", params={"kind": "reservation"}).json()["items"]
    assert len(reserved) == 1  # the hold is in the ledger, just not in the default history
    shown = client.get(f"{SESSIONS}/{session_id}").json()
    assert (shown["state"], shown["used_units"], shown["charged"], shown["ended_because"]) == (
        "terminated",
        250,
        azn("0.03"),
        "terminated",
    )
    assert audit_ok(application)


def test_updates_report_usage_and_reserve_more(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)

    more = update(client, session_id, 1, used=400, requested=1000)

    assert more.status_code == 200, more.text
    body = more.json()
    assert (body["request_number"], body["granted_units"], body["granted_total_units"], body["used_units"]) == (
        1,
        1000,
        2000,
        400,
    )
    assert main(client, msisdn) == "9.80"

    ended = terminate(client, session_id, 2, 1000).json()

    assert (ended["used_units"], ended["charged"]) == (1400, azn("0.14"))
    assert main(client, msisdn) == "9.86"
    assert kinds(client, msisdn) == ["topup", "usage"]
    assert audit_ok(application)


def test_a_grant_is_cut_to_what_the_balance_affords_in_whole_steps(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164
    spend_down(client, msisdn, 93)  # 0.07 AZN left: seven 100 KB steps

    granted = open_session(client, msisdn, "data", 5000).json()

    assert (granted["granted_units"], granted["granted_total_units"]) == (700, 700)
    assert main(client, msisdn) == "0.00"
    more = update(client, granted["session_id"], 1, used=700, requested=1000).json()
    assert (more["granted_units"], more["granted_total_units"], more["state"]) == (0, 700, "open")
    ended = terminate(client, granted["session_id"], 2, 0).json()
    assert (ended["used_units"], ended["charged"]) == (700, azn("0.07"))
    assert main(client, msisdn) == "0.00"
    assert audit_ok(application)


def test_voice_is_granted_and_billed_in_whole_minutes(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164

    granted = open_session(client, msisdn, "voice", 90).json()

    assert (granted["service"], granted["granted_units"]) == ("voice", 120)  # rounded up to two 60 s steps
    assert main(client, msisdn) == "0.80"
    ended = terminate(client, granted["session_id"], 1, 61).json()
    assert ended["charged"] == azn("0.20")
    assert main(client, msisdn) == "0.80"
    short = opened(client, msisdn, "voice", 60)
    assert terminate(client, short, 1, 1).json()["charged"] == azn("0.10")
    assert main(client, msisdn) == "0.70"
    assert audit_ok(application)


# Bundles first ------------------------------------------------------------------------------------------------


def test_a_data_session_takes_units_from_the_bundle_and_leaves_money_alone(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application, balance_qepik=200).msisdn.e164
    buy(application, msisdn, "azercell-1gb-1d")  # 1.00 AZN: 1,000,000 KB for a day
    assert main(client, msisdn) == "1.00"

    granted = open_session(client, msisdn, "data", 5000).json()

    assert (granted["granted_units"], granted["charged"]) == (5000, azn("0.00"))
    held = balance(client, msisdn)
    assert held["main"] == azn("1.00")
    assert [(b["bundle"], b["unit"], b["remaining"]) for b in held["buckets"]] == [
        ("azercell-1gb-1d", "data_kb", 995_000)
    ]

    ended = terminate(client, granted["session_id"], 1, 1234).json()

    assert (ended["used_units"], ended["charged"]) == (1234, azn("0.00"))
    after = balance(client, msisdn)
    assert after["main"] == azn("1.00")
    assert [b["remaining"] for b in after["buckets"]] == [1_000_000 - 1234]
    (usage,) = (item for item in history(client, msisdn) if item["kind"] == "usage")
    assert (usage["kind"], usage["amount"], usage["balance_after"]) == ("usage", "0.00", "1.00")
    assert audit_ok(application)


def test_past_the_bundle_the_rest_comes_from_the_main_balance(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=200).msisdn.e164
    buy(application, msisdn, "azercell-1gb-1d")

    granted = open_session(client, msisdn, "data", 1_000_500).json()

    assert granted["granted_units"] == 1_000_500
    held = balance(client, msisdn)
    assert (held["main"], held["buckets"]) == (azn("0.95"), [])  # the whole bucket and five steps are held

    ended = terminate(client, granted["session_id"], 1, 1_000_250).json()

    assert ended["charged"] == azn("0.03")  # the bucket is used first; 250 KB past it costs three steps
    after = balance(client, msisdn)
    assert (after["main"], after["buckets"]) == (azn("0.97"), [])
    assert audit_ok(application)


def test_roaming_uses_roaming_bundles_first_and_never_home_bundles(
    client: TestClient, application: Application
) -> None:
    bakcell = make_line(application, prefix="55", balance_qepik=5000).msisdn.e164  # no roaming prices in the sample
    buy(application, bakcell, "bakcell-5gb-30d")
    before = snapshot(application)
    refused = open_session(client, bakcell, "data", 1000, roaming=True)
    assert_error(refused, 422, "no_balance")
    assert snapshot(application) == before

    msisdn = make_line(application, balance_qepik=5000).msisdn.e164
    buy(application, msisdn, "azercell-1gb-1d")
    buy(application, msisdn, "azercell-roaming-1gb-7d")
    assert main(client, msisdn) == "29.00"
    granted = open_session(client, msisdn, "data", 2000, roaming=True).json()
    assert (granted["roaming"], granted["granted_units"]) == (True, 2000)
    remaining = {b["bundle"]: b["remaining"] for b in balance(client, msisdn)["buckets"]}
    assert remaining == {"azercell-1gb-1d": 1_000_000, "azercell-roaming-1gb-7d": 998_000}
    assert terminate(client, granted["session_id"], 1, 500).json()["charged"] == azn("0.00")
    remaining = {b["bundle"]: b["remaining"] for b in balance(client, msisdn)["buckets"]}
    assert remaining == {"azercell-1gb-1d": 1_000_000, "azercell-roaming-1gb-7d": 999_500}
    assert main(client, msisdn) == "29.00"
    assert audit_ok(application)


# Request numbers ---------------------------------------------------------------------------------------------


def test_a_repeated_request_number_gets_the_same_answer_and_moves_nothing_again(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)

    first = update(client, session_id, 1, used=100, requested=500)
    again = update(client, session_id, 1, used=100, requested=500)
    different = update(client, session_id, 1, used=900, requested=5000)

    assert first.status_code == again.status_code == different.status_code == 200
    assert again.json() == first.json()
    assert different.json() == first.json()
    assert (first.json()["granted_total_units"], first.json()["used_units"]) == (1500, 100)
    assert main(client, msisdn) == "9.85"

    ended = terminate(client, session_id, 2, 200)
    repeated = terminate(client, session_id, 2, 200)

    assert ended.status_code == repeated.status_code == 200
    assert repeated.json() == ended.json()
    assert ended.json()["charged"] == azn("0.03")
    assert main(client, msisdn) == "9.97"
    assert kinds(client, msisdn) == ["topup", "usage"]
    assert audit_ok(application)


def test_a_request_number_out_of_sequence_is_refused_and_changes_nothing(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    assert update(client, session_id, 1, used=100).status_code == 200
    before, row = snapshot(application), session_row(application, session_id)

    for response in (
        update(client, session_id, 3, used=100),
        update(client, session_id, 5, used=0, requested=100),
        terminate(client, session_id, 3, 100),
    ):
        error = assert_error(response, 409, "request_out_of_order")
        assert (error["details"]["expected"], error["details"]["received"]) in {(2, 3), (2, 5)}

    assert snapshot(application) == before
    assert session_row(application, session_id) == row
    assert update(client, session_id, 2, used=100).json()["request_number"] == 2  # the right number still works


def test_after_terminate_nothing_more_is_accepted(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    ended = terminate(client, session_id, 1, 500).json()
    before, row = snapshot(application), session_row(application, session_id)

    assert_error(update(client, session_id, 2, used=0), 409, "session_terminated")
    assert_error(update(client, session_id, 2, used=100, requested=1000), 409, "session_terminated")
    assert_error(terminate(client, session_id, 2, 100), 409, "session_terminated")
    assert update(client, session_id, 1, used=0).json() == ended  # a repeat of the final report is answered again

    assert snapshot(application) == before
    assert session_row(application, session_id) == row
    assert main(client, msisdn) == "9.95"


@pytest.mark.parametrize("final", [False, True], ids=["update", "terminate"])
def test_reporting_more_than_was_granted_is_refused_and_changes_nothing(
    client: TestClient, application: Application, final: bool
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    assert update(client, session_id, 1, used=600).status_code == 200
    before, row = snapshot(application), session_row(application, session_id)

    response = terminate(client, session_id, 2, 401) if final else update(client, session_id, 2, 401, 5000)

    error = assert_error(response, 422, "used_exceeds_granted")
    assert (error["details"]["granted"], error["details"]["used"]) == (1000, 1001)
    assert snapshot(application) == before
    assert session_row(application, session_id) == row
    assert main(client, msisdn) == "9.90"
    assert terminate(client, session_id, 2, 400).json()["charged"] == azn("0.10")  # the number was not used up
    assert main(client, msisdn) == "9.90"
    assert audit_ok(application)


# Refusals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["data", "voice", "sms"])
def test_no_bundle_and_no_money_is_no_balance(client: TestClient, application: Application, service: str) -> None:
    msisdn = make_line(application).msisdn.e164
    before = snapshot(application)

    error = assert_error(open_session(client, msisdn, service, 10), 422, "no_balance")

    assert error["details"] == {"service": service}
    assert snapshot(application) == before
    assert session_count(application) == 0


def test_less_than_one_billing_step_is_no_balance(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164
    spend_down(client, msisdn, 91)  # 0.09 AZN: less than a minute of voice
    before = snapshot(application)

    assert_error(open_session(client, msisdn, "voice", 60), 422, "no_balance")

    assert snapshot(application) == before
    assert main(client, msisdn) == "0.09"


def test_after_the_usage_period_the_main_balance_cannot_be_used(
    client: TestClient, application: Application, clock: FixedClock
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164  # 10.00 AZN: a 60-day usage period
    clock.advance(timedelta(days=62))
    before = snapshot(application)

    assert_error(open_session(client, msisdn, "data", 1000), 422, "no_balance")

    assert snapshot(application) == before
    assert main(client, msisdn) == "10.00"


def test_a_barred_line_is_not_charged(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    with application.engine.begin() as connection:
        connection.execute(text("UPDATE lines SET status = 'barred' WHERE msisdn = :m"), {"m": msisdn})
    before = snapshot(application)

    assert_error(open_session(client, msisdn, "data", 1000), 422, "line_barred")
    sms = client.post(EVENTS, json={"msisdn": msisdn, "service": "sms"}, headers=fresh_key())
    assert_error(sms, 422, "line_barred")

    assert snapshot(application) == before
    assert session_count(application) == 0


def test_a_postpaid_line_is_not_charged_online(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, line_type=LineType.POSTPAID).msisdn.e164
    before = snapshot(application)

    assert_error(open_session(client, msisdn, "data", 1000), 422, "line_not_prepaid")
    sms = client.post(EVENTS, json={"msisdn": msisdn, "service": "sms"}, headers=fresh_key())
    assert_error(sms, 422, "line_not_prepaid")

    assert snapshot(application) == before
    assert session_count(application) == 0


@pytest.mark.parametrize("session_id", ["0" * 32, "nosuchsession", "not-an-id", "x" * 200])
def test_an_unknown_session_is_not_found(client: TestClient, application: Application, session_id: str) -> None:
    make_line(application, balance_qepik=1000)
    before = snapshot(application)

    assert_error(client.get(f"{SESSIONS}/{session_id}"), 404, "session_not_found")
    assert_error(update(client, session_id, 1, used=0), 404, "session_not_found")
    assert_error(terminate(client, session_id, 1, 0), 404, "session_not_found")

    assert snapshot(application) == before


def test_opening_needs_an_idempotency_key_and_a_retry_reserves_once(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    body = {"msisdn": msisdn, "service": "data", "requested_units": 1000}
    before = snapshot(application)

    assert_error(client.post(SESSIONS, json=body), 400, "idempotency_key_missing")
    assert snapshot(application) == before

    first = client.post(SESSIONS, json=body, headers={"Idempotency-Key": "open-1"})
    again = client.post(SESSIONS, json=body, headers={"Idempotency-Key": "open-1"})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert session_count(application) == 1
    assert main(client, msisdn) == "9.90"


OPEN_BODIES = [
    pytest.param({"requested_units": -1}, 422, "invalid_input", id="negative"),
    pytest.param({"requested_units": 0}, 422, "invalid_input", id="zero"),
    pytest.param({"requested_units": 10**13}, 422, "invalid_input", id="huge"),
    pytest.param({"requested_units": 10**40}, 422, "invalid_input", id="enormous"),
    pytest.param({"requested_units": True}, 422, "validation_error", id="bool"),
    pytest.param({"requested_units": 1.5}, 422, "validation_error", id="float"),
    pytest.param({"requested_units": "1000"}, 422, "validation_error", id="string"),
    pytest.param({"requested_units": None}, 422, "validation_error", id="null"),
    pytest.param({"service": "mms"}, 422, "validation_error", id="unknown-service"),
    pytest.param({"service": "DATA"}, 422, "validation_error", id="service-case"),
    pytest.param({"roaming": "yes"}, 422, "validation_error", id="roaming-string"),
    pytest.param({"roaming": 1}, 422, "validation_error", id="roaming-int"),
    pytest.param({"extra": 1}, 422, "validation_error", id="unknown-field"),
    pytest.param({"msisdn": "12345"}, 422, "number_invalid", id="short-number"),
    pytest.param({"msisdn": "+994 50 abc"}, 422, "number_malformed", id="malformed-number"),
    pytest.param({"msisdn": "+994509999999"}, 404, "line_not_found", id="unknown-line"),
]


@pytest.mark.parametrize(("change", "status", "code"), OPEN_BODIES)
def test_a_bad_opening_body_is_refused_and_changes_nothing(
    client: TestClient, application: Application, change: dict[str, Any], status: int, code: str
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    body = {"msisdn": msisdn, "service": "data", "requested_units": 1000, **change}
    before = snapshot(application)

    assert_error(client.post(SESSIONS, json=body, headers=fresh_key()), status, code)

    assert snapshot(application) == before
    assert session_count(application) == 0


@pytest.mark.parametrize("missing", ["msisdn", "service", "requested_units"])
def test_an_opening_body_missing_a_field_is_refused(client: TestClient, application: Application, missing: str) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    body = {"msisdn": msisdn, "service": "data", "requested_units": 1000}
    del body[missing]
    before = snapshot(application)

    error = assert_error(client.post(SESSIONS, json=body, headers=fresh_key()), 422, "validation_error")

    assert [d["field"] for d in error["details"]] == [missing]
    assert snapshot(application) == before


REPORT_BODIES = [
    pytest.param({"used_units": -1}, "invalid_input", id="negative-used"),
    pytest.param({"used_units": 10**13}, "invalid_input", id="huge-used"),
    pytest.param({"used_units": True}, "validation_error", id="bool-used"),
    pytest.param({"used_units": 1.0}, "validation_error", id="float-used"),
    pytest.param({"used_units": "10"}, "validation_error", id="string-used"),
    pytest.param({"request_number": 0}, "validation_error", id="number-zero"),
    pytest.param({"request_number": -1}, "validation_error", id="number-negative"),
    pytest.param({"request_number": 10**7}, "validation_error", id="number-huge"),
    pytest.param({"request_number": True}, "validation_error", id="number-bool"),
    pytest.param({"request_number": None}, "validation_error", id="number-missing"),
    pytest.param({"used_units": None}, "validation_error", id="used-missing"),
    pytest.param({"extra": 1}, "validation_error", id="unknown-field"),
]


@pytest.mark.parametrize("final", [False, True], ids=["update", "terminate"])
@pytest.mark.parametrize(("change", "code"), REPORT_BODIES)
def test_a_bad_report_is_refused_and_changes_nothing(
    client: TestClient, application: Application, change: dict[str, Any], code: str, final: bool
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    body = {"request_number": 1, "used_units": 100, **change}
    body = {key: value for key, value in body.items() if value is not None}
    before, row = snapshot(application), session_row(application, session_id)

    response = client.post(f"{SESSIONS}/{session_id}/{'terminate' if final else 'update'}", json=body)

    assert_error(response, 422, code)
    assert snapshot(application) == before
    assert session_row(application, session_id) == row


@pytest.mark.parametrize(
    ("requested", "code"),
    [(-1, "invalid_input"), (10**13, "invalid_input"), (True, "validation_error"), ("5", "validation_error")],
)
def test_a_bad_requested_amount_in_an_update_is_refused(
    client: TestClient, application: Application, requested: Any, code: str
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    before, row = snapshot(application), session_row(application, session_id)

    assert_error(update(client, session_id, 1, used=100, requested=requested), 422, code)

    assert snapshot(application) == before
    assert session_row(application, session_id) == row


def test_a_terminate_body_does_not_take_requested_units(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    before = snapshot(application)

    response = client.post(
        f"{SESSIONS}/{session_id}/terminate", json={"request_number": 1, "used_units": 0, "requested_units": 5}
    )

    assert_error(response, 422, "validation_error")
    assert snapshot(application) == before


def test_integrators_may_not_charge(client: TestClient, integrator: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    before, row = snapshot(application), session_row(application, session_id)

    for response in (
        integrator.post(
            SESSIONS, json={"msisdn": msisdn, "service": "data", "requested_units": 1000}, headers=fresh_key()
        ),
        integrator.get(f"{SESSIONS}/{session_id}"),
        integrator.post(f"{SESSIONS}/{session_id}/update", json={"request_number": 1, "used_units": 100}),
        integrator.post(f"{SESSIONS}/{session_id}/terminate", json={"request_number": 1, "used_units": 100}),
        integrator.post(EVENTS, json={"msisdn": msisdn, "service": "sms"}, headers=fresh_key()),
    ):
        assert_error(response, 403, "forbidden")

    assert snapshot(application) == before
    assert session_row(application, session_id) == row
    assert session_count(application) == 1


# SMS events ---------------------------------------------------------------------------------------------------


def test_an_sms_is_charged_at_once(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164

    response = client.post(EVENTS, json={"msisdn": msisdn, "service": "sms"}, headers={"Idempotency-Key": "sms-1"})
    again = client.post(EVENTS, json={"msisdn": msisdn, "service": "sms"}, headers={"Idempotency-Key": "sms-1"})

    assert response.status_code == again.status_code == 201, response.text
    body = response.json()
    assert again.json() == body
    assert (body["state"], body["service"], body["used_units"], body["charged"], body["ended_because"]) == (
        "terminated",
        "sms",
        1,
        azn("0.05"),
        "terminated",
    )
    assert main(client, msisdn) == "0.95"
    items = history(client, msisdn)
    assert sorted((item["kind"], item["amount"]) for item in items) == [("topup", "1.00"), ("usage", "0.05")]
    shown = client.get(f"{SESSIONS}/{body['session_id']}").json()
    assert (shown["state"], shown["charged"]) == ("terminated", azn("0.05"))
    assert_error(terminate(client, body["session_id"], 2, 0), 409, "session_terminated")
    assert audit_ok(application)


def test_several_messages_are_charged_together(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164

    body = client.post(EVENTS, json={"msisdn": msisdn, "service": "sms", "units": 3}, headers=fresh_key()).json()

    assert (body["used_units"], body["charged"]) == (3, azn("0.15"))
    assert main(client, msisdn) == "0.85"
    assert audit_ok(application)


def test_an_sms_without_enough_balance_is_refused_and_moves_nothing(
    client: TestClient, application: Application
) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164
    spend_down(client, msisdn, 96)  # 0.04 AZN left, one qəpik short of a message
    before, sessions = snapshot(application), session_count(application)

    response = client.post(EVENTS, json={"msisdn": msisdn, "service": "sms"}, headers=fresh_key())

    assert_error(response, 422, "no_balance")
    assert snapshot(application) == before
    assert session_count(application) == sessions
    assert main(client, msisdn) == "0.04"


def test_messages_are_all_or_nothing(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=100).msisdn.e164
    spend_down(client, msisdn, 90)  # 0.10 AZN: two messages, not three
    before, sessions = snapshot(application), session_count(application)

    response = client.post(EVENTS, json={"msisdn": msisdn, "service": "sms", "units": 3}, headers=fresh_key())

    assert_error(response, 422, "no_balance")
    assert snapshot(application) == before
    assert session_count(application) == sessions
    assert main(client, msisdn) == "0.10"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"units": 0}, "invalid_input"),
        ({"units": -1}, "invalid_input"),
        ({"units": 10**13}, "invalid_input"),
        ({"units": True}, "validation_error"),
        ({"units": "1"}, "validation_error"),
        ({"service": "data"}, "validation_error"),
        ({"service": None}, "validation_error"),
        ({"extra": 1}, "validation_error"),
    ],
)
def test_a_bad_event_is_refused_and_changes_nothing(
    client: TestClient, application: Application, change: dict[str, Any], code: str
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    body = {"msisdn": msisdn, "service": "sms", **change}
    body = {key: value for key, value in body.items() if value is not None}
    before = snapshot(application)

    assert_error(client.post(EVENTS, json=body, headers=fresh_key()), 422, code)

    assert snapshot(application) == before
    assert session_count(application) == 0


# Time-out -----------------------------------------------------------------------------------------------------


def test_a_session_not_heard_from_is_ended_by_the_worker_charging_what_was_reported(
    client: TestClient, application: Application, clock: FixedClock
) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    clock.advance(timedelta(seconds=100))
    reported = update(client, session_id, 1, used=250).json()
    assert reported["expires_at"] == (START + timedelta(seconds=100) + VALIDITY).isoformat()

    clock.advance(VALIDITY - timedelta(seconds=1))  # the update kept it alive
    run_once(application)
    assert client.get(f"{SESSIONS}/{session_id}").json()["state"] == "open"
    assert main(client, msisdn) == "9.90"

    clock.advance(timedelta(seconds=2))
    run_once(application)

    shown = client.get(f"{SESSIONS}/{session_id}").json()
    assert (shown["state"], shown["request_number"], shown["used_units"], shown["charged"]) == (
        "terminated",
        2,
        250,
        azn("0.03"),
    )
    assert shown["ended_because"] == "timed out"
    assert main(client, msisdn) == "9.97"
    assert kinds(client, msisdn) == ["topup", "usage"]
    late = terminate(client, session_id, 2, 300)  # the network's final report arrives after the worker's
    assert late.status_code == 200
    assert (late.json()["ended_because"], late.json()["charged"]) == ("timed out", azn("0.03"))
    assert_error(terminate(client, session_id, 3, 0), 409, "session_terminated")
    run_once(application)
    assert main(client, msisdn) == "9.97"
    assert audit_ok(application)


def test_a_silent_session_on_a_bundle_gives_the_units_back(
    client: TestClient, application: Application, clock: FixedClock
) -> None:
    msisdn = make_line(application, balance_qepik=200).msisdn.e164
    buy(application, msisdn, "azercell-1gb-1d")
    opened(client, msisdn, "data", 10_000)

    clock.advance(VALIDITY)
    run_once(application)

    after = balance(client, msisdn)
    assert (after["main"], [b["remaining"] for b in after["buckets"]]) == (azn("1.00"), [1_000_000])
    assert audit_ok(application)


def test_a_usage_transaction_has_a_receipt(client: TestClient, application: Application) -> None:
    msisdn = make_line(application, balance_qepik=1000).msisdn.e164
    session_id = opened(client, msisdn, "data", 1000)
    assert terminate(client, session_id, 1, 250).status_code == 200
    (usage,) = (item for item in history(client, msisdn) if item["kind"] == "usage")

    assert client.get(f"/v1/transactions/{usage['id']}").json() == usage
    html = client.get(f"/v1/transactions/{usage['id']}/receipt")
    pdf = client.get(f"/v1/transactions/{usage['id']}/receipt", params={"format": "pdf"})
    verified = client.get("/v1/receipts/verify", params={"code": usage["verification_code"]})

    assert html.status_code == 200, html.text
    assert "0.03" in html.text
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert (verified.json()["kind"], verified.json()["amount"]) == ("usage", azn("0.03"))


# Conservation -------------------------------------------------------------------------------------------------


def test_the_ledger_balances_after_a_mix_of_sessions(
    client: TestClient, application: Application, clock: FixedClock
) -> None:
    rich = make_line(application, balance_qepik=5000).msisdn.e164
    poor = make_line(application, balance_qepik=100).msisdn.e164
    buy(application, rich, "azercell-3gb-7d")
    data = opened(client, rich, "data", 3_000_500)
    voice = opened(client, rich, "voice", 300)
    sms = client.post(EVENTS, json={"msisdn": rich, "service": "sms", "units": 2}, headers=fresh_key())
    assert sms.status_code == 201
    silent = opened(client, poor, "data", 50_000)
    assert update(client, data, 1, used=2_999_000, requested=10_000).status_code == 200
    assert update(client, silent, 1, used=3_000).status_code == 200
    assert_error(update(client, voice, 1, used=301), 422, "used_exceeds_granted")
    assert terminate(client, voice, 1, 125).json()["charged"] == azn("0.30")
    assert terminate(client, data, 2, 5_000).json()["charged"] == azn("0.40")
    clock.advance(VALIDITY + timedelta(seconds=1))
    run_once(application)

    assert client.get(f"{SESSIONS}/{silent}").json()["charged"] == azn("0.30")
    assert main(client, rich) == "44.20"  # 50.00 - 5.00 bundle - 0.30 voice - 0.10 SMS - 0.40 data
    assert main(client, poor) == "0.70"
    audit = ledger.audit_ledger(application.uow())
    assert audit.ok, audit
    assert reserved(application) == {}  # every session has ended: nothing is left on hold


def test_usage_per_day_through_the_api(client: TestClient, application: Application) -> None:
    line = make_line(application, balance_qepik=1000)
    number = line.msisdn.e164
    opened = client.post(
        "/v1/charging/sessions",
        json={"msisdn": number, "service": "data", "requested_units": 1000},
        headers={"Idempotency-Key": "usage-open"},
    ).json()
    client.post(
        f"/v1/charging/sessions/{opened['session_id']}/terminate", json={"request_number": 1, "used_units": 1000}
    )

    usage = client.get(f"/v1/lines/{number}/usage").json()
    too_long = client.get(f"/v1/lines/{number}/usage", params={"days": 91})

    assert len(usage["days"]) == 30
    assert usage["days"][-1] == {
        "date": usage["days"][-1]["date"],
        "data_kb": 1000,
        "voice_seconds": 0,
        "sms": 0,
        "charged": {"amount": "0.10", "currency": "AZN"},
    }
    assert too_long.status_code == 422
