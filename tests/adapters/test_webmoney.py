"""WebMoney Merchant against the sandbox WebMoney, both served for real by uvicorn on loopback; the seller's
Result URL is a tiny app on another loopback server that records what it is sent."""

from __future__ import annotations

import base64
import hashlib
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from tests.adapters.support import TRANSPORT_FAILURES, Handler, responds
from tests.loopback import LoopbackServer
from topup.adapters.clock import FixedClock
from topup.adapters.payments.sandbox_webmoney import create_sandbox_webmoney
from topup.adapters.payments.webmoney import MOSCOW, WebMoneyMerchant, WebMoneyNotification, payment_number
from topup.services.payments import (
    Checkout,
    NotificationRejected,
    PaymentForm,
    PaymentRefused,
    PaymentResult,
    PaymentStatus,
    ProviderUnavailable,
)

SECRET = "sandbox-webmoney-secret"
PURSES = {"USD": "Z123456789012", "EUR": "E123456789012", "RUB": "R123456789012"}
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 13:00:00 in Moscow
TRANS_DATE = "20261123 13:00:00"
RETURN_URL = "https://shop.example/orders/return?step=back"
CANCEL_URL = "https://shop.example/orders/cancel"
DESCRIPTION = "Azercell top-up 10 AZN — Bakı ✓"


class Receiver:
    """The seller's Result URL: /result/yes allows payments, /result/no refuses them at the pre-request,
    /result/broken allows them and then fails the notification with a 500."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[tuple[str, dict[str, str]]] = []
        self.server = LoopbackServer(lambda base_url: self._app()).start()

    def url(self, behaviour: str) -> str:
        return f"{self.server.base_url}/result/{behaviour}"

    def received_for(self, payment_no: str) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return [(path, fields) for path, fields in self._received if fields.get("LMI_PAYMENT_NO") == payment_no]

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/result/{behaviour}")
        async def result(behaviour: str, request: Request) -> PlainTextResponse:
            # Parsed by hand: the product has no python-multipart, which request.form() needs.
            parsed = parse_qs((await request.body()).decode(), keep_blank_values=True)
            fields = {name: values[0] for name, values in parsed.items()}
            with self._lock:
                self._received.append((behaviour, fields))
            if fields.get("LMI_PREREQUEST") == "1":
                return PlainTextResponse("YES" if behaviour != "no" else "NO: this order is closed")
            return PlainTextResponse("OK", status_code=500 if behaviour == "broken" else 200)

        return app


def sandbox_app(database_path: Path, **options: object) -> object:
    def make(base_url: str) -> FastAPI:
        return create_sandbox_webmoney(
            database_path,
            purses=PURSES,
            secret_key=SECRET,
            public_base_url=base_url,
            clock=FixedClock(NOW),
            **options,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    yield receiving
    receiving.server.stop()


@pytest.fixture(scope="module")
def database_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox") / "webmoney.sqlite"


@pytest.fixture(scope="module")
def sandbox(database_path: Path) -> Iterator[LoopbackServer]:
    server = LoopbackServer(sandbox_app(database_path)).start()  # type: ignore[arg-type]
    yield server
    server.stop()


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[LoopbackServer]:
    """A sandbox a test may stop and restart."""
    server = LoopbackServer(sandbox_app(tmp_path / "webmoney.sqlite")).start()  # type: ignore[arg-type]
    yield server
    if server.running:
        server.stop()


# Module-scoped clients: they keep no state between calls, and each new httpx client costs an SSL context.
@pytest.fixture(scope="module")
def webmoney(sandbox: LoopbackServer, receiver: Receiver) -> Iterator[WebMoneyMerchant]:
    with merchant(sandbox.base_url, receiver.url("yes")) as client:
        yield client


@pytest.fixture(scope="module")
def offline() -> Iterator[WebMoneyMerchant]:
    """For what needs no server: reading notifications."""
    with merchant("https://merchant.webmoney.ru") as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[httpx.Client]:
    """The payer's browser: no credentials, no cookies kept, does not follow redirects by itself."""
    with httpx.Client(timeout=5.0) as client:
        yield client


def merchant(
    base_url: str, result_url: str = "https://shop.example/webmoney/result", **options: object
) -> WebMoneyMerchant:
    settings: dict[str, object] = {"purses": PURSES, "secret_key": SECRET, "timeout_seconds": 5.0} | options
    return WebMoneyMerchant(base_url, result_url=result_url, **settings)  # type: ignore[arg-type]


def new_reference() -> str:
    return uuid4().hex


def checkout(reference: str | None = None, *, amount_minor: int = 1_025, currency: str = "USD") -> Checkout:
    return Checkout(
        reference=reference or new_reference(),
        amount_minor=amount_minor,
        currency=currency,
        description=DESCRIPTION,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
    )


def open_payment_page(browser: httpx.Client, form: PaymentForm | None) -> tuple[httpx.Response, str]:
    """Posts the form as the payer's browser would; the page, and where its buttons post."""
    assert form is not None
    page = browser.post(form.action_url, data=dict(form.fields))
    assert page.status_code == 200, page.text
    match = re.search(r'<form method="post" action="([^"]+)">', page.text)
    assert match is not None
    return page, match.group(1)


def press(browser: httpx.Client, form: PaymentForm | None, action: str) -> httpx.Response:
    _, invoice_url = open_payment_page(browser, form)
    return browser.post(invoice_url, data={"action": action})


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def invoices_in(database_path: Path, payment_no: str) -> int:
    with sqlite3.connect(database_path) as connection:
        (count,) = connection.execute("SELECT count(*) FROM invoices WHERE payment_no = ?", (payment_no,)).fetchone()
    return int(count)


def classic_hash(fields: dict[str, str], secret: str, method: str = "sha256") -> str:
    """LMI_HASH written out independently of the adapter: PROTOCOLS.md section 3, in this order."""
    text = (
        fields["LMI_PAYEE_PURSE"]
        + fields["LMI_PAYMENT_AMOUNT"]
        + fields["LMI_PAYMENT_NO"]
        + fields["LMI_MODE"]
        + fields["LMI_SYS_INVS_NO"]
        + fields["LMI_SYS_TRANS_NO"]
        + fields["LMI_SYS_TRANS_DATE"]
        + secret
        + fields["LMI_PAYER_PURSE"]
        + fields["LMI_PAYER_WM"]
    )
    return hashlib.new(method, text.encode()).hexdigest().upper()


def notification(reference: str, *, method: str = "sha256", secret: str = SECRET, **changes: str) -> dict[str, str]:
    fields = {
        "LMI_PAYEE_PURSE": PURSES["USD"],
        "LMI_PAYMENT_AMOUNT": "10.25",
        "LMI_PAYMENT_NO": str(payment_number(reference)),
        "LMI_MODE": "0",
        "LMI_SYS_INVS_NO": "281",
        "LMI_SYS_TRANS_NO": "4413",
        "LMI_SYS_TRANS_DATE": TRANS_DATE,
        "LMI_PAYER_PURSE": "Z000000000001",
        "LMI_PAYER_WM": "000000000001",
        "LMI_PAYMENT_DESC": DESCRIPTION,
        "FIELD_REFERENCE": reference,
    }
    fields["LMI_HASH"] = classic_hash(fields, secret, method)
    return fields | changes


def test_start_builds_the_form_without_calling_webmoney() -> None:
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    transport = httpx.MockTransport(record)
    reference = "0123456789abcdef0123456789abcdef"
    with merchant("https://merchant.webmoney.ru/", transport=transport) as webmoney:
        started = webmoney.start(checkout(reference))
    number = str(int("0123456789abc", 16))
    assert started == PaymentResult(
        status=PaymentStatus.REQUIRES_ACTION,
        provider_reference=f"USD-{number}",
        form=PaymentForm(
            action_url="https://merchant.webmoney.ru/lmi/payment_utf.asp",
            fields=(
                ("LMI_PAYEE_PURSE", "Z123456789012"),
                ("LMI_PAYMENT_AMOUNT", "10.25"),
                ("LMI_PAYMENT_NO", number),
                ("LMI_PAYMENT_DESC_BASE64", base64.b64encode(DESCRIPTION.encode()).decode()),
                ("LMI_RESULT_URL", "https://shop.example/webmoney/result"),
                ("LMI_SUCCESS_URL", RETURN_URL),
                ("LMI_SUCCESS_METHOD", "0"),
                ("LMI_FAIL_URL", CANCEL_URL),
                ("LMI_FAIL_METHOD", "0"),
                ("FIELD_REFERENCE", reference),
            ),
        ),
        amount_minor=1_025,
        currency="USD",
    )
    assert calls == []
    assert int(number) < 2**52
    with merchant("https://merchant.webmoney.ru", test_mode=True) as testing:
        form = testing.start(checkout(reference, amount_minor=5, currency="EUR")).form
    assert form is not None
    assert dict(form.fields)["LMI_SIM_MODE"] == "0"
    assert dict(form.fields)["LMI_PAYMENT_AMOUNT"] == "0.05"
    assert dict(form.fields)["LMI_PAYEE_PURSE"] == "E123456789012"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"currency": "AZN"}, "currency_not_supported"),
        ({"reference": "order-1"}, "invalid_reference"),
        ({"reference": "0123456789ABCDEF0123456789ABCDEF"}, "invalid_reference"),
        ({"amount_minor": 0}, "invalid_amount"),
    ],
)
def test_start_refuses_what_webmoney_cannot_take(changes: dict[str, object], code: str) -> None:
    with merchant("https://merchant.webmoney.ru") as webmoney, pytest.raises(PaymentRefused) as refused:
        webmoney.start(replace(checkout(), **changes))  # type: ignore[arg-type]
    assert refused.value.code == code
    assert webmoney.currencies == frozenset({"USD", "EUR", "RUB"})
    assert webmoney.captures_on_approval is True


def test_paying_sends_the_pre_request_then_the_signed_notification_and_the_payer_back(
    webmoney: WebMoneyMerchant, browser: httpx.Client, receiver: Receiver, database_path: Path
) -> None:
    reference = new_reference()
    started = webmoney.start(checkout(reference))
    number = str(payment_number(reference))
    page, invoice_url = open_payment_page(browser, started.form)
    assert "10.25 USD" in page.text
    assert "Azercell top-up 10 AZN — Bakı ✓" in page.text
    for button in ("Pay from WM Keeper purse", "Payment fails", "Cancel"):
        assert button in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert webmoney.find(reference=reference, provider_reference=started.provider_reference) == PaymentResult(
        status=PaymentStatus.REQUIRES_ACTION, provider_reference=started.provider_reference
    )

    paid = browser.post(invoice_url, data={"action": "pay"})
    assert paid.status_code == 303
    with sqlite3.connect(database_path) as connection:
        invs_no, trans_no = connection.execute(
            "SELECT invs_no, trans_no FROM invoices WHERE payment_no = ?", (number,)
        ).fetchone()
    assert paid.headers["location"] == RETURN_URL + "&" + urlencode(
        {
            "LMI_PAYMENT_NO": number,
            "LMI_SYS_INVS_NO": str(invs_no),
            "LMI_SYS_TRANS_NO": str(trans_no),
            "LMI_SYS_TRANS_DATE": TRANS_DATE,
        }
    )

    (pre_path, pre_fields), (path, fields) = receiver.received_for(number)
    assert (pre_path, path) == ("yes", "yes")
    assert pre_fields == {
        "LMI_PREREQUEST": "1",
        "LMI_PAYEE_PURSE": "Z123456789012",
        "LMI_PAYMENT_AMOUNT": "10.25",
        "LMI_PAYMENT_NO": number,
        "LMI_MODE": "0",
        "LMI_PAYER_WM": "000000000001",
        "LMI_PAYER_PURSE": "Z000000000001",
        "LMI_PAYMENT_DESC": DESCRIPTION,
        "LMI_LANG": "en-US",
        "FIELD_REFERENCE": reference,
    }
    expected = {key: value for key, value in pre_fields.items() if key != "LMI_PREREQUEST"} | {
        "LMI_SYS_INVS_NO": str(invs_no),
        "LMI_SYS_TRANS_NO": str(trans_no),
        "LMI_SYS_TRANS_DATE": TRANS_DATE,
    }
    assert fields == expected | {"LMI_HASH": classic_hash(expected, SECRET)}

    pre = webmoney.read_notification(pre_fields)
    assert (pre.prerequest, pre.payment_no, pre.reference, pre.amount_minor, pre.currency) == (
        True,
        number,
        reference,
        1_025,
        "USD",
    )
    assert pre.result.status is PaymentStatus.REQUIRES_ACTION
    notified = webmoney.read_notification(fields)
    captured = PaymentResult(
        status=PaymentStatus.CAPTURED,
        provider_reference=f"USD-{number}",
        amount_minor=1_025,
        captured_minor=1_025,
        currency="USD",
    )
    assert notified == WebMoneyNotification(
        prerequest=False,
        payment_no=number,
        reference=reference,
        amount_minor=1_025,
        currency="USD",
        test=False,
        payer_purse="Z000000000001",
        payer_wm="000000000001",
        sys_invs_no=str(invs_no),
        sys_trans_no=str(trans_no),
        trans_date=datetime(2026, 11, 23, 13, 0, tzinfo=MOSCOW),
        result=captured,
    )
    assert notified.trans_date == NOW
    assert webmoney.find(reference=reference) == captured
    assert webmoney.find(reference=reference, provider_reference=f"USD-{number}") == captured
    assert webmoney.capture(provider_reference=f"USD-{number}", amount_minor=1_025) == captured
    with pytest.raises(PaymentRefused) as over_capture:
        webmoney.capture(provider_reference=f"USD-{number}", amount_minor=1_026)
    assert over_capture.value.code == "invalid_amount"
    with pytest.raises(PaymentRefused) as void:
        webmoney.void(provider_reference=f"USD-{number}")
    assert void.value.code == "invalid_state"


@pytest.mark.parametrize("action", ["fail", "cancel"])
def test_a_failed_or_cancelled_payment_goes_back_to_the_fail_url_and_stays_unpaid(
    webmoney: WebMoneyMerchant, browser: httpx.Client, receiver: Receiver, action: str
) -> None:
    reference = new_reference()
    started = webmoney.start(checkout(reference))
    assert started.provider_reference is not None
    answer = press(browser, started.form, action)
    number = str(payment_number(reference))
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{CANCEL_URL}?LMI_PAYMENT_NO={number}"
    assert receiver.received_for(number) == []
    assert webmoney.find(reference=reference) == PaymentResult(status=PaymentStatus.REQUIRES_ACTION)
    with pytest.raises(PaymentRefused) as refused:
        webmoney.capture(provider_reference=started.provider_reference, amount_minor=1_025)
    assert refused.value.code == "invalid_state"
    with pytest.raises(PaymentRefused) as refund_refused:
        webmoney.refund(provider_reference=started.provider_reference, amount_minor=1_025)
    assert refund_refused.value.code == "invalid_state"

    # Nothing was taken, so the payer may come back and pay.
    assert press(browser, started.form, "pay").status_code == 303
    assert webmoney.find(reference=reference).status is PaymentStatus.CAPTURED


def test_a_pre_request_not_answered_yes_stops_the_payment(
    sandbox: LoopbackServer, browser: httpx.Client, receiver: Receiver
) -> None:
    reference = new_reference()
    with merchant(sandbox.base_url, receiver.url("no")) as webmoney:
        answer = press(browser, webmoney.start(checkout(reference)).form, "pay")
        assert answer.status_code == 403
        assert "The seller refused this payment; nothing was paid." in answer.text
        assert "NO: this order is closed" in answer.text
        number = str(payment_number(reference))
        assert [path for path, _ in receiver.received_for(number)] == ["no"]
        assert webmoney.find(reference=reference).status is PaymentStatus.REQUIRES_ACTION


def test_a_result_url_that_does_not_answer_stops_the_payment(
    sandbox: LoopbackServer, browser: httpx.Client, own_sandbox: LoopbackServer
) -> None:
    own_sandbox.stop()  # a closed port to send the pre-request to
    reference = new_reference()
    with merchant(sandbox.base_url, f"{own_sandbox.base_url}/result") as webmoney:
        answer = press(browser, webmoney.start(checkout(reference)).form, "pay")
        assert answer.status_code == 502
        assert webmoney.find(reference=reference).status is PaymentStatus.REQUIRES_ACTION


def test_a_failed_notification_still_pays_and_find_settles_it(
    sandbox: LoopbackServer, browser: httpx.Client, receiver: Receiver, database_path: Path
) -> None:
    reference = new_reference()
    with merchant(sandbox.base_url, receiver.url("broken")) as webmoney:
        answer = press(browser, webmoney.start(checkout(reference)).form, "pay")
        assert answer.status_code == 303
        assert webmoney.find(reference=reference).status is PaymentStatus.CAPTURED
    number = str(payment_number(reference))
    assert len(receiver.received_for(number)) == 2  # one attempt, not retried
    with sqlite3.connect(database_path) as connection:
        (status,) = connection.execute(
            "SELECT notification_status FROM invoices WHERE payment_no = ?", (number,)
        ).fetchone()
    assert status == 500


def test_the_same_form_twice_is_one_payment(
    webmoney: WebMoneyMerchant, browser: httpx.Client, receiver: Receiver, database_path: Path
) -> None:
    reference = new_reference()
    started = webmoney.start(checkout(reference))
    assert webmoney.start(checkout(reference)) == started
    _, first_url = open_payment_page(browser, started.form)
    _, second_url = open_payment_page(browser, started.form)
    assert first_url == second_url
    first = browser.post(first_url, data={"action": "pay"})
    again = browser.post(second_url, data={"action": "pay"})
    assert (first.status_code, again.status_code) == (303, 303)
    assert again.headers["location"] == first.headers["location"]
    number = str(payment_number(reference))
    assert [fields.get("LMI_PREREQUEST") for _, fields in receiver.received_for(number)] == ["1", None]
    assert invoices_in(database_path, number) == 1

    assert started.form is not None
    assert browser.post(started.form.action_url, data=dict(started.form.fields)).status_code == 409  # paid
    other_amount = {**dict(started.form.fields), "LMI_PAYMENT_AMOUNT": "99.00"}
    refused = browser.post(started.form.action_url, data=other_amount)
    assert refused.status_code == 409
    assert "used before with other details" in refused.text
    failed_after_paying = browser.post(first_url, data={"action": "fail"})
    assert failed_after_paying.status_code == 409
    assert invoices_in(database_path, number) == 1


def test_refunds_in_parts_never_above_what_was_paid(webmoney: WebMoneyMerchant, browser: httpx.Client) -> None:
    reference = new_reference()
    started = webmoney.start(checkout(reference, amount_minor=2_500, currency="EUR"))
    assert press(browser, started.form, "pay").status_code == 303
    payment = started.provider_reference
    assert payment == f"EUR-{payment_number(reference)}"

    part = webmoney.refund(provider_reference=payment, amount_minor=1_000)
    assert (part.status, part.captured_minor, part.refunded_minor, part.currency) == (
        PaymentStatus.CAPTURED,
        2_500,
        1_000,
        "EUR",
    )
    with pytest.raises(PaymentRefused) as over_refund:
        webmoney.refund(provider_reference=payment, amount_minor=1_501)
    assert over_refund.value.code == "invalid_amount"
    rest = webmoney.refund(provider_reference=payment, amount_minor=1_500)
    assert (rest.status, rest.refunded_minor) == (PaymentStatus.REFUNDED, 2_500)
    assert webmoney.refund(provider_reference=payment, amount_minor=2_500) == rest  # repeated: changes nothing
    assert webmoney.find(reference=reference) == rest
    with pytest.raises(PaymentRefused) as nothing:
        webmoney.refund(provider_reference=payment, amount_minor=0)
    assert nothing.value.code == "invalid_amount"


@pytest.mark.parametrize("provider_reference", ["", "USD-", "AZN-12", "USD-12x", "usd-12"])
def test_moves_on_a_reference_that_is_not_ours_are_refused(webmoney: WebMoneyMerchant, provider_reference: str) -> None:
    with pytest.raises(PaymentRefused) as refused:
        webmoney.refund(provider_reference=provider_reference, amount_minor=100)
    assert refused.value.code == "not_found"
    assert webmoney.find(reference=new_reference(), provider_reference=provider_reference) == PaymentResult(
        status=PaymentStatus.NOT_FOUND
    )


def test_find_of_an_order_never_started(webmoney: WebMoneyMerchant) -> None:
    assert webmoney.find(reference=new_reference()) == PaymentResult(status=PaymentStatus.REQUIRES_ACTION)
    assert webmoney.find(reference="not-an-order-id") == PaymentResult(status=PaymentStatus.NOT_FOUND)


def test_a_test_mode_payment_is_marked_and_only_a_test_configuration_takes_it(
    sandbox: LoopbackServer, browser: httpx.Client, receiver: Receiver
) -> None:
    reference = new_reference()
    with merchant(sandbox.base_url, receiver.url("yes"), test_mode=True) as testing:
        assert press(browser, testing.start(checkout(reference)).form, "pay").status_code == 303
        _, fields = receiver.received_for(str(payment_number(reference)))[-1]
        assert fields["LMI_MODE"] == "1"
        read = testing.read_notification(fields)
        assert (read.test, read.result.status) == (True, PaymentStatus.CAPTURED)
    with merchant(sandbox.base_url) as live, pytest.raises(NotificationRejected) as rejected:
        live.read_notification(fields)
    assert rejected.value.code == "wrong_mode"


@pytest.mark.parametrize(("sim_mode", "paid"), [("1", False), ("2", True), ("0", True)])
def test_lmi_sim_mode_decides_the_outcome_of_a_test_payment(
    webmoney: WebMoneyMerchant, browser: httpx.Client, sim_mode: str, paid: bool
) -> None:
    reference = new_reference()
    while (payment_number(reference) or 0) % 5 == 0:  # SIM_MODE 2 fails those (see the next test)
        reference = new_reference()
    form = webmoney.start(checkout(reference)).form
    assert form is not None
    crafted = PaymentForm(form.action_url, (*form.fields, ("LMI_SIM_MODE", sim_mode)))
    answer = press(browser, crafted, "pay")
    expected = RETURN_URL if paid else CANCEL_URL
    assert answer.headers["location"].startswith(expected)


def test_sim_mode_2_fails_every_fifth_number(webmoney: WebMoneyMerchant, browser: httpx.Client) -> None:
    reference = "0000000000005" + new_reference()[13:]  # LMI_PAYMENT_NO 5
    form = webmoney.start(checkout(reference)).form
    assert form is not None
    crafted = PaymentForm(form.action_url, (*form.fields, ("LMI_SIM_MODE", "2")))
    answer = press(browser, crafted, "pay")
    assert answer.headers["location"] == f"{CANCEL_URL}?LMI_PAYMENT_NO=5"


def test_a_post_return_is_a_page_whose_button_posts_the_fields(
    webmoney: WebMoneyMerchant, browser: httpx.Client
) -> None:
    reference = new_reference()
    form = webmoney.start(checkout(reference)).form
    assert form is not None
    fields = {**dict(form.fields), "LMI_SUCCESS_METHOD": "1"}
    answer = press(browser, PaymentForm(form.action_url, tuple(fields.items())), "pay")
    assert answer.status_code == 200
    assert f'<form method="post" action="{RETURN_URL}">' in answer.text.replace("&amp;", "&")
    assert f'name="LMI_PAYMENT_NO" value="{payment_number(reference)}"' in answer.text
    assert "Return to the seller" in answer.text


def test_the_windows_1251_form_reads_a_cyrillic_description(webmoney: WebMoneyMerchant, browser: httpx.Client) -> None:
    form = webmoney.start(checkout()).form
    assert form is not None
    fields = {name: value for name, value in form.fields if name != "LMI_PAYMENT_DESC_BASE64"}
    body = urlencode(fields | {"LMI_PAYMENT_DESC": "Пополнение счёта"}, encoding="cp1251")
    page = browser.post(
        form.action_url.replace("payment_utf.asp", "payment.asp"),
        content=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 200
    assert "Пополнение счёта" in page.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"LMI_PAYEE_PURSE": "Z999999999999"}, "LMI_PAYEE_PURSE is not a purse of this merchant."),
        ({"LMI_PAYMENT_AMOUNT": "10,25"}, "LMI_PAYMENT_AMOUNT is not a valid amount."),
        ({"LMI_PAYMENT_AMOUNT": "0.00"}, "LMI_PAYMENT_AMOUNT is not a valid amount."),
        ({"LMI_PAYMENT_AMOUNT": "10.255"}, "LMI_PAYMENT_AMOUNT is not a valid amount."),
        ({"LMI_PAYMENT_NO": "12a"}, "LMI_PAYMENT_NO must be a whole number."),
        ({"LMI_PAYMENT_DESC_BASE64": "***"}, "LMI_PAYMENT_DESC_BASE64 is not base64 of UTF-8 text."),
        ({"LMI_PAYMENT_DESC_BASE64": ""}, "The payment needs a description of at most 255 characters."),
        ({"LMI_SUCCESS_URL": "javascript:alert(1)"}, "LMI_SUCCESS_URL must be an absolute http(s) address."),
        ({"LMI_FAIL_METHOD": "3"}, "LMI_SIM_MODE, LMI_SUCCESS_METHOD and LMI_FAIL_METHOD take 0, 1 or 2."),
        ({"FIELD_<b>": "x"}, "A FIELD_ parameter has a bad name or is too long."),
    ],
)
def test_the_sandbox_refuses_a_bad_payment_form(
    webmoney: WebMoneyMerchant, browser: httpx.Client, database_path: Path, changes: dict[str, str], message: str
) -> None:
    reference = new_reference()
    form = webmoney.start(checkout(reference)).form
    assert form is not None
    answer = browser.post(form.action_url, data={**dict(form.fields), **changes})
    assert answer.status_code == 400
    assert f"<p>{message}</p>" in answer.text
    assert invoices_in(database_path, str(payment_number(reference))) == 0


def test_the_sandbox_refuses_an_oversized_form_and_unknown_invoices(
    sandbox: LoopbackServer, browser: httpx.Client
) -> None:
    too_large = browser.post(f"{sandbox.base_url}/lmi/payment_utf.asp", data={"LMI_PAYMENT_DESC": "x" * 20_000})
    assert too_large.status_code == 413
    assert browser.post(f"{sandbox.base_url}/lmi/invoices/nothing", data={"action": "pay"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "retval"),
    [
        (b"<merchant.request><lmi_payee_purse>Z123456789012", "-100"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><merchant.request/>', "-100"),
        (b"<other/>", "-100"),
        (
            b"<merchant.request><lmi_payee_purse>Z999999999999</lmi_payee_purse>"
            b"<lmi_payment_no>1</lmi_payment_no><sha256>00</sha256></merchant.request>",
            "1",
        ),
        (
            b"<merchant.request><lmi_payee_purse>Z123456789012</lmi_payee_purse>"
            b"<lmi_payment_no>1</lmi_payment_no><sha256>" + b"0" * 64 + b"</sha256></merchant.request>",
            "-6",
        ),
    ],
)
def test_the_sandbox_x18_refuses_bad_requests_in_its_own_format(
    sandbox: LoopbackServer, body: bytes, retval: str
) -> None:
    answer = httpx.post(f"{sandbox.base_url}/conf/xml/XMLTransGet.asp", content=body)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert f"<retval>{retval}</retval>".encode() in answer.content


def test_x18_by_webmoney_invoice_number_with_a_lower_case_signature(
    webmoney: WebMoneyMerchant, browser: httpx.Client, sandbox: LoopbackServer, database_path: Path
) -> None:
    reference = new_reference()
    assert press(browser, webmoney.start(checkout(reference)).form, "pay").status_code == 303
    with sqlite3.connect(database_path) as connection:
        (invs_no,) = connection.execute(
            "SELECT invs_no FROM invoices WHERE payment_no = ?", (str(payment_number(reference)),)
        ).fetchone()
    signature = hashlib.sha256(f"Z123456789012{invs_no}{SECRET}".encode()).hexdigest()
    body = (
        f"<merchant.request><wmid/><lmi_payee_purse>Z123456789012</lmi_payee_purse>"
        f"<lmi_payment_no>{invs_no}</lmi_payment_no><lmi_payment_no_type>1</lmi_payment_no_type>"
        f"<sha256>{signature}</sha256></merchant.request>"
    )
    answer = httpx.post(f"{sandbox.base_url}/conf/xml/XMLTransGet.asp", content=body.encode())
    assert f'wminvoiceid="{invs_no}"'.encode() in answer.content
    assert b"<amount>10.25</amount>" in answer.content
    assert f"<operdate>{TRANS_DATE}</operdate>".encode() in answer.content
    assert b"<retval>0</retval>" in answer.content


def test_a_wrong_secret_key_or_purse_is_a_configuration_problem(sandbox: LoopbackServer) -> None:
    with merchant(sandbox.base_url, secret_key="not-the-secret") as stranger:
        with pytest.raises(ProviderUnavailable) as wrong_key:
            stranger.find(reference=new_reference())
        assert wrong_key.value.outcome_unknown is False
        assert "retval -6" in str(wrong_key.value)
        assert "not-the-secret" not in str(wrong_key.value)
        with pytest.raises(ProviderUnavailable) as refund:
            stranger.refund(provider_reference="USD-1", amount_minor=100)
        assert refund.value.outcome_unknown is False
    with merchant(sandbox.base_url, purses={"USD": "Z999999999999"}) as elsewhere:
        with pytest.raises(ProviderUnavailable) as wrong_purse:
            elsewhere.find(reference=new_reference())
        assert wrong_purse.value.outcome_unknown is False


def test_constructor_refuses_a_bad_configuration() -> None:
    valid: dict[str, object] = {"purses": PURSES, "secret_key": SECRET, "result_url": "https://shop.example/result"}
    bad: list[dict[str, object]] = [
        {"purses": {}},
        {"purses": {"USD": "Z12"}},
        {"purses": {"USD": "Z123456789012", "EUR": "Z123456789012"}},
        {"secret_key": ""},
        {"hash_method": "sha1"},
        {"wmid": "12345"},
        {"result_url": "/relative"},
    ]
    for options in bad:
        with pytest.raises(ValueError, match=r"."):
            WebMoneyMerchant("https://merchant.webmoney.ru", **(valid | options))  # type: ignore[arg-type]


def test_stopped_sandbox_is_unreachable_and_nothing_was_sent(own_sandbox: LoopbackServer) -> None:
    own_sandbox.stop()
    with merchant(own_sandbox.base_url, timeout_seconds=2.0) as webmoney:
        with pytest.raises(ProviderUnavailable) as unreachable:
            webmoney.find(reference=new_reference())
        assert unreachable.value.outcome_unknown is False
        with pytest.raises(ProviderUnavailable) as refund:
            webmoney.refund(provider_reference="USD-1", amount_minor=100)
        assert refund.value.outcome_unknown is False


def test_payments_survive_a_restart_of_the_sandbox(
    own_sandbox: LoopbackServer, browser: httpx.Client, receiver: Receiver
) -> None:
    reference = new_reference()
    with merchant(own_sandbox.base_url, receiver.url("yes")) as webmoney:
        assert press(browser, webmoney.start(checkout(reference)).form, "pay").status_code == 303
        before = webmoney.find(reference=reference)
        own_sandbox.stop()
        own_sandbox.start()
        assert webmoney.find(reference=reference) == before
        assert before.status is PaymentStatus.CAPTURED


def _answering(handler: Handler) -> WebMoneyMerchant:
    return merchant("http://webmoney.invalid", transport=httpx.MockTransport(handler))


def _retval(retval: str, operation: str = "") -> bytes:
    return f"<merchant.response>{operation}<retval>{retval}</retval><retdesc/></merchant.response>".encode()


@pytest.mark.parametrize(
    ("handler", "outcome_unknown"),
    [
        *TRANSPORT_FAILURES,
        (responds(500, _retval("0")), True),
        (responds(404, b"Not Found"), False),
        (responds(200, b"<html>not xml"), True),
        (responds(200, b"<!DOCTYPE merchant.response>" + _retval("0")), True),
        (responds(200, b"<merchant.response><retval>zero</retval></merchant.response>"), True),
        (responds(200, _retval("0")), True),  # paid, but no operation
        (responds(200, _retval("0", '<operation wmtransid="1"><amount>ten</amount></operation>')), True),
        (responds(200, _retval("-8")), True),
        (responds(200, _retval("-6")), False),
        (responds(200, _retval("1")), False),
    ],
)
def test_what_a_failure_says_about_the_outcome(handler: Handler, outcome_unknown: bool) -> None:
    with _answering(handler) as webmoney:
        with pytest.raises(ProviderUnavailable) as find_failure:
            webmoney.find(reference=new_reference(), provider_reference="USD-1")
        assert find_failure.value.outcome_unknown is outcome_unknown
        with pytest.raises(ProviderUnavailable) as refund_failure:
            webmoney.refund(provider_reference="USD-1", amount_minor=100)
        assert refund_failure.value.outcome_unknown is outcome_unknown
        assert SECRET not in str(refund_failure.value)


def test_a_rejected_payment_is_declined() -> None:
    with _answering(responds(200, _retval("13"))) as webmoney:
        found = webmoney.find(reference=new_reference(), provider_reference="RUB-7")
    assert (found.status, found.raw_code, found.provider_reference) == (PaymentStatus.DECLINED, "13", "RUB-7")


def test_x18_request_is_signed_over_wmid_purse_number_and_secret() -> None:
    seen: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, content=_retval("8"))

    with merchant("http://webmoney.invalid", wmid="123456789012", transport=httpx.MockTransport(handle)) as webmoney:
        assert webmoney.find(reference="0" * 32).status is PaymentStatus.REQUIRES_ACTION
    assert len(seen) == 3  # not found: every purse was asked, in currency order
    signature = hashlib.sha256(f"123456789012E1234567890120{SECRET}".encode()).hexdigest().upper()
    assert seen[0] == (
        b"<?xml version='1.0' encoding='utf-8'?>\n<merchant.request><wmid>123456789012</wmid>"
        b"<lmi_payee_purse>E123456789012</lmi_payee_purse><lmi_payment_no>0</lmi_payment_no>"
        b"<lmi_payment_no_type>0</lmi_payment_no_type><sha256>" + signature.encode() + b"</sha256></merchant.request>"
    )


class TestReadNotification:
    def test_a_genuine_notification_verifies(self, offline: WebMoneyMerchant) -> None:
        reference = new_reference()
        read = offline.read_notification(notification(reference))
        assert (read.prerequest, read.reference, read.amount_minor, read.sys_trans_no) == (
            False,
            reference,
            1_025,
            "4413",
        )
        assert read.result.status is PaymentStatus.CAPTURED
        assert read.result.provider_reference == f"USD-{payment_number(reference)}"

    def test_an_md5_purse_verifies_md5_and_refuses_sha256(self) -> None:
        reference = new_reference()
        with merchant("https://merchant.webmoney.ru", hash_method="md5") as webmoney:
            assert webmoney.read_notification(notification(reference, method="md5")).amount_minor == 1_025
            with pytest.raises(NotificationRejected) as sha:
                webmoney.read_notification(notification(reference))
            assert sha.value.code == "bad_signature"

    @pytest.mark.parametrize(
        ("changes", "code"),
        [
            ({"LMI_PAYMENT_AMOUNT": "1025.00"}, "bad_signature"),  # tampered after signing
            ({"LMI_PAYER_WM": "000000000002"}, "bad_signature"),
            ({"LMI_HASH": "0" * 64}, "bad_signature"),
            ({"LMI_HASH": "not a hash"}, "bad_signature"),
            ({"LMI_HASH": "A" * 132}, "signature_not_checkable"),
            ({"LMI_PAYEE_PURSE": "Z999999999999"}, "unknown_purse"),
            ({"LMI_SYS_TRANS_NO": ""}, "malformed"),
            ({"LMI_PREREQUEST": "yes"}, "malformed"),
        ],
    )
    def test_a_tampered_or_foreign_notification_is_rejected(
        self, offline: WebMoneyMerchant, changes: dict[str, str], code: str
    ) -> None:
        with pytest.raises(NotificationRejected) as rejected:
            offline.read_notification(notification(new_reference(), **changes))
        assert rejected.value.code == code
        assert SECRET not in str(rejected.value)

    def test_md5_instead_of_sha256_is_not_accepted(self, offline: WebMoneyMerchant) -> None:
        with pytest.raises(NotificationRejected) as rejected:
            offline.read_notification(notification(new_reference(), method="md5"))
        assert rejected.value.code == "bad_signature"

    @pytest.mark.parametrize(
        ("signed", "code"),
        [
            ({"LMI_MODE": "1"}, "wrong_mode"),
            ({"LMI_MODE": "2"}, "malformed"),
            ({"LMI_PAYMENT_AMOUNT": "10.255"}, "malformed"),
            ({"LMI_PAYMENT_AMOUNT": "0.00"}, "malformed"),
            ({"LMI_SYS_TRANS_DATE": "2026-11-23 13:00:00"}, "malformed"),
            ({"LMI_PAYER_WM": "00000000000" + "1\x80"}, "malformed"),
            ({"LMI_PAYMENT_NO": "123"}, "reference_mismatch"),  # FIELD_REFERENCE is outside the hash
        ],
    )
    def test_a_signed_notification_that_does_not_fit_is_rejected(
        self, offline: WebMoneyMerchant, signed: dict[str, str], code: str
    ) -> None:
        reference = new_reference()
        fields = notification(reference) | signed
        fields["LMI_HASH"] = classic_hash(fields, SECRET)
        with pytest.raises(NotificationRejected) as rejected:
            offline.read_notification(fields)
        assert rejected.value.code == code

    def test_a_test_configuration_takes_test_and_live_payments(self) -> None:
        reference = new_reference()
        fields = notification(reference) | {"LMI_MODE": "1"}
        fields["LMI_HASH"] = classic_hash(fields, SECRET)
        with merchant("https://merchant.webmoney.ru", test_mode=True) as testing:
            assert testing.read_notification(fields).test is True
            assert testing.read_notification(notification(reference)).test is False

    def test_the_pre_request_carries_no_hash_and_is_not_a_payment(self, offline: WebMoneyMerchant) -> None:
        reference = new_reference()
        fields = {
            "LMI_PREREQUEST": "1",
            "LMI_PAYEE_PURSE": PURSES["RUB"],
            "LMI_PAYMENT_AMOUNT": "100.5",
            "LMI_PAYMENT_NO": str(payment_number(reference)),
            "LMI_MODE": "0",
            "FIELD_REFERENCE": reference,
        }
        read = offline.read_notification(fields)
        assert (read.prerequest, read.amount_minor, read.currency, read.sys_invs_no, read.trans_date) == (
            True,
            10_050,
            "RUB",
            None,
            None,
        )
        assert read.result == PaymentResult(
            status=PaymentStatus.REQUIRES_ACTION,
            provider_reference=f"RUB-{payment_number(reference)}",
            amount_minor=10_050,
            currency="RUB",
        )
        with pytest.raises(NotificationRejected) as missing:
            offline.read_notification({k: v for k, v in fields.items() if k != "LMI_MODE"})
        assert missing.value.code == "malformed"
        with pytest.raises(NotificationRejected) as unsigned:
            offline.read_notification({k: v for k, v in fields.items() if k != "LMI_PREREQUEST"})
        assert unsigned.value.code == "malformed"  # a notification without LMI_HASH and LMI_SYS_*
