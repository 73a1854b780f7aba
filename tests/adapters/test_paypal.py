"""The HTTP PayPal client against the sandbox PayPal, served for real by uvicorn on loopback; the payer's
browser is a plain httpx client that follows no redirect by itself."""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.adapters.support import TRANSPORT_FAILURES, Handler, new_reference, responds
from tests.loopback import LoopbackServer
from topup.adapters.clock import FixedClock
from topup.adapters.payments.paypal import HttpPayPal
from topup.adapters.payments.sandbox_paypal import create_sandbox_paypal
from topup.services.payments import Checkout, PaymentRefused, PaymentResult, PaymentStatus, ProviderUnavailable

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
RETURN_URL = "https://shop.example/paypal/return?order=o-1"
CANCEL_URL = "https://shop.example/paypal/cancel?order=o-1"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ORDERS = "/v2/checkout/orders"


@dataclass
class Sandbox:
    server: LoopbackServer
    database_path: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def count(self, table: str) -> int:
        assert table in {"orders", "tokens", "authorizations", "captures", "refunds"}
        with sqlite3.connect(self.database_path) as connection:
            (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(count)

    def orders_for(self, reference: str) -> int:
        with sqlite3.connect(self.database_path) as connection:
            (count,) = connection.execute("SELECT count(*) FROM orders WHERE invoice_id = ?", (reference,)).fetchone()
        return int(count)

    def token(self) -> str:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        answer = httpx.post(
            f"{self.base_url}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert answer.status_code == 200
        return str(answer.json()["access_token"])


def _serve(database_path: Path, clock: FixedClock | None) -> Sandbox:
    def make_app(base_url: str) -> object:
        return create_sandbox_paypal(
            database_path, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, public_base_url=base_url, clock=clock
        )

    return Sandbox(LoopbackServer(make_app).start(), database_path)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    served = _serve(tmp_path_factory.mktemp("paypal") / "paypal.sqlite", None)
    yield served
    served.server.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def own_sandbox(tmp_path: Path, clock: FixedClock) -> Iterator[Sandbox]:
    """A sandbox on a clock the test moves, which it may stop and start again."""
    served = _serve(tmp_path / "paypal.sqlite", clock)
    yield served
    if served.server.running:
        served.server.stop()


@pytest.fixture
def paypal(sandbox: Sandbox) -> Iterator[HttpPayPal]:
    with HttpPayPal(sandbox.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, timeout_seconds=5.0) as client:
        yield client


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """The payer's browser: no credentials, follows no redirect by itself."""
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """Raw calls to the sandbox's API with a valid token."""
    headers = {"Authorization": f"Bearer {sandbox.token()}", "Prefer": "return=representation"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=5.0) as client:
        yield client


def checkout(
    reference: str | None = None, *, amount_minor: int = 1_234, currency: str = "USD", description: str = "Top-up"
) -> Checkout:
    return Checkout(
        reference=reference or new_reference(),
        amount_minor=amount_minor,
        currency=currency,
        description=description,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
        language="en",
    )


def approve(browser: httpx.Client, started: PaymentResult, action: str = "balance") -> httpx.Response:
    assert started.redirect_url is not None
    page = browser.get(started.redirect_url)
    assert page.status_code == 200
    return browser.post(started.redirect_url, data={"action": action})


def returned_to(answer: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    """Where the browser is sent back: the address without its query, and the query."""
    assert answer.status_code == 303
    parts = urlsplit(answer.headers["location"])
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def started_and_approved(paypal: HttpPayPal, browser: httpx.Client, *, amount_minor: int = 1_234) -> str:
    started = paypal.start(checkout(amount_minor=amount_minor))
    approve(browser, started)
    assert started.provider_reference is not None
    return started.provider_reference


def test_payment_is_approved_authorised_captured_then_refunded_in_two_parts(
    paypal: HttpPayPal, browser: httpx.Client, sandbox: Sandbox, api: httpx.Client
) -> None:
    reference = new_reference()
    started = paypal.start(checkout(reference, amount_minor=2_500))
    order_id = started.provider_reference
    assert order_id is not None
    assert started == PaymentResult(
        status=PaymentStatus.REQUIRES_ACTION,
        provider_reference=order_id,
        redirect_url=f"{sandbox.base_url}/checkoutnow?token={order_id}",
        brand="paypal",
        amount_minor=2_500,
        currency="USD",
    )
    assert paypal.find(reference=reference, provider_reference=order_id) == started

    answer = approve(browser, started)
    address, query = returned_to(answer)
    assert (address, query["order"], query["token"]) == ("https://shop.example/paypal/return", ["o-1"], [order_id])
    assert len(query["PayerID"][0]) == 13

    held = paypal.find(reference=reference, provider_reference=order_id)
    assert held == PaymentResult(
        status=PaymentStatus.AUTHORISED, provider_reference=order_id, brand="paypal", amount_minor=2_500, currency="USD"
    )
    assert paypal.find(reference=reference, provider_reference=order_id) == held  # authorized once only
    assert sandbox.count("authorizations") >= 1

    captured = paypal.capture(provider_reference=order_id, amount_minor=2_500)
    assert (captured.status, captured.captured_minor, captured.refunded_minor) == (PaymentStatus.CAPTURED, 2_500, 0)
    partly = paypal.refund(provider_reference=order_id, amount_minor=500)
    assert (partly.status, partly.captured_minor, partly.refunded_minor) == (PaymentStatus.CAPTURED, 2_500, 500)
    fully = paypal.refund(provider_reference=order_id, amount_minor=2_000)
    assert (fully.status, fully.captured_minor, fully.refunded_minor) == (PaymentStatus.REFUNDED, 2_500, 2_500)

    found = paypal.find(reference=reference, provider_reference=order_id)
    assert (found.status, found.captured_minor, found.refunded_minor) == (PaymentStatus.REFUNDED, 2_500, 2_500)
    order = api.get(f"{ORDERS}/{order_id}").json()
    unit = order["purchase_units"][0]
    assert (order["status"], order["intent"], unit["invoice_id"], unit["custom_id"]) == (
        "COMPLETED",
        "AUTHORIZE",
        reference,
        reference,
    )
    assert unit["amount"] == {"currency_code": "USD", "value": "25.00"}
    assert unit["payments"]["authorizations"][0]["status"] == "CAPTURED"
    assert unit["payments"]["captures"][0]["status"] == "REFUNDED"
    assert [refund["amount"]["value"] for refund in unit["payments"]["refunds"]] == ["5.00", "20.00"]


def test_the_approval_page_shows_the_order_escaped_and_locked_down(paypal: HttpPayPal, browser: httpx.Client) -> None:
    started = paypal.start(checkout(amount_minor=1_005, currency="EUR", description='<b>Bakcell</b> & "more"'))
    assert started.redirect_url is not None
    page = browser.get(started.redirect_url)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "10.05 EUR" in page.text
    assert "&lt;b&gt;Bakcell&lt;/b&gt; &amp; &quot;more&quot;" in page.text
    assert "<b>Bakcell" not in page.text
    for button in ("Pay with PayPal balance", "Pay with a card that will be declined", "Cancel and return to merchant"):
        assert button in page.text


def test_capture_and_refund_repeated_change_nothing_and_too_much_is_refused(
    paypal: HttpPayPal, browser: httpx.Client
) -> None:
    order_id = started_and_approved(paypal, browser, amount_minor=1_000)
    with pytest.raises(PaymentRefused) as refund_first:
        paypal.refund(provider_reference=order_id, amount_minor=100)
    assert refund_first.value.code == "invalid_state"  # nothing taken yet
    with pytest.raises(PaymentRefused) as over_capture:
        paypal.capture(provider_reference=order_id, amount_minor=1_001)
    assert over_capture.value.code == "invalid_amount"

    for _ in range(2):
        captured = paypal.capture(provider_reference=order_id, amount_minor=1_000)
        assert (captured.status, captured.captured_minor) == (PaymentStatus.CAPTURED, 1_000)
    with pytest.raises(PaymentRefused) as over_refund:
        paypal.refund(provider_reference=order_id, amount_minor=1_001)
    assert over_refund.value.code == "invalid_amount"
    for _ in range(2):
        refunded = paypal.refund(provider_reference=order_id, amount_minor=1_000)
        assert (refunded.status, refunded.refunded_minor) == (PaymentStatus.REFUNDED, 1_000)


def test_capture_of_an_approved_order_authorizes_it_first(paypal: HttpPayPal, browser: httpx.Client) -> None:
    reference = new_reference()
    started = paypal.start(checkout(reference, amount_minor=700))
    approve(browser, started)
    assert started.provider_reference is not None
    captured = paypal.capture(provider_reference=started.provider_reference, amount_minor=600)  # the rest is released
    assert (captured.status, captured.amount_minor, captured.captured_minor) == (PaymentStatus.CAPTURED, 700, 600)
    found = paypal.find(reference=reference, provider_reference=started.provider_reference)
    assert (found.status, found.captured_minor) == (PaymentStatus.CAPTURED, 600)


def test_void_releases_the_hold_once_and_nothing_can_be_captured_after(
    paypal: HttpPayPal, browser: httpx.Client
) -> None:
    reference = new_reference()
    started = paypal.start(checkout(reference))
    approve(browser, started)
    assert started.provider_reference is not None
    order_id = started.provider_reference
    assert paypal.find(reference=reference, provider_reference=order_id).status is PaymentStatus.AUTHORISED
    for _ in range(2):
        assert paypal.void(provider_reference=order_id).status is PaymentStatus.VOIDED
    with pytest.raises(PaymentRefused) as refused:
        paypal.capture(provider_reference=order_id, amount_minor=1_234)
    assert refused.value.code == "invalid_state"
    assert paypal.find(reference=reference, provider_reference=order_id).status is PaymentStatus.VOIDED


def test_a_captured_payment_cannot_be_voided(paypal: HttpPayPal, browser: httpx.Client) -> None:
    order_id = started_and_approved(paypal, browser)
    paypal.capture(provider_reference=order_id, amount_minor=1_234)
    with pytest.raises(PaymentRefused) as refused:
        paypal.void(provider_reference=order_id)
    assert refused.value.code == "invalid_state"


def test_a_declining_card_is_declined_and_holds_nothing(paypal: HttpPayPal, browser: httpx.Client) -> None:
    reference = new_reference()
    started = paypal.start(checkout(reference))
    address, query = returned_to(approve(browser, started, "declining_card"))
    assert (address, query["token"]) == ("https://shop.example/paypal/return", [started.provider_reference])
    assert started.provider_reference is not None

    declined = paypal.find(reference=reference, provider_reference=started.provider_reference)
    assert (declined.status, declined.decline_code, declined.raw_code) == (
        PaymentStatus.DECLINED,
        "card_declined",
        "INSTRUMENT_DECLINED",
    )
    assert declined.message
    assert paypal.find(reference=reference, provider_reference=started.provider_reference) == declined
    with pytest.raises(PaymentRefused) as refused:
        paypal.capture(provider_reference=started.provider_reference, amount_minor=1_234)
    assert refused.value.code == "card_declined"
    assert paypal.void(provider_reference=started.provider_reference).status is PaymentStatus.VOIDED


def test_the_payer_cancelling_leaves_the_order_waiting(
    paypal: HttpPayPal, browser: httpx.Client, sandbox: Sandbox
) -> None:
    reference = new_reference()
    started = paypal.start(checkout(reference))
    assert started.provider_reference is not None
    address, query = returned_to(approve(browser, started, "cancel"))
    assert (address, query) == (
        "https://shop.example/paypal/cancel",
        {"order": ["o-1"], "token": [started.provider_reference]},
    )
    assert paypal.find(reference=reference, provider_reference=started.provider_reference) == started
    # Nothing is held, so voiding has nothing to release: VOIDED, and the order is still there, unpaid.
    assert paypal.void(provider_reference=started.provider_reference).status is PaymentStatus.VOIDED
    assert browser.get(f"{sandbox.base_url}/checkoutnow?token={started.provider_reference}").status_code == 200


def test_approving_twice_sends_the_payer_back_to_the_same_place(paypal: HttpPayPal, browser: httpx.Client) -> None:
    started = paypal.start(checkout())
    first = approve(browser, started)
    assert started.redirect_url is not None
    again = browser.post(started.redirect_url, data={"action": "cancel"})
    assert again.headers["location"] == first.headers["location"]
    assert browser.get(started.redirect_url).status_code == 409


def test_starting_the_same_reference_twice_returns_the_same_order(paypal: HttpPayPal, sandbox: Sandbox) -> None:
    reference = new_reference()
    first = paypal.start(checkout(reference))
    assert paypal.start(checkout(reference)) == first
    assert sandbox.orders_for(reference) == 1
    with pytest.raises(PaymentRefused) as refused:
        paypal.start(checkout(reference, amount_minor=9_999))
    assert refused.value.code == "idempotency_conflict"
    assert sandbox.orders_for(reference) == 1


def test_starting_again_after_approval_reports_the_hold(paypal: HttpPayPal, browser: httpx.Client) -> None:
    reference = new_reference()
    started = paypal.start(checkout(reference))
    approve(browser, started)
    again = paypal.start(checkout(reference))
    assert (again.status, again.provider_reference) == (PaymentStatus.AUTHORISED, started.provider_reference)


def test_find_without_an_order_or_of_an_unknown_order_is_not_found(paypal: HttpPayPal) -> None:
    assert paypal.find(reference=new_reference()) == PaymentResult(status=PaymentStatus.NOT_FOUND)
    unknown = paypal.find(reference=new_reference(), provider_reference="0ABCDEFGHIJKLMNOP")
    assert unknown == PaymentResult(status=PaymentStatus.NOT_FOUND)
    with pytest.raises(PaymentRefused) as refused:
        paypal.capture(provider_reference="0ABCDEFGHIJKLMNOP", amount_minor=100)
    assert refused.value.code == "not_found"


def test_find_of_an_order_made_for_another_reference_is_refused(paypal: HttpPayPal) -> None:
    started = paypal.start(checkout())
    with pytest.raises(ProviderUnavailable) as other:
        paypal.find(reference=new_reference(), provider_reference=started.provider_reference)
    assert other.value.outcome_unknown is False  # a GET moved nothing


def test_azn_is_refused_before_anything_is_sent() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    with (
        HttpPayPal(
            "http://paypal.invalid",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            transport=httpx.MockTransport(record),
        ) as paypal,
        pytest.raises(PaymentRefused) as refused,
    ):
        paypal.start(checkout(currency="AZN"))
    assert refused.value.code == "currency_not_supported"
    assert sent == []
    assert paypal.currencies == frozenset({"USD", "EUR"})
    assert paypal.captures_on_approval is False


def _order_body(**changes: object) -> dict[str, object]:
    unit: dict[str, object] = {"invoice_id": new_reference(), "amount": {"currency_code": "USD", "value": "10.00"}}
    context = {"return_url": RETURN_URL, "cancel_url": CANCEL_URL}
    body: dict[str, object] = {"intent": "AUTHORIZE", "purchase_units": [unit], "application_context": context}
    for path, value in changes.items():
        *parents, name = path.split("__")
        target: object = body
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]  # type: ignore[index]
        assert isinstance(target, dict)
        if value is None:
            del target[name]
        else:
            target[name] = value
    return body


@pytest.mark.parametrize(
    ("changes", "status_code", "issue", "field"),
    [
        ({"purchase_units__0__amount__currency_code": "AZN"}, 422, "CURRENCY_NOT_SUPPORTED", None),
        ({"purchase_units__0__amount__value": "10.001"}, 422, "DECIMAL_PRECISION", None),
        ({"purchase_units__0__amount__value": "0.00"}, 422, "CANNOT_BE_ZERO_OR_NEGATIVE", None),
        ({"purchase_units__0__amount__value": "-5.00"}, 422, "CANNOT_BE_ZERO_OR_NEGATIVE", None),
        (
            {"purchase_units__0__amount__value": "1e3"},
            400,
            "INVALID_PARAMETER_SYNTAX",
            "/purchase_units/0/amount/value",
        ),
        ({"purchase_units__0__amount__value": 10}, 400, "INVALID_PARAMETER_SYNTAX", "/purchase_units/0/amount/value"),
        (
            {"purchase_units__0__invoice_id": "x" * 128},
            400,
            "INVALID_STRING_MAX_LENGTH",
            "/purchase_units/0/invoice_id",
        ),
        (
            {"application_context__return_url": None},
            400,
            "MISSING_REQUIRED_PARAMETER",
            "/application_context/return_url",
        ),
        ({"application_context__cancel_url": "javascript:alert(1)"}, 400, "INVALID_PARAMETER_SYNTAX", None),
        ({"intent": "SALE"}, 400, "INVALID_PARAMETER_VALUE", "/intent"),
        ({"intent": "CAPTURE"}, 422, "INTENT_NOT_SUPPORTED", "/intent"),
        ({"purchase_units": []}, 400, "INVALID_ARRAY_MIN_ITEMS", "/purchase_units"),
    ],
)
def test_the_sandbox_refuses_bad_orders_in_paypals_error_shape(
    api: httpx.Client, changes: dict[str, object], status_code: int, issue: str, field: str | None
) -> None:
    answer = api.post(ORDERS, json=_order_body(**changes), headers={"PayPal-Request-Id": new_reference()})
    assert answer.status_code == status_code
    error = answer.json()
    assert error["name"] == ("UNPROCESSABLE_ENTITY" if status_code == 422 else "INVALID_REQUEST")
    assert error["debug_id"] == answer.headers["paypal-debug-id"]
    assert error["details"][0]["issue"] == issue
    if field is not None:
        assert error["details"][0]["field"] == field


def test_the_sandbox_takes_whole_amounts_and_jpy_without_decimals(api: httpx.Client) -> None:
    whole = api.post(ORDERS, json=_order_body(purchase_units__0__amount__value="10"))
    assert (whole.status_code, whole.json()["purchase_units"][0]["amount"]["value"]) == (201, "10.00")
    yen = {"currency_code": "JPY", "value": "1500.5"}
    refused = api.post(ORDERS, json=_order_body(purchase_units__0__amount=yen))
    assert refused.json()["details"][0]["issue"] == "DECIMALS_NOT_SUPPORTED"


def test_the_sandbox_refuses_malformed_json_and_a_request_id_reused_for_another_request(api: httpx.Client) -> None:
    malformed = api.post(ORDERS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert (malformed.status_code, malformed.json()["details"][0]["issue"]) == (400, "MALFORMED_REQUEST_JSON")
    request_id = new_reference()
    body = _order_body()
    first = api.post(ORDERS, json=body, headers={"PayPal-Request-Id": request_id})
    again = api.post(ORDERS, json=body, headers={"PayPal-Request-Id": request_id})
    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, first.json()["id"])
    other = api.post(ORDERS, json=_order_body(), headers={"PayPal-Request-Id": request_id})
    assert (other.status_code, other.json()["details"][0]["issue"]) == (422, "PAYPAL_REQUEST_ID_PREVIOUSLY_USED")


def test_the_sandbox_answers_minimally_unless_asked_for_the_representation(
    sandbox: Sandbox, paypal: HttpPayPal, browser: httpx.Client
) -> None:
    with httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {sandbox.token()}"}) as bare:
        created = bare.post(ORDERS, json=_order_body())
        assert created.status_code == 201
        assert sorted(created.json()) == ["id", "links", "status"]
        assert {link["rel"] for link in created.json()["links"]} == {"self", "approve", "authorize"}
        order_id = started_and_approved(paypal, browser)
        authorized = bare.post(f"{ORDERS}/{order_id}/authorize")
        assert (authorized.status_code, authorized.json()["status"]) == (201, "COMPLETED")
        order = bare.get(f"{ORDERS}/{order_id}").json()
        authorization = order["purchase_units"][0]["payments"]["authorizations"][0]
        assert bare.post(f"/v2/payments/authorizations/{authorization['id']}/void").status_code == 204
        again = bare.post(f"/v2/payments/authorizations/{authorization['id']}/void")
        assert (again.status_code, again.json()["details"][0]["issue"]) == (422, "PREVIOUSLY_VOIDED")
        assert bare.get(f"{ORDERS}/{order_id}").json()["status"] == "VOIDED"


def test_the_sandbox_wants_its_own_tokens(sandbox: Sandbox) -> None:
    unauthorised = httpx.post(f"{sandbox.base_url}{ORDERS}", content=b"{not json")
    assert (unauthorised.status_code, unauthorised.json()["name"]) == (401, "AUTHENTICATION_FAILURE")
    forged = httpx.get(f"{sandbox.base_url}{ORDERS}/X", headers={"Authorization": "Bearer A21AAforged"})
    assert forged.status_code == 401
    basic = base64.b64encode(f"{CLIENT_ID}:wrong".encode()).decode()
    refused = httpx.post(
        f"{sandbox.base_url}/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    wrong_grant = httpx.post(
        f"{sandbox.base_url}/v1/oauth2/token",
        data={"grant_type": "password"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")


def test_wrong_credentials_are_a_configuration_problem_not_an_unknown_outcome(sandbox: Sandbox) -> None:
    with HttpPayPal(sandbox.base_url, client_id=CLIENT_ID, client_secret="not-the-secret") as stranger:
        with pytest.raises(ProviderUnavailable) as refused:
            stranger.start(checkout())
        assert refused.value.outcome_unknown is False
        assert "401" in str(refused.value)
        assert "invalid_client" in str(refused.value)
        assert "not-the-secret" not in str(refused.value)
        with pytest.raises(ProviderUnavailable) as again:
            stranger.find(reference=new_reference(), provider_reference="0ABCDEFGHIJKLMNOP")
        assert again.value.outcome_unknown is False


def test_one_token_serves_many_threads(sandbox: Sandbox) -> None:
    before = sandbox.count("tokens")
    results: list[PaymentResult] = []
    with HttpPayPal(sandbox.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as paypal:

        def find() -> None:
            results.append(paypal.find(reference=new_reference(), provider_reference="0ABCDEFGHIJKLMNOP"))

        threads = [threading.Thread(target=find) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert [result.status for result in results] == [PaymentStatus.NOT_FOUND] * 8
    assert sandbox.count("tokens") == before + 1


def test_an_expired_token_is_renewed_once_and_the_call_goes_through(
    own_sandbox: Sandbox, clock: FixedClock, browser: httpx.Client
) -> None:
    with HttpPayPal(own_sandbox.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as paypal:
        reference = new_reference()
        started = paypal.start(checkout(reference))
        approve(browser, started)
        assert own_sandbox.count("tokens") == 1
        clock.advance(timedelta(hours=9, seconds=1))  # the sandbox's token is dead; our cache does not know
        found = paypal.find(reference=reference, provider_reference=started.provider_reference)
        assert found.status is PaymentStatus.AUTHORISED
        assert own_sandbox.count("tokens") == 1  # the expired one was swept when the new one was issued


def test_an_order_not_approved_within_three_hours_expires(
    own_sandbox: Sandbox, clock: FixedClock, browser: httpx.Client
) -> None:
    with HttpPayPal(own_sandbox.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as paypal:
        reference = new_reference()
        late = paypal.start(checkout(reference))
        clock.advance(timedelta(minutes=1))
        in_time = paypal.start(checkout())
        clock.advance(timedelta(hours=2, minutes=59))  # `late` is 3 hours old, `in_time` a minute younger
        assert late.redirect_url is not None
        page = browser.get(late.redirect_url)
        assert (page.status_code, "This checkout has expired" in page.text) == (410, True)
        assert browser.post(late.redirect_url, data={"action": "balance"}).status_code == 410
        assert paypal.find(reference=reference, provider_reference=late.provider_reference) == PaymentResult(
            status=PaymentStatus.NOT_FOUND
        )
        address, _ = returned_to(approve(browser, in_time))
        assert address == "https://shop.example/paypal/return"


def test_an_authorization_expires_after_29_days(own_sandbox: Sandbox, clock: FixedClock, browser: httpx.Client) -> None:
    with HttpPayPal(own_sandbox.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as paypal:
        reference = new_reference()
        started = paypal.start(checkout(reference))
        approve(browser, started)
        assert started.provider_reference is not None
        assert paypal.find(reference=reference, provider_reference=started.provider_reference).status is (
            PaymentStatus.AUTHORISED
        )
        clock.advance(timedelta(days=29))
        assert paypal.find(reference=reference, provider_reference=started.provider_reference).status is (
            PaymentStatus.VOIDED
        )
        with pytest.raises(PaymentRefused) as refused:
            paypal.capture(provider_reference=started.provider_reference, amount_minor=1_234)
        assert refused.value.code == "invalid_state"


def test_payments_survive_a_restart_of_the_sandbox(own_sandbox: Sandbox, browser: httpx.Client) -> None:
    with HttpPayPal(own_sandbox.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as paypal:
        reference = new_reference()
        started = paypal.start(checkout(reference))
        approve(browser, started)
        own_sandbox.server.stop()
        own_sandbox.server.start()
        assert started.provider_reference is not None
        found = paypal.find(reference=reference, provider_reference=started.provider_reference)
        assert found.status is PaymentStatus.AUTHORISED
        assert own_sandbox.count("tokens") == 1  # the token outlived the restart too
        captured = paypal.capture(provider_reference=started.provider_reference, amount_minor=1_234)
        assert captured.status is PaymentStatus.CAPTURED


def test_a_stopped_sandbox_is_unreachable_and_nothing_was_sent(own_sandbox: Sandbox) -> None:
    own_sandbox.server.stop()
    with HttpPayPal(
        own_sandbox.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, timeout_seconds=2.0
    ) as paypal:
        with pytest.raises(ProviderUnavailable) as unreachable:
            paypal.start(checkout())
        assert unreachable.value.outcome_unknown is False
        with pytest.raises(ProviderUnavailable) as still:
            paypal.find(reference=new_reference(), provider_reference="0ABCDEFGHIJKLMNOP")
        assert still.value.outcome_unknown is False


# --- answers the sandbox never gives, from a mock transport -----------------------------------------------------

TOKEN = {"access_token": "A21AAmock", "token_type": "Bearer", "expires_in": 32_400}


def _answering(api: Handler) -> HttpPayPal:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth2/token":
            return httpx.Response(200, json=TOKEN)
        return api(request)

    return HttpPayPal(
        "http://paypal.invalid", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, transport=httpx.MockTransport(handle)
    )


def _order(reference: str, *, status: str = "CREATED", payments: object = None) -> dict[str, object]:
    unit: dict[str, object] = {"invoice_id": reference, "amount": {"currency_code": "USD", "value": "12.34"}}
    if payments is not None:
        unit["payments"] = payments
    links = [{"href": "https://paypal.invalid/checkoutnow?token=ORDER1", "rel": "approve", "method": "GET"}]
    return {"id": "ORDER1", "status": status, "purchase_units": [unit], "links": links}


@pytest.mark.parametrize(
    ("api", "outcome_unknown"),
    [
        *TRANSPORT_FAILURES,
        (responds(500, b'{"name": "INTERNAL_SERVER_ERROR"}'), True),
        (responds(201, b"<html>not json</html>"), True),
        (responds(201, b'{"id": "ORDER1", "status": "CREATED"}'), True),
        (responds(400, b'{"name": "INVALID_REQUEST", "details": [{"issue": "MISSING_REQUIRED_PARAMETER"}]}'), False),
        (responds(403, b'{"name": "NOT_AUTHORIZED"}'), False),
        (responds(404, b"Not Found"), False),
        (responds(422, b"<html>a proxy</html>"), False),
        (responds(401, b'{"name": "AUTHENTICATION_FAILURE"}'), False),
    ],
)
def test_what_a_failure_to_start_says_about_the_outcome(api: Handler, outcome_unknown: bool) -> None:
    with _answering(api) as paypal, pytest.raises(ProviderUnavailable) as failure:
        paypal.start(checkout())
    assert failure.value.outcome_unknown is outcome_unknown
    assert CLIENT_SECRET not in str(failure.value)
    assert "A21AAmock" not in str(failure.value)


def test_an_order_about_another_payment_is_an_unknown_outcome() -> None:
    other = responds(201, httpx.Response(201, json=_order("someone-else")).content)
    with _answering(other) as paypal, pytest.raises(ProviderUnavailable) as failure:
        paypal.start(checkout())
    assert failure.value.outcome_unknown is True


def test_a_failed_read_moved_nothing() -> None:
    with _answering(responds(503, b"")) as paypal, pytest.raises(ProviderUnavailable) as failure:
        paypal.find(reference=new_reference(), provider_reference="ORDER1")
    assert failure.value.outcome_unknown is False


def test_a_token_service_failure_moved_nothing() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth2/token":
            raise httpx.ReadTimeout("read")
        raise AssertionError("no API call without a token")

    transport = httpx.MockTransport(handle)
    with (
        HttpPayPal(
            "http://paypal.invalid", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, transport=transport
        ) as paypal,
        pytest.raises(ProviderUnavailable) as failure,
    ):
        paypal.start(checkout())
    assert failure.value.outcome_unknown is False


def test_the_capture_decides_not_the_order() -> None:
    reference = new_reference()
    payments = {
        "authorizations": [{"id": "AUTH1", "status": "CAPTURED", "amount": {"currency_code": "USD", "value": "12.34"}}],
        "captures": [{"id": "CAP1", "status": "DECLINED", "amount": {"currency_code": "USD", "value": "12.34"}}],
    }
    order = _order(reference, status="COMPLETED", payments=payments)
    with _answering(lambda request: httpx.Response(200, json=order)) as paypal:
        found = paypal.find(reference=reference, provider_reference="ORDER1")
    assert (found.status, found.decline_code, found.raw_code, found.captured_minor) == (
        PaymentStatus.DECLINED,
        "card_declined",
        "DECLINED",
        0,
    )


def test_a_pending_capture_is_not_yet_known() -> None:
    reference = new_reference()
    payments = {
        "authorizations": [{"id": "AUTH1", "status": "CAPTURED", "amount": {"currency_code": "USD", "value": "12.34"}}],
        "captures": [{"id": "CAP1", "status": "PENDING", "amount": {"currency_code": "USD", "value": "12.34"}}],
    }
    order = _order(reference, status="COMPLETED", payments=payments)
    with (
        _answering(lambda request: httpx.Response(200, json=order)) as paypal,
        pytest.raises(ProviderUnavailable) as pending,
    ):
        paypal.find(reference=reference, provider_reference="ORDER1")
    assert pending.value.outcome_unknown is True


def test_the_wire_format_of_a_new_order() -> None:
    seen: list[httpx.Request] = []
    reference = new_reference()

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=_order(reference))

    start = Checkout(
        reference=reference,
        amount_minor=1_234,
        currency="USD",
        description="x" * 200,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
        language="az",
    )
    with _answering(handle) as paypal:
        started = paypal.start(start)
    assert started.redirect_url == "https://paypal.invalid/checkoutnow?token=ORDER1"
    (request,) = seen
    assert (request.headers["paypal-request-id"], request.headers["prefer"]) == (reference, "return=representation")
    assert request.headers["authorization"] == "Bearer A21AAmock"
    body = httpx.Response(200, content=request.content).json()
    assert body == {
        "intent": "AUTHORIZE",
        "purchase_units": [
            {
                "reference_id": reference,
                "custom_id": reference,
                "invoice_id": reference,
                "description": "x" * 127,
                "amount": {"currency_code": "USD", "value": "12.34"},
            }
        ],
        "application_context": {
            "return_url": RETURN_URL,
            "cancel_url": CANCEL_URL,
            "user_action": "PAY_NOW",
            "shipping_preference": "NO_SHIPPING",
        },
    }
