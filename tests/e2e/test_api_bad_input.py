"""Every bad input gets its exact status and error code, and changes nothing.

Each test takes a snapshot of the database before the request and compares it afterwards.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SAMPLE_CATALOGUE
from tests.factories import make_line, snapshot
from topup.bootstrap import Application
from topup.domain.lines import Line, LineStatus
from topup.entrypoints.api.app import create_app

NUMBER = "+994501234567"
VALID_ICCID = "89994012345678901235"
OTHER_ICCID = "89994012345678901243"
INVALID = 422


def fresh_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def raw_json(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


@pytest.fixture
def line(application: Application) -> Line:
    """An Azercell line with 10.00 AZN, so that a wrongly accepted request would show in the snapshot."""
    return make_line(application, number=NUMBER, balance_qepik=1000)


@pytest.fixture
def integrator(application: Application, integrator_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(application), headers={"Authorization": f"Bearer {integrator_key}"}) as test_client:
        yield test_client


@pytest.fixture
def lenient(application: Application, admin_key: str) -> Iterator[TestClient]:
    """An admin client that answers a server error with its 500 instead of raising it in the test."""
    with TestClient(
        create_app(application), headers={"Authorization": f"Bearer {admin_key}"}, raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def anonymous(application: Application) -> Iterator[TestClient]:
    with TestClient(create_app(application)) as test_client:
        yield test_client


# POST /v1/topups: the body --------------------------------------------------------------------------------------

TOP_UP_BODIES = [
    pytest.param(b"{bad json", 400, "malformed_json", id="malformed-json"),
    pytest.param(b'{"msisdn": "0501234567", "amount": "5.00"', 400, "malformed_json", id="truncated-json"),
    pytest.param(b"", INVALID, "validation_error", id="empty-body"),
    pytest.param(b"[]", INVALID, "validation_error", id="empty-array"),
    pytest.param([{"msisdn": NUMBER, "amount": "5.00"}], INVALID, "validation_error", id="array-of-object"),
    pytest.param(b'"5.00"', INVALID, "validation_error", id="json-string"),
    pytest.param(b"null", INVALID, "validation_error", id="json-null"),
    pytest.param({"amount": "5.00"}, INVALID, "validation_error", id="missing-msisdn"),
    pytest.param({"msisdn": NUMBER}, INVALID, "validation_error", id="missing-amount"),
    pytest.param({"msisdn": NUMBER, "amount": "5.00", "note": "x"}, INVALID, "validation_error", id="extra-field"),
    pytest.param({"msisdn": NUMBER, "amount": 5}, INVALID, "validation_error", id="amount-int"),
    pytest.param({"msisdn": NUMBER, "amount": 5.0}, INVALID, "validation_error", id="amount-float"),
    pytest.param({"msisdn": NUMBER, "amount": True}, INVALID, "validation_error", id="amount-true"),
    pytest.param({"msisdn": NUMBER, "amount": None}, INVALID, "validation_error", id="amount-null"),
    pytest.param({"msisdn": NUMBER, "amount": ["5.00"]}, INVALID, "validation_error", id="amount-list"),
    pytest.param({"msisdn": NUMBER, "amount": "5" * 33}, INVALID, "validation_error", id="amount-too-long"),
    pytest.param({"msisdn": 994501234567, "amount": "5.00"}, INVALID, "validation_error", id="msisdn-int"),
    pytest.param({"msisdn": NUMBER, "amount": "5.00", "currency": "USD"}, INVALID, "unsupported_currency", id="usd"),
    pytest.param({"msisdn": NUMBER, "amount": "5.00", "currency": "azn"}, INVALID, "unsupported_currency", id="azn"),
    pytest.param({"msisdn": NUMBER, "amount": "5.00", "currency": ""}, INVALID, "unsupported_currency", id="no-cur"),
    pytest.param({"msisdn": NUMBER, "amount": "5.00", "currency": 5}, INVALID, "validation_error", id="currency-5"),
    pytest.param({"msisdn": NUMBER, "amount": "5.00", "currency": None}, INVALID, "validation_error", id="cur-null"),
]


@pytest.mark.parametrize(("body", "status", "code"), TOP_UP_BODIES)
def test_top_up_body_is_refused(
    application: Application, client: TestClient, line: Line, body: Any, status: int, code: str
) -> None:
    before = snapshot(application)

    response = client.post(
        "/v1/topups", content=raw_json(body), headers={**fresh_key(), "Content-Type": "application/json"}
    )

    assert_error(response, status, code)
    assert snapshot(application) == before


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        ({"amount": "5.00"}, "msisdn", "missing"),
        ({"msisdn": NUMBER}, "amount", "missing"),
        ({"msisdn": NUMBER, "amount": "5.00", "note": "x"}, "note", "extra_forbidden"),
        ({"msisdn": NUMBER, "amount": 5}, "amount", "string_type"),
    ],
)
def test_validation_errors_name_the_field(
    client: TestClient, line: Line, body: dict[str, Any], field: str, kind: str
) -> None:
    response = client.post("/v1/topups", json=body, headers=fresh_key())

    error = assert_error(response, INVALID, "validation_error")
    assert [(d["field"], d["type"]) for d in error["details"]] == [(field, kind)]


@pytest.mark.parametrize(
    "amount",
    [
        "-5.00",
        "-0.01",
        "+5.00",
        "0",
        "0.00",
        "0.001",
        "5.001",
        "5.",
        ".5",
        "05.00",
        "NaN",
        "nan",
        "1e3",
        "1E3",
        "Infinity",
        "-Infinity",
        "99999999999999999999",
        "1000000.01",
        " 5.00",
        "5.00 ",
        "5,00",
        "5 00",
        "0x10",
        "٥",  # an Arabic-Indic five
        "５",  # a fullwidth five
        "",
        "five",
    ],
)
def test_bad_amount_strings_are_invalid_amount(
    application: Application, client: TestClient, line: Line, amount: str
) -> None:
    before = snapshot(application)

    response = client.post("/v1/topups", json={"msisdn": NUMBER, "amount": amount}, headers=fresh_key())

    error = assert_error(response, INVALID, "invalid_amount")
    assert "amount" in error["details"]
    assert snapshot(application) == before


@pytest.mark.parametrize("amount", ["0.50", "0.99", "500.01", "501.00", "1000000.00"])
def test_amount_outside_the_operator_rules_is_out_of_range(
    application: Application, client: TestClient, line: Line, amount: str
) -> None:
    before = snapshot(application)

    response = client.post("/v1/topups", json={"msisdn": NUMBER, "amount": amount}, headers=fresh_key())

    error = assert_error(response, INVALID, "amount_out_of_range")
    assert error["details"] == {"minimum": "1.00", "maximum": "500.00"}
    assert snapshot(application) == before


# Numbers ---------------------------------------------------------------------------------------------------------

NUMBER_ERRORS = [
    pytest.param("050-FLOWERS", "number_malformed", id="letters"),
    pytest.param("'; DROP TABLE lines; --", "number_malformed", id="sql"),
    pytest.param("", "number_malformed", id="empty"),
    pytest.param("   ", "number_malformed", id="blank"),
    pytest.param("+994 50 123 45 67 ext 9", "number_malformed", id="extension"),
    pytest.param("０５０１２３４５６７", "number_malformed", id="fullwidth-digits"),
    pytest.param("+99450123456", "number_invalid", id="too-short"),
    pytest.param("+9945012345678", "number_invalid", id="too-long"),
    pytest.param("+994124040000", "number_not_mobile", id="landline"),
    pytest.param("+79123456789", "number_foreign", id="russian"),
    pytest.param("+4915112345678", "number_foreign", id="german"),
]


@pytest.mark.parametrize(("number", "code"), [*NUMBER_ERRORS, pytest.param("+994401234567", "operator_not_supported")])
def test_lookup_refuses_bad_numbers(client: TestClient, number: str, code: str) -> None:
    assert_error(client.get("/v1/lookup", params={"number": number}), INVALID, code)


@pytest.mark.parametrize(("number", "code"), NUMBER_ERRORS)
def test_top_up_refuses_bad_numbers(application: Application, client: TestClient, number: str, code: str) -> None:
    before = snapshot(application)

    response = client.post("/v1/topups", json={"msisdn": number, "amount": "5.00"}, headers=fresh_key())

    assert_error(response, INVALID, code)
    assert snapshot(application) == before


def test_top_up_of_a_number_no_operator_serves_is_operator_not_supported(
    application: Application, client: TestClient
) -> None:
    before = snapshot(application)

    response = client.post("/v1/topups", json={"msisdn": "+994401234567", "amount": "5.00"}, headers=fresh_key())

    assert_error(response, INVALID, "operator_not_supported")
    assert snapshot(application) == before


@pytest.mark.parametrize(("number", "code"), [*NUMBER_ERRORS, pytest.param("+994401234567", "operator_not_supported")])
def test_provisioning_refuses_bad_numbers(application: Application, client: TestClient, number: str, code: str) -> None:
    before = snapshot(application)

    response = client.post("/v1/lines", json={"msisdn": number}, headers=fresh_key())

    assert_error(response, INVALID, code)
    assert snapshot(application) == before


@pytest.mark.parametrize("path", ["/v1/lines/{}", "/v1/lines/{}/balance", "/v1/lines/{}/transactions"])
@pytest.mark.parametrize(("number", "code"), NUMBER_ERRORS[:2] + NUMBER_ERRORS[6:])
def test_line_paths_refuse_bad_numbers(client: TestClient, path: str, number: str, code: str) -> None:
    assert_error(client.get(path.format(quote(number, safe=""))), INVALID, code)


def test_a_ten_kilobyte_number(application: Application, client: TestClient, line: Line) -> None:
    huge = "5" * 10_000
    before = snapshot(application)

    top_up = client.post("/v1/topups", json={"msisdn": huge, "amount": "5.00"}, headers=fresh_key())
    assert_error(top_up, INVALID, "validation_error")
    assert_error(client.post("/v1/lines", json={"msisdn": huge}, headers=fresh_key()), INVALID, "validation_error")
    assert_error(client.get("/v1/lookup", params={"number": huge}), INVALID, "validation_error")
    assert_error(client.get(f"/v1/lines/{huge}"), INVALID, "number_malformed")
    assert_error(client.get(f"/v1/lines/{huge}/balance"), INVALID, "number_malformed")
    assert snapshot(application) == before


# Lines -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/lines/{}", "/v1/lines/{}/balance", "/v1/lines/{}/transactions"])
def test_an_unknown_line_is_not_found(client: TestClient, path: str) -> None:
    error = assert_error(client.get(path.format("0509999999")), 404, "line_not_found")
    assert error["details"] == {"msisdn": "+994509999999"}


def test_topping_up_an_unknown_line(application: Application, client: TestClient) -> None:
    before = snapshot(application)

    response = client.post("/v1/topups", json={"msisdn": "0509999999", "amount": "5.00"}, headers=fresh_key())

    assert_error(response, 404, "line_not_found")
    assert snapshot(application) == before


@pytest.mark.parametrize(("status", "code"), [(LineStatus.BARRED, "line_barred"), (LineStatus.CLOSED, "line_closed")])
def test_barred_and_closed_lines_cannot_be_topped_up_or_buy(
    application: Application, client: TestClient, status: LineStatus, code: str
) -> None:
    line = make_line(application, status=status)
    before = snapshot(application)

    top_up = client.post("/v1/topups", json={"msisdn": line.msisdn.e164, "amount": "5.00"}, headers=fresh_key())
    bundle = client.post(
        f"/v1/lines/{line.msisdn.e164}/bundles", json={"bundle": "azercell-1gb-1d"}, headers=fresh_key()
    )

    assert_error(top_up, INVALID, code)
    assert_error(bundle, INVALID, code)
    assert snapshot(application) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"msisdn": NUMBER}, 409, "line_exists", id="duplicate-line"),
        pytest.param({"msisdn": "050 123 45 67"}, 409, "line_exists", id="duplicate-line-national"),
        pytest.param({"msisdn": "0501112233", "iccid": VALID_ICCID}, 409, "iccid_in_use", id="duplicate-iccid"),
        pytest.param({"msisdn": "0501112233", "iccid": "123"}, INVALID, "invalid_iccid", id="iccid-short"),
        pytest.param({"msisdn": "0501112233", "iccid": "89994012345678901236"}, INVALID, "invalid_iccid", id="luhn"),
        pytest.param({"msisdn": "0501112233", "iccid": "8999401234567890123X"}, INVALID, "invalid_iccid", id="iccid-x"),
        pytest.param({"msisdn": "0501112233", "iccid": "1" * 23}, INVALID, "validation_error", id="iccid-too-long"),
        pytest.param({"msisdn": "0501112233", "iccid": 89994012345678901243}, INVALID, "validation_error", id="i-int"),
        pytest.param({"msisdn": "0501112233", "language": "fr"}, INVALID, "validation_error", id="language-fr"),
        pytest.param({"msisdn": "0501112233", "language": "AZ"}, INVALID, "validation_error", id="language-AZ"),
        pytest.param({"msisdn": "0501112233", "type": "hybrid"}, INVALID, "validation_error", id="type-hybrid"),
        pytest.param({"msisdn": "0501112233", "status": "barred"}, INVALID, "validation_error", id="extra-status"),
        pytest.param({}, INVALID, "validation_error", id="empty-object"),
        pytest.param(b"{", 400, "malformed_json", id="malformed"),
    ],
)
def test_provisioning_is_refused(
    application: Application, client: TestClient, body: Any, status: int, code: str
) -> None:
    make_line(application, number=NUMBER)
    assert client.post("/v1/lines", json={"msisdn": "0511112233", "iccid": VALID_ICCID}, headers=fresh_key()).is_success
    before = snapshot(application)

    response = client.post(
        "/v1/lines", content=raw_json(body), headers={**fresh_key(), "Content-Type": "application/json"}
    )

    assert_error(response, status, code)
    assert snapshot(application) == before


# Bundles ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"bundle": "azercell-100gb-1d"}, 404, "bundle_not_found", id="unknown"),
        pytest.param({"bundle": "AZERCELL-10GB-30D"}, 404, "bundle_not_found", id="upper-case"),
        pytest.param({"bundle": ""}, 404, "bundle_not_found", id="empty"),
        pytest.param({"bundle": "nar-3-5gb-14d"}, INVALID, "bundle_of_another_operator", id="nar-bundle"),
        pytest.param({"bundle": "bakcell-5gb-30d"}, INVALID, "bundle_of_another_operator", id="bakcell-bundle"),
        pytest.param({"bundle": "azercell-10gb-30d"}, INVALID, "insufficient_balance", id="15-from-10"),
        pytest.param({"bundle": "azercell-roaming-1gb-7d"}, INVALID, "insufficient_balance", id="20-from-10"),
        pytest.param({"bundle": 5}, INVALID, "validation_error", id="int"),
        pytest.param({"bundle": "x" * 65}, INVALID, "validation_error", id="too-long"),
        pytest.param({}, INVALID, "validation_error", id="missing"),
        pytest.param({"bundle": "azercell-1gb-1d", "count": 2}, INVALID, "validation_error", id="extra"),
        pytest.param(b"{bundle}", 400, "malformed_json", id="malformed"),
    ],
)
def test_bundle_purchase_is_refused(
    application: Application, client: TestClient, line: Line, body: Any, status: int, code: str
) -> None:
    before = snapshot(application)

    response = client.post(
        f"/v1/lines/{NUMBER}/bundles",
        content=raw_json(body),
        headers={**fresh_key(), "Content-Type": "application/json"},
    )

    assert_error(response, status, code)
    assert snapshot(application) == before


def test_insufficient_balance_says_how_much_is_missing(client: TestClient, line: Line) -> None:
    response = client.post(f"/v1/lines/{NUMBER}/bundles", json={"bundle": "azercell-10gb-30d"}, headers=fresh_key())

    error = assert_error(response, INVALID, "insufficient_balance")
    assert error["details"]["balance"] == 1000
    assert error["details"]["needed"] == 1500


def test_an_exclusive_bundle_cannot_be_bought_twice_while_active(
    application: Application, client: TestClient, line: Line
) -> None:
    path = f"/v1/lines/{NUMBER}/bundles"
    assert client.post(path, json={"bundle": "azercell-1gb-1d"}, headers=fresh_key()).status_code == 201
    before = snapshot(application)

    response = client.post(path, json={"bundle": "azercell-1gb-1d"}, headers=fresh_key())

    assert_error(response, 409, "bundle_already_active")
    assert snapshot(application) == before


def test_a_bundle_for_an_unknown_line(application: Application, client: TestClient) -> None:
    before = snapshot(application)

    response = client.post("/v1/lines/0509999999/bundles", json={"bundle": "azercell-1gb-1d"}, headers=fresh_key())

    assert_error(response, 404, "line_not_found")
    assert snapshot(application) == before


# Transactions and history ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/receipt", "/receipt?format=pdf"])
def test_an_unknown_transaction_is_not_found(client: TestClient, line: Line, suffix: str) -> None:
    error = assert_error(client.get(f"/v1/transactions/{uuid.uuid4().hex}{suffix}"), 404, "transaction_not_found")
    assert set(error["details"]) == {"transaction_id"}


@pytest.mark.parametrize(
    "transaction_id",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "..%2F",
        "%2E%2E",
        "a" * 300,
        "1" * 10_000,
        "abc%00def",
        "abc'--",
        "%F0%9F%98%80",
        "%20",
    ],
)
def test_hostile_transaction_ids_are_never_a_server_error(lenient: TestClient, line: Line, transaction_id: str) -> None:
    client = lenient  # a server error comes back as a 500, not as an exception
    for suffix in ("", "/receipt", "/receipt?format=pdf"):
        response = client.get(f"/v1/transactions/{transaction_id}{suffix}")
        assert response.status_code in {404, 422}, (suffix, response.text)
        assert response.json()["error"]["code"] in {"transaction_not_found", "not_found", "validation_error"}


def test_a_receipt_in_an_unknown_format(client: TestClient, line: Line) -> None:
    assert_error(client.get(f"/v1/transactions/{uuid.uuid4().hex}/receipt?format=docx"), 422, "validation_error")


def test_an_unknown_operator_has_no_catalogue(client: TestClient) -> None:
    error = assert_error(client.get("/v1/operators/vodafone/catalogue"), 404, "operator_unknown")
    assert error["details"] == {"operator": "vodafone"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("cursor=!!!", "invalid_cursor", id="cursor-punctuation"),
        pytest.param("cursor=bm9wZQ", "invalid_cursor", id="cursor-nope"),
        pytest.param(
            "cursor=" + base64.urlsafe_b64encode(b"2026-11-23T10:00:00|abc").decode(), "invalid_cursor", id="naive"
        ),
        pytest.param(
            "cursor=" + base64.urlsafe_b64encode(b"2026-11-23T10:00:00+00:00|a-b").decode(), "invalid_cursor", id="id"
        ),
        pytest.param("cursor=" + "A" * 201, "validation_error", id="cursor-too-long"),
        pytest.param("limit=0", "validation_error", id="limit-0"),
        pytest.param("limit=-1", "validation_error", id="limit-negative"),
        pytest.param("limit=201", "validation_error", id="limit-201"),
        pytest.param("limit=1000", "validation_error", id="limit-1000"),
        pytest.param("limit=ten", "validation_error", id="limit-word"),
        pytest.param("limit=2.5", "validation_error", id="limit-fraction"),
        pytest.param("kind=refund", "invalid_input", id="kind-unknown"),
        pytest.param("from=2026-11-23T10:00:00", "invalid_input", id="from-naive"),
        pytest.param("to=2026-11-23T10:00:00", "invalid_input", id="to-naive"),
        pytest.param("from=yesterday", "validation_error", id="from-word"),
        pytest.param("to=2026-13-45T00:00:00Z", "validation_error", id="to-impossible"),
    ],
)
def test_history_query_is_refused(client: TestClient, line: Line, query: str, code: str) -> None:
    assert_error(client.get(f"/v1/lines/{NUMBER}/transactions?{query}"), INVALID, code)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param(
            "cursor=" + base64.urlsafe_b64encode(b"0001-01-01T00:00:00+05:00|abc").decode(), "invalid_cursor", id="c1"
        ),
        pytest.param(
            "cursor=" + base64.urlsafe_b64encode(b"9999-12-31T23:59:59-05:00|abc").decode(), "invalid_cursor", id="c9"
        ),
        pytest.param("from=0001-01-01T00:00:00%2B05:00", "invalid_input", id="from-year-1"),
        pytest.param("to=9999-12-31T23:59:59-05:00", "invalid_input", id="to-year-9999"),
    ],
)
def test_history_dates_at_the_edge_of_the_calendar_are_refused(
    lenient: TestClient, line: Line, query: str, code: str
) -> None:
    assert_error(lenient.get(f"/v1/lines/{NUMBER}/transactions?{query}"), INVALID, code)


# Ports -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"msisdn": NUMBER, "operator": "vodafone"}, 404, "operator_unknown", id="unknown-operator"),
        pytest.param({"msisdn": NUMBER, "operator": "Bakcell"}, 404, "operator_unknown", id="capitalised"),
        pytest.param({"msisdn": NUMBER, "operator": "naxtel"}, INVALID, "operator_closed", id="closed-operator"),
        pytest.param({"msisdn": "050-FLOWERS", "operator": "bakcell"}, INVALID, "number_malformed", id="letters"),
        pytest.param({"msisdn": "+79123456789", "operator": "bakcell"}, INVALID, "number_foreign", id="foreign"),
        pytest.param({"msisdn": NUMBER}, INVALID, "validation_error", id="missing-operator"),
        pytest.param({"msisdn": NUMBER, "operator": 1}, INVALID, "validation_error", id="operator-int"),
        pytest.param({"msisdn": NUMBER, "operator": "bakcell", "x": 1}, INVALID, "validation_error", id="extra"),
    ],
)
def test_a_port_is_refused(
    application: Application, client: TestClient, line: Line, body: Any, status: int, code: str
) -> None:
    before = snapshot(application)

    response = client.post("/v1/ports", json=body, headers=fresh_key())

    assert_error(response, status, code)
    assert snapshot(application) == before


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [(NUMBER, 404, "port_not_found"), ("0509999999", 404, "port_not_found"), ("050-FLOWERS", 422, "number_malformed")],
)
def test_removing_a_port_that_does_not_exist(
    application: Application, client: TestClient, line: Line, number: str, status: int, code: str
) -> None:
    before = snapshot(application)

    assert_error(client.delete(f"/v1/ports/{quote(number, safe='')}"), status, code)
    assert snapshot(application) == before


# Catalogue -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code"),
    [
        pytest.param(b"this is not toml = = =", "catalogue_invalid", id="not-toml"),
        pytest.param(b"", "catalogue_invalid", id="empty"),
        pytest.param(b'version = "x"\n', "catalogue_invalid", id="no-operators"),
        pytest.param(b"\xff\xfe\x00", "invalid_input", id="not-utf8"),
        pytest.param(b"#" * 1_000_001, "invalid_input", id="over-a-megabyte"),
    ],
)
def test_a_bad_catalogue_is_refused_and_the_current_one_stays(client: TestClient, content: bytes, code: str) -> None:
    response = client.put("/v1/catalogue", content=content, headers={"Content-Type": "application/toml"})

    assert_error(response, INVALID, code)
    assert client.get("/v1/operators").json()["catalogue_version"] == "2026.12-sample.4"


def test_a_catalogue_without_a_new_version_is_not_reloaded_with_other_content(client: TestClient) -> None:
    source = SAMPLE_CATALOGUE.read_text(encoding="utf-8").replace('price = "15.00"', 'price = "14.00"', 1)

    response = client.put("/v1/catalogue", content=source.encode(), headers={"Content-Type": "application/toml"})

    error = assert_error(response, INVALID, "catalogue_invalid")
    assert error["details"] == {"version": "2026.12-sample.4"}
    bundles = client.get("/v1/operators/azercell/catalogue").json()["bundles"]
    assert {b["code"]: b["price"] for b in bundles}["azercell-10gb-30d"] == "15.00"


# Authentication and roles ------------------------------------------------------------------------------------------

AUTHENTICATED_REQUESTS = [
    ("GET", "/v1/operators", None),
    ("GET", "/v1/lookup?number=0501234567", None),
    ("GET", f"/v1/lines/{NUMBER}/balance", None),
    ("POST", "/v1/topups", {"msisdn": NUMBER, "amount": "5.00"}),
    ("POST", f"/v1/lines/{NUMBER}/bundles", {"bundle": "azercell-1gb-1d"}),
    ("POST", "/v1/lines", {"msisdn": "0501112233"}),
]


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "api_key_missing"),
        ("", "api_key_missing"),
        ("Bearer", "api_key_missing"),
        ("Bearer ", "api_key_missing"),
        ("Basic xyz", "api_key_missing"),
        ("Basic dXNlcjpwYXNz", "api_key_missing"),
        ("tpk_abc", "api_key_missing"),
        ("Bearer nonsense", "api_key_invalid"),
        ("Bearer tpk_" + "A" * 43, "api_key_invalid"),
        ("Bearer tpk_" + "A" * 200, "api_key_invalid"),
        ("Bearer ' OR 1=1 --", "api_key_invalid"),
    ],
)
def test_requests_without_a_valid_api_key_are_unauthorised(
    application: Application, anonymous: TestClient, line: Line, authorization: str | None, code: str
) -> None:
    before = snapshot(application)

    for method, path, body in AUTHENTICATED_REQUESTS:
        headers = fresh_key()
        if authorization is not None:
            headers["Authorization"] = authorization
        response = anonymous.request(method, path, json=body, headers=headers)
        assert_error(response, 401, code)
        assert response.headers["WWW-Authenticate"] == "Bearer"

    assert snapshot(application) == before


def test_a_revoked_key_is_unauthorised(application: Application, client: TestClient, integrator_key: str) -> None:
    with application.uow() as uow:
        [record] = [r for r in uow.api_keys.list() if r.role == "integrator"]
        assert uow.api_keys.revoke(record.id, now=application.clock.now())
        uow.commit()

    response = client.get("/v1/operators", headers={"Authorization": f"Bearer {integrator_key}"})

    assert_error(response, 401, "api_key_invalid")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/lines", {"msisdn": "0501112233"}),
        ("POST", "/v1/ports", {"msisdn": NUMBER, "operator": "bakcell"}),
        ("DELETE", f"/v1/ports/{NUMBER}", None),
        ("GET", "/v1/ports", None),
        ("PUT", "/v1/catalogue", None),
    ],
)
def test_integrators_may_not_do_admin_work(
    application: Application, integrator: TestClient, line: Line, method: str, path: str, body: Any
) -> None:
    before = snapshot(application)
    evil = SAMPLE_CATALOGUE.read_bytes().replace(b"2026.12-sample.4", b"2026.12-evil.1")
    content = evil if path == "/v1/catalogue" else None

    response = integrator.request(method, path, json=body, content=content, headers=fresh_key())

    assert_error(response, 403, "forbidden")
    assert snapshot(application) == before
    assert integrator.get("/v1/operators").json()["catalogue_version"] == "2026.12-sample.4"


# Idempotency keys and body size -------------------------------------------------------------------------------------

KEYED_REQUESTS = [
    ("/v1/topups", {"msisdn": NUMBER, "amount": "5.00"}),
    ("/v1/lines", {"msisdn": "0501112233"}),
    (f"/v1/lines/{NUMBER}/bundles", {"bundle": "azercell-1gb-1d"}),
    ("/v1/ports", {"msisdn": NUMBER, "operator": "bakcell"}),
]


@pytest.mark.parametrize(("path", "body"), KEYED_REQUESTS)
@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "idempotency_key_missing"),
        ("", "idempotency_key_missing"),
        ("a b", "idempotency_key_invalid"),
        ("x" * 256, "idempotency_key_invalid"),
        ("x" * 300, "idempotency_key_invalid"),
    ],
)
def test_state_changing_posts_need_a_valid_idempotency_key(
    application: Application,
    client: TestClient,
    line: Line,
    path: str,
    body: dict[str, str],
    key: str | None,
    code: str,
) -> None:
    before = snapshot(application)

    response = client.post(path, json=body, headers={} if key is None else {"Idempotency-Key": key})

    assert_error(response, 400, code)
    assert snapshot(application) == before


def test_a_255_character_key_is_accepted(client: TestClient, line: Line) -> None:
    response = client.post(
        "/v1/topups", json={"msisdn": NUMBER, "amount": "5.00"}, headers={"Idempotency-Key": "~" * 255}
    )

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("path", ["/v1/topups", "/v1/lines", f"/v1/lines/{NUMBER}/bundles", "/v1/ports"])
def test_a_body_over_the_limit_is_too_large(
    application: Application, client: TestClient, line: Line, path: str
) -> None:
    before = snapshot(application)
    body = b'{"msisdn": "' + b"5" * 1_200_000 + b'"}'

    response = client.post(path, content=body, headers={**fresh_key(), "Content-Type": "application/json"})

    assert_error(response, 413, "payload_too_large")
    assert snapshot(application) == before


def test_a_catalogue_over_the_limit_is_too_large(client: TestClient) -> None:
    response = client.put("/v1/catalogue", content=b"#" * 1_100_001, headers={"Content-Type": "application/toml"})

    assert_error(response, 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_too_large(application: Application, client: TestClient, line: Line) -> None:
    before = snapshot(application)

    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b" " * 100_000

    response = client.post("/v1/topups", content=chunks(), headers={**fresh_key(), "Content-Type": "application/json"})

    assert_error(response, 413, "payload_too_large")
    assert snapshot(application) == before


# Routing ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/nope", 404, "not_found"),
        ("/v2/topups", 404, "not_found"),
        ("/v1/topup", 404, "not_found"),
        ("/v1/operators/azercell", 404, "not_found"),
        ("/v1/lines", 405, "method_not_allowed"),  # POST only
        ("/", 200, ""),  # the portal's start page
    ],
)
def test_an_unknown_route_is_not_found_with_an_error_body(
    client: TestClient, path: str, status: int, code: str
) -> None:
    response = client.get(path)

    if status == 200:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
    else:
        assert_error(response, status, code)


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/v1/topups"), ("GET", "/v1/topups"), ("PUT", "/v1/topups"), ("PATCH", f"/v1/lines/{NUMBER}")],
)
def test_a_wrong_method_is_not_allowed_with_an_error_body(
    application: Application, client: TestClient, line: Line, method: str, path: str
) -> None:
    before = snapshot(application)

    assert_error(client.request(method, path, headers=fresh_key()), 405, "method_not_allowed")
    assert snapshot(application) == before


# No input is a server error ----------------------------------------------------------------------------------------

HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "null",
    "NaN",
    "../../etc/passwd",
    "..",
    "%00",
    "\x00",
    "\u202e0501234567",
    "0501234567\u200b",
    "０５０１２３４５６７",
    "٠٥٠١٢٣٤٥٦٧",
    "😀",
    "' OR '1'='1",
    "'; DROP TABLE lines; --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "+" * 40,
    "9" * 400,
    "A" * 10_000,
    "0501234567" * 5,
    "0501234567\r\nX-Injected: 1",
    "(050) 123-45-67 ext. 9",
    "tel:+994501234567",
    "+994 40 123 45 67",
    "ñ",
    "ß" * 33,
]


def _check_no_server_error(response: Any, where: str) -> None:
    assert response.status_code < 500, (where, response.status_code, response.text)
    if response.status_code >= 400:
        assert "code" in response.json()["error"], (where, response.text)


@pytest.mark.parametrize(
    "endpoint",
    [
        "lookup",
        "get-line",
        "balance",
        "transactions",
        "transaction",
        "receipt",
        "operator-catalogue",
        "delete-port",
        "top-up",
        "provision",
        "bundle-path",
        "bundle-body",
        "port-body",
        "history-query",
    ],
)
def test_hostile_strings_never_cause_a_server_error(
    application: Application, lenient: TestClient, line: Line, endpoint: str
) -> None:
    client = lenient  # a server error comes back as a 500, not as an exception
    before = snapshot(application)
    for value in HOSTILE:
        segment = quote(value, safe="")
        send = {
            "lookup": lambda v=value: client.get("/v1/lookup", params={"number": v}),
            "get-line": lambda s=segment: client.get(f"/v1/lines/{s}"),
            "balance": lambda s=segment: client.get(f"/v1/lines/{s}/balance"),
            "transactions": lambda s=segment: client.get(f"/v1/lines/{s}/transactions"),
            "transaction": lambda s=segment: client.get(f"/v1/transactions/{s}"),
            "receipt": lambda s=segment: client.get(f"/v1/transactions/{s}/receipt?format=pdf"),
            "operator-catalogue": lambda s=segment: client.get(f"/v1/operators/{s}/catalogue"),
            "delete-port": lambda s=segment: client.delete(f"/v1/ports/{s}"),
            "top-up": lambda v=value: client.post(
                "/v1/topups", json={"msisdn": v, "amount": "5.00"}, headers=fresh_key()
            ),
            "provision": lambda v=value: client.post("/v1/lines", json={"msisdn": v}, headers=fresh_key()),
            "bundle-path": lambda s=segment: client.post(
                f"/v1/lines/{s}/bundles", json={"bundle": "azercell-1gb-1d"}, headers=fresh_key()
            ),
            "bundle-body": lambda v=value: client.post(
                f"/v1/lines/{NUMBER}/bundles", json={"bundle": v}, headers=fresh_key()
            ),
            "port-body": lambda v=value: client.post(
                "/v1/ports", json={"msisdn": NUMBER, "operator": v}, headers=fresh_key()
            ),
            "history-query": lambda v=value: client.get(
                f"/v1/lines/{NUMBER}/transactions", params={"cursor": v[:200], "kind": v}
            ),
        }[endpoint]
        _check_no_server_error(send(), f"{endpoint} {value[:40]!r}")
    assert snapshot(application) == before


def test_hostile_amounts_and_keys_never_cause_a_server_error(
    application: Application, lenient: TestClient, line: Line
) -> None:
    client = lenient  # a server error comes back as a 500, not as an exception
    before = snapshot(application)
    for value in HOSTILE:
        _check_no_server_error(
            client.post("/v1/topups", json={"msisdn": NUMBER, "amount": value}, headers=fresh_key()), repr(value)
        )
        _check_no_server_error(
            client.post(
                "/v1/topups", json={"msisdn": NUMBER, "amount": "5.00", "currency": value}, headers=fresh_key()
            ),
            repr(value),
        )
        if value.isascii() and value.isprintable():
            _check_no_server_error(
                client.post(
                    "/v1/topups", json={"msisdn": NUMBER, "amount": "0.10"}, headers={"Idempotency-Key": value}
                ),
                repr(value),
            )
            _check_no_server_error(client.get("/v1/operators", headers={"Authorization": f"Bearer {value}"}), value)
    assert snapshot(application) == before
