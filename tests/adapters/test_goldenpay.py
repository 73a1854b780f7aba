"""The HTTP GoldenPay adapter against the sandbox GoldenPay, served for real by uvicorn on loopback; the
customer's browser is a plain httpx client that follows no redirect by itself."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.adapters.support import TRANSPORT_FAILURES, Handler, responds
from tests.loopback import LoopbackServer
from topup.adapters.clock import FixedClock
from topup.adapters.payments.goldenpay import HttpGoldenPay
from topup.adapters.payments.sandbox_goldenpay import create_sandbox_goldenpay
from topup.services.payments import Checkout, PaymentRefused, PaymentResult, PaymentStatus, ProviderUnavailable

MERCHANT = "topup-test"
AUTH_KEY = "sandbox-auth-key"
RETURN_URL = "https://topup.example/v1/payments/goldenpay/return"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 14:00:00 in Baku
PAYMENT_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SERVICE = "/web/service/merchant"


def md5(*parts: str) -> str:
    return hashlib.md5("".join(parts).encode(), usedforsecurity=False).hexdigest()


def sandbox_app(database_path: Path) -> Callable[[str], Any]:
    def make(base_url: str) -> Any:
        return create_sandbox_goldenpay(
            database_path,
            merchant_name=MERCHANT,
            auth_key=AUTH_KEY,
            return_url=RETURN_URL,
            public_base_url=base_url,
            clock=FixedClock(START),
        )

    return make


@pytest.fixture(scope="module")
def database_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("goldenpay") / "goldenpay.sqlite"


@pytest.fixture(scope="module")
def sandbox(database_path: Path) -> Iterator[LoopbackServer]:
    server = LoopbackServer(sandbox_app(database_path)).start()
    yield server
    server.stop()


@pytest.fixture
def goldenpay(sandbox: LoopbackServer) -> Iterator[HttpGoldenPay]:
    with HttpGoldenPay(sandbox.base_url, merchant_name=MERCHANT, auth_key=AUTH_KEY, timeout_seconds=5.0) as client:
        yield client


@pytest.fixture
def browser(sandbox: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=5.0) as client:
        yield client


def checkout(
    *, amount_minor: int = 1_025, currency: str = "AZN", description: str = "Topup 994501234567", language: str = "en"
) -> Checkout:
    return Checkout(
        reference=f"order-{uuid4().hex}",
        amount_minor=amount_minor,
        currency=currency,
        description=description,
        return_url="https://topup.example/ignored",  # GoldenPay takes its return URL from the dashboard
        cancel_url="https://topup.example/ignored",
        language=language,
    )


def started(goldenpay: HttpGoldenPay, **details: Any) -> str:
    result = goldenpay.start(checkout(**details))
    assert result.provider_reference is not None
    return result.provider_reference


def act(browser: httpx.Client, payment_key: str, action: str) -> httpx.Response:
    """The customer opens the pay page, presses a button, and is sent back to the shop."""
    assert browser.get("/web/paypage", params={"payment_key": payment_key}).status_code == 200
    answer = browser.post("/web/paypage", params={"payment_key": payment_key}, data={"action": action})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{RETURN_URL}?payment_key={payment_key}"
    return answer


def raw_result(sandbox: LoopbackServer, payment_key: str) -> dict[str, Any]:
    body = {"payment_key": payment_key, "Hash_code": md5(AUTH_KEY, payment_key)}
    answer: dict[str, Any] = httpx.post(f"{sandbox.base_url}{SERVICE}/getPaymentResult", json=body).json()
    return answer


def payment_key_request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "merchantName": MERCHANT,
        "amount": 500,
        "cardType": "v",
        "description": "sandbox test",
        "lang": "lv",
    }
    body.update(changes)
    body.setdefault(
        "hashCode", md5(AUTH_KEY, str(body["merchantName"]), str(body["cardType"]), str(body["amount"]), "sandbox test")
    )
    return body


def test_paid_payment_is_captured_and_its_card_known(
    goldenpay: HttpGoldenPay, browser: httpx.Client, sandbox: LoopbackServer
) -> None:
    result = goldenpay.start(checkout(amount_minor=1_025, description="Topup 994501234567"))
    key = result.provider_reference
    assert key is not None
    assert PAYMENT_KEY.fullmatch(key)
    assert result == PaymentResult(
        status=PaymentStatus.REQUIRES_ACTION,
        provider_reference=key,
        redirect_url=f"{sandbox.base_url}/web/paypage?payment_key={key}",
        amount_minor=1_025,
        currency="AZN",
    )
    not_called = raw_result(sandbox, key)
    assert not_called["status"] == {"code": 813, "message": "Pay page not called"}
    assert (not_called["checkCount"], not_called["paymentDate"], not_called["cardNumber"]) == (1, None, None)

    page = browser.get(result.redirect_url or "")
    assert page.status_code == 200
    assert "10.25 AZN" in page.text
    assert "Topup 994501234567" in page.text
    assert MERCHANT in page.text
    assert (page.headers["cache-control"], page.headers["content-security-policy"]) == (
        "no-store",
        "default-src 'none'; style-src 'unsafe-inline'",
    )
    waiting = goldenpay.find(reference="order", provider_reference=key)
    assert (waiting.status, waiting.redirect_url, waiting.amount_minor) == (
        PaymentStatus.REQUIRES_ACTION,
        result.redirect_url,
        1_025,
    )
    assert raw_result(sandbox, key)["status"] == {"code": 813, "message": "Waiting for payment"}

    answer = browser.post("/web/paypage", params={"payment_key": key}, data={"action": "pay"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{RETURN_URL}?payment_key={key}"

    paid = goldenpay.find(reference="order", provider_reference=key)
    assert paid == PaymentResult(
        status=PaymentStatus.CAPTURED,
        provider_reference=key,
        brand="visa",
        last_four="8101",
        amount_minor=1_025,
        captured_minor=1_025,
        currency="AZN",
    )
    assert goldenpay.capture(provider_reference=key, amount_minor=1_025) == paid
    raw = raw_result(sandbox, key)
    assert raw["status"] == {"code": 1, "message": "success"}
    assert (raw["paymentKey"], raw["merchantName"], raw["amount"], raw["language"]) == (key, MERCHANT, 1_025, "en")
    assert (raw["checkCount"], raw["paymentDate"], raw["cardNumber"]) == (6, "2026-11-23 14:00:00", "422865******8101")
    assert re.fullmatch(r"[0-9]{12}", raw["rrn"])


def test_a_mastercard_key_pays_with_the_mastercard(sandbox: LoopbackServer, browser: httpx.Client) -> None:
    with HttpGoldenPay(sandbox.base_url, merchant_name=MERCHANT, auth_key=AUTH_KEY, card_type="m") as goldenpay:
        key = started(goldenpay)
        act(browser, key, "pay")
        paid = goldenpay.find(reference="order", provider_reference=key)
    assert (paid.status, paid.brand, paid.last_four) == (PaymentStatus.CAPTURED, "mastercard", "4444")
    assert raw_result(sandbox, key)["cardNumber"] == "555544******4444"


def test_declined_card_is_declined_and_cannot_be_captured_or_refunded(
    goldenpay: HttpGoldenPay, browser: httpx.Client
) -> None:
    key = started(goldenpay, amount_minor=700)
    act(browser, key, "decline")
    declined = goldenpay.find(reference="order", provider_reference=key)
    assert declined == PaymentResult(
        status=PaymentStatus.DECLINED,
        provider_reference=key,
        decline_code="card_declined",
        raw_code="808",
        message="Payment declined by the card issuer",
        brand="visa",
        last_four="8101",
        amount_minor=700,
        currency="AZN",
    )
    moves: list[Callable[[], PaymentResult]] = [
        lambda: goldenpay.capture(provider_reference=key, amount_minor=700),
        lambda: goldenpay.refund(provider_reference=key, amount_minor=700),
    ]
    for move in moves:
        with pytest.raises(PaymentRefused) as refused:
            move()
        assert refused.value.code == "invalid_state"


def test_customer_cancel_is_cancelled_without_a_card(goldenpay: HttpGoldenPay, browser: httpx.Client) -> None:
    key = started(goldenpay)
    act(browser, key, "cancel")
    cancelled = goldenpay.find(reference="order", provider_reference=key)
    assert (cancelled.status, cancelled.decline_code, cancelled.raw_code, cancelled.last_four) == (
        PaymentStatus.CANCELLED,
        "cancelled",
        "809",
        None,
    )
    assert cancelled.message == "Payment cancelled by the payer"


def test_a_key_is_settled_once_and_the_page_sends_the_customer_back_again(
    goldenpay: HttpGoldenPay, browser: httpx.Client, sandbox: LoopbackServer
) -> None:
    key = started(goldenpay)
    first = act(browser, key, "pay")
    again = browser.post("/web/paypage", params={"payment_key": key}, data={"action": "decline"})
    assert (again.status_code, again.headers["location"]) == (303, first.headers["location"])
    assert goldenpay.find(reference="order", provider_reference=key).status is PaymentStatus.CAPTURED

    settled = browser.get("/web/paypage", params={"payment_key": key})
    assert settled.status_code == 409
    assert "is paid" in settled.text
    assert f'href="{RETURN_URL}?payment_key={key}"' in settled.text


def test_goldenpay_has_no_idempotency_key_so_find_without_the_key_is_not_found(
    goldenpay: HttpGoldenPay, database_path: Path
) -> None:
    # Each start makes a new key; a key nobody received can never be paid, so without it there is no payment.
    same = checkout()
    first, second = goldenpay.start(same), goldenpay.start(same)
    assert first.provider_reference != second.provider_reference
    assert goldenpay.find(reference=same.reference) == PaymentResult(status=PaymentStatus.NOT_FOUND)
    assert goldenpay.find(reference=same.reference, provider_reference=str(uuid4())) == PaymentResult(
        status=PaymentStatus.NOT_FOUND
    )
    with sqlite3.connect(database_path) as connection:
        states = connection.execute(
            "SELECT state FROM goldenpay_payments WHERE payment_key IN (?, ?)",
            (first.provider_reference, second.provider_reference),
        ).fetchall()
    assert states == [("created",), ("created",)]


def test_refund_is_full_only_and_a_repeat_answers_the_same(
    goldenpay: HttpGoldenPay, browser: httpx.Client, sandbox: LoopbackServer
) -> None:
    key = started(goldenpay, amount_minor=2_000)
    act(browser, key, "pay")
    for amount_minor in (2_001, 1_000):  # above what was paid, and a partial refund
        with pytest.raises(PaymentRefused) as refused:
            goldenpay.refund(provider_reference=key, amount_minor=amount_minor)
        assert refused.value.code == "invalid_amount"
    assert goldenpay.find(reference="order", provider_reference=key).status is PaymentStatus.CAPTURED

    refunded = goldenpay.refund(provider_reference=key, amount_minor=2_000)
    assert refunded == PaymentResult(
        status=PaymentStatus.REFUNDED,
        provider_reference=key,
        brand="visa",
        last_four="8101",
        amount_minor=2_000,
        captured_minor=2_000,
        refunded_minor=2_000,
        currency="AZN",
    )
    assert goldenpay.refund(provider_reference=key, amount_minor=2_000) == refunded
    assert goldenpay.find(reference="order", provider_reference=key) == refunded
    assert goldenpay.capture(provider_reference=key, amount_minor=2_000) == refunded
    assert raw_result(sandbox, key)["status"] == {"code": 814, "message": "Payment refunded"}


def test_moves_that_goldenpay_cannot_make_are_refused(goldenpay: HttpGoldenPay) -> None:
    key = started(goldenpay)
    cases: list[tuple[Callable[[], PaymentResult], str]] = [
        (lambda: goldenpay.void(provider_reference=key), "invalid_state"),  # a sale has no hold to release
        (lambda: goldenpay.capture(provider_reference=key, amount_minor=1_025), "invalid_state"),  # not paid yet
        (lambda: goldenpay.refund(provider_reference=key, amount_minor=1_025), "invalid_state"),
        (lambda: goldenpay.refund(provider_reference=str(uuid4()), amount_minor=100), "not_found"),
        (lambda: goldenpay.capture(provider_reference=str(uuid4()), amount_minor=100), "not_found"),
        (lambda: goldenpay.start(checkout(amount_minor=100_000_001)), "invalid_amount"),  # the sandbox's refusal
    ]
    for move, code in cases:
        with pytest.raises(PaymentRefused) as refused:
            move()
        assert refused.value.code == code


def test_only_azn_is_charged_and_nothing_is_sent_otherwise() -> None:
    def must_not_be_called(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    transport = httpx.MockTransport(must_not_be_called)
    with HttpGoldenPay(
        "http://goldenpay.invalid", merchant_name=MERCHANT, auth_key=AUTH_KEY, transport=transport
    ) as gp:
        assert gp.currencies == frozenset({"AZN"})
        assert gp.captures_on_approval is True
        with pytest.raises(PaymentRefused) as refused:
            gp.start(checkout(currency="USD"))
        assert refused.value.code == "currency_not_supported"


@pytest.mark.parametrize(
    ("description", "language", "sent_description", "sent_language"),
    [
        ("Balans artımı — Azərçell +994 50 123 45 67", "az", "Balans artimi - Azercell +994 50 123 45 67", "lv"),
        ("Пополнение", "ru", "Order ORDER", "ru"),  # nothing ASCII left: the order reference instead
        ("充值 Nar\n10 AZN", "zh", "Nar 10 AZN", "en"),
        ("x" * 300, "en", "x" * 100, "en"),
    ],
)
def test_description_is_sent_as_short_ascii_and_the_language_as_goldenpay_names_it(
    goldenpay: HttpGoldenPay,
    sandbox: LoopbackServer,
    description: str,
    language: str,
    sent_description: str,
    sent_language: str,
) -> None:
    order = checkout(description=description, language=language)
    key = goldenpay.start(order).provider_reference
    assert key is not None
    raw = raw_result(sandbox, key)
    assert (raw["description"], raw["language"]) == (sent_description.replace("ORDER", order.reference), sent_language)


def test_the_pay_page_escapes_what_it_shows(goldenpay: HttpGoldenPay, browser: httpx.Client) -> None:
    key = started(goldenpay, description='<script>alert("x")</script>')
    page = browser.get("/web/paypage", params={"payment_key": key})
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text


def test_the_pay_page_refuses_unknown_keys_and_unknown_buttons(goldenpay: HttpGoldenPay, browser: httpx.Client) -> None:
    unknown = {"payment_key": str(uuid4())}
    assert browser.get("/web/paypage", params=unknown).status_code == 404
    assert browser.get("/web/paypage").status_code == 404
    assert browser.post("/web/paypage", params=unknown, data={"action": "pay"}).status_code == 404
    key = started(goldenpay)
    assert browser.post("/web/paypage", params={"payment_key": key}, data={"action": "steal"}).status_code == 400
    assert (
        browser.post("/web/paypage", params={"payment_key": key}, data={"action": "pay", "x": "y" * 300}).status_code
        == 400
    )
    assert goldenpay.find(reference="order", provider_reference=key).status is PaymentStatus.REQUIRES_ACTION


def test_payment_result_answers_the_get_variants_with_and_without_registration(
    goldenpay: HttpGoldenPay, sandbox: LoopbackServer
) -> None:
    key = started(goldenpay)
    url = f"{sandbox.base_url}{SERVICE}/getPaymentResult"
    plain = httpx.get(url, params={"payment_key": key, "hash_code": md5(AUTH_KEY, key)}).json()
    registered = httpx.get(
        url, params={"payment_key": key, "hash_code": md5(AUTH_KEY, key, "true"), "registration": "true"}
    ).json()
    assert (plain["status"]["code"], plain["checkCount"]) == (813, 1)
    assert (registered["status"]["code"], registered["checkCount"]) == (813, 2)
    unsigned = httpx.get(url, params={"payment_key": key, "hash_code": md5(AUTH_KEY, key), "registration": "true"})
    assert unsigned.json() == {"status": {"code": 802, "message": "Invalid hash code"}, "paymentKey": None}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (payment_key_request(hashCode="0" * 32), 802),
        (payment_key_request(merchantName="someone-else"), 803),
        (payment_key_request(amount="10.5"), 804),
        (payment_key_request(amount=10.5), 804),
        (payment_key_request(amount=0), 804),
        (payment_key_request(amount=-100), 804),
        (payment_key_request(cardType="x"), 805),
        (payment_key_request(lang="az"), 801),
        ({"merchantName": MERCHANT}, 801),
        ([1, 2, 3], 801),
    ],
)
def test_sandbox_refuses_bad_payment_key_requests_in_goldenpays_format(
    sandbox: LoopbackServer, body: object, code: int
) -> None:
    answer = httpx.post(f"{sandbox.base_url}{SERVICE}/getPaymentKey", json=body)
    assert answer.status_code == 200
    assert answer.json()["status"]["code"] == code
    assert answer.json()["paymentKey"] is None


@pytest.mark.parametrize(
    ("amount", "signed_amount", "code"),
    [
        ("abc", "abc", 804),
        (0, "0", 804),
        (None, None, 801),
        (100, "101", 802),
    ],
)
def test_sandbox_refuses_bad_refund_requests(
    goldenpay: HttpGoldenPay, sandbox: LoopbackServer, amount: object, signed_amount: str | None, code: int
) -> None:
    key = started(goldenpay)
    body = {"payment_key": key, "amount": amount, "hashCode": md5(AUTH_KEY, key, signed_amount or "")}
    answer = httpx.post(f"{sandbox.base_url}{SERVICE}/refund", json=body)
    assert (answer.status_code, answer.json()["status"]["code"]) == (200, code)


def test_sandbox_refuses_bodies_that_are_not_json_or_too_large(sandbox: LoopbackServer) -> None:
    for content in (b"{not json", b"{" + b" " * 5_000 + b"}"):
        answer = httpx.post(f"{sandbox.base_url}{SERVICE}/getPaymentKey", content=content)
        assert answer.json() == {"status": {"code": 801, "message": "Invalid request"}, "paymentKey": None}


def test_wrong_credentials_are_a_configuration_problem(sandbox: LoopbackServer) -> None:
    with HttpGoldenPay(sandbox.base_url, merchant_name=MERCHANT, auth_key=AUTH_KEY) as goldenpay:
        key = started(goldenpay)
    for merchant_name, auth_key in ((MERCHANT, "not-the-key"), ("someone-else", AUTH_KEY)):
        with HttpGoldenPay(sandbox.base_url, merchant_name=merchant_name, auth_key=auth_key) as stranger:
            with pytest.raises(ProviderUnavailable) as refused:
                stranger.start(checkout())
            assert refused.value.outcome_unknown is False
            assert auth_key not in str(refused.value)
    with HttpGoldenPay(sandbox.base_url, merchant_name=MERCHANT, auth_key="not-the-key") as stranger:
        moves: list[Callable[[], PaymentResult]] = [
            lambda: stranger.find(reference="order", provider_reference=key),
            lambda: stranger.refund(provider_reference=key, amount_minor=1_025),
        ]
        for move in moves:
            with pytest.raises(ProviderUnavailable) as refused:
                move()
            assert refused.value.outcome_unknown is False
            assert "802" in str(refused.value)


def test_stopped_sandbox_is_unreachable_and_payments_survive_a_restart(tmp_path: Path) -> None:
    server = LoopbackServer(sandbox_app(tmp_path / "goldenpay.sqlite")).start()
    with HttpGoldenPay(server.base_url, merchant_name=MERCHANT, auth_key=AUTH_KEY, timeout_seconds=2.0) as goldenpay:
        try:
            key = started(goldenpay)
            server.stop()
            moves: list[Callable[[], PaymentResult]] = [
                lambda: goldenpay.start(checkout()),
                lambda: goldenpay.find(reference="order", provider_reference=key),
                lambda: goldenpay.refund(provider_reference=key, amount_minor=1_025),
            ]
            for move in moves:
                with pytest.raises(ProviderUnavailable) as unreachable:
                    move()
                assert unreachable.value.outcome_unknown is False
            server.start()
            assert goldenpay.find(reference="order", provider_reference=key).status is PaymentStatus.REQUIRES_ACTION
        finally:
            if server.running:
                server.stop()


def _answering(handler: Handler) -> HttpGoldenPay:
    return HttpGoldenPay(
        "http://goldenpay.invalid", merchant_name=MERCHANT, auth_key=AUTH_KEY, transport=httpx.MockTransport(handler)
    )


def _result_body(**changes: Any) -> bytes:
    body: dict[str, Any] = {
        "status": {"code": 1, "message": "success"},
        "paymentKey": "key-1",
        "merchantName": MERCHANT,
        "amount": 100,
        "checkCount": 1,
        "paymentDate": "2019-04-30 14:16:58",
        "cardNumber": "422865******8101",
        "language": "lv",
        "description": "test desc",
        "rrn": "12345678",
    }
    body.update(changes)
    return httpx.Response(200, json=body).content


@pytest.mark.parametrize(
    ("handler", "outcome_unknown"),
    [
        *TRANSPORT_FAILURES,
        (responds(500, b"{}"), True),
        (responds(404, b"Not Found"), False),
        (responds(200, b"<html>not json</html>"), True),
        (responds(200, b'{"status": {"code": "1"}, "paymentKey": "k"}'), True),
        (responds(200, b'{"status": {"code": 1, "message": "success"}, "paymentKey": null}'), True),
        (responds(200, b'{"status": {"code": 801, "message": "Error message here"}, "paymentKey": null}'), False),
    ],
)
def test_what_a_failure_to_start_says_about_the_outcome(handler: Handler, outcome_unknown: bool) -> None:
    with _answering(handler) as goldenpay, pytest.raises(ProviderUnavailable) as failure:
        goldenpay.start(checkout())
    assert failure.value.outcome_unknown is outcome_unknown
    assert AUTH_KEY not in str(failure.value)


@pytest.mark.parametrize(
    "content",
    [
        _result_body(paymentKey="someone-else"),  # an answer about another payment
        _result_body(amount="100"),  # paid, but how much?
        _result_body(amount=None),
        _result_body(status={"code": 999, "message": "System error"}, paymentKey=None),  # not about this payment
        _result_body(status={"code": 814, "message": "Refunded"}, refundedAmount=101),
        b"<html>maintenance</html>",
    ],
)
def test_a_result_that_cannot_be_read_is_an_unknown_outcome(content: bytes) -> None:
    with _answering(responds(200, content)) as goldenpay, pytest.raises(ProviderUnavailable) as failure:
        goldenpay.find(reference="order", provider_reference="key-1")
    assert failure.value.outcome_unknown is True


def test_the_published_fixtures_read_as_goldenpay_means_them() -> None:
    with _answering(responds(200, _result_body())) as goldenpay:
        paid = goldenpay.find(reference="order", provider_reference="key-1")
    assert (paid.status, paid.captured_minor, paid.brand, paid.last_four) == (
        PaymentStatus.CAPTURED,
        100,
        "visa",
        "8101",
    )
    unknown_code = _result_body(status={"code": 999, "message": "Something else"}, cardNumber=None)
    with _answering(responds(200, unknown_code)) as goldenpay:
        declined = goldenpay.find(reference="order", provider_reference="key-1")
    assert (declined.status, declined.decline_code, declined.raw_code, declined.message) == (
        PaymentStatus.DECLINED,
        "card_declined",
        "999",
        "Something else",
    )


def test_the_requests_are_signed_as_goldenpay_documents() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("getPaymentKey"):
            return httpx.Response(200, json={"status": {"code": 1, "message": "success"}, "paymentKey": "key-1"})
        return httpx.Response(200, content=_result_body())

    with _answering(handle) as goldenpay:
        goldenpay.start(checkout(amount_minor=1_025, description="Topup"))
        goldenpay.find(reference="order", provider_reference="key-1")
    start, find = seen
    assert (start.url.path, start.headers["accept"]) == ("/web/service/merchant/getPaymentKey", "application/json")
    assert httpx.Response(200, content=start.content).json() == {
        "merchantName": MERCHANT,
        "amount": 1_025,
        "cardType": "v",
        "description": "Topup",
        "lang": "en",
        "hashCode": md5(AUTH_KEY, MERCHANT, "v", "1025", "Topup"),
    }
    assert find.url.path == "/web/service/merchant/getPaymentResult"
    assert httpx.Response(200, content=find.content).json() == {
        "payment_key": "key-1",
        "Hash_code": md5(AUTH_KEY, "key-1"),
    }
