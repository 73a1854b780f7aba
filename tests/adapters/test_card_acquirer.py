"""The HTTP card acquirer against the sandbox acquirer, served for real by uvicorn on loopback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.adapters.support import TRANSPORT_FAILURES, Handler, new_reference, raises, responds
from tests.loopback import LoopbackServer
from topup.adapters.payments.card_acquirer import HttpCardAcquirer
from topup.adapters.payments.sandbox_acquirer import create_sandbox_acquirer
from topup.services.payments import CardDetails, PaymentRefused, PaymentResult, PaymentStatus, ProviderUnavailable

SECRET = "sandbox-test-secret"
RETURN_URL = "https://shop.example/checkout/return?order=o-1"
FUTURE_YEAR = datetime.now(UTC).year + 3

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
CHALLENGE = "4000000000003220"
LOST_RESPONSE = "4000000000000341"


class SandboxServer(LoopbackServer):
    """The sandbox acquirer on loopback; can stop and start again on the same port and database."""

    def __init__(self, database_path: Path) -> None:
        self.database_path = database_path
        super().__init__(
            lambda base_url: create_sandbox_acquirer(database_path, secret=SECRET, public_base_url=base_url)
        )

    def payments_for(self, reference: str) -> int:
        with sqlite3.connect(self.database_path) as connection:
            (count,) = connection.execute("SELECT count(*) FROM payments WHERE reference = ?", (reference,)).fetchone()
        return int(count)

    def stored_bytes(self) -> bytes:
        """The database as it lies on disk, write-ahead log included."""
        files = [self.database_path, *self.database_path.parent.glob(f"{self.database_path.name}-*")]
        return b"".join(path.read_bytes() for path in files)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    server = SandboxServer(tmp_path_factory.mktemp("sandbox") / "acquirer.sqlite")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """A sandbox a test may stop and restart."""
    server = SandboxServer(tmp_path / "acquirer.sqlite")
    server.start()
    yield server
    if server.running:
        server.stop()


@pytest.fixture
def acquirer(sandbox: SandboxServer) -> Iterator[HttpCardAcquirer]:
    with HttpCardAcquirer(sandbox.base_url, secret=SECRET, timeout_seconds=5.0) as client:
        yield client


@pytest.fixture
def browser(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """The customer's browser: no credentials, does not follow redirects by itself."""
    with httpx.Client(base_url=sandbox.base_url, timeout=5.0) as client:
        yield client


def card(number: str, *, expiry_month: int = 12, expiry_year: int = FUTURE_YEAR, cvc: str = "123") -> CardDetails:
    return CardDetails(number=number, expiry_month=expiry_month, expiry_year=expiry_year, cvc=cvc)


def authorise(
    acquirer: HttpCardAcquirer,
    number: str,
    *,
    reference: str | None = None,
    amount_minor: int = 1_000,
    expiry_year: int = FUTURE_YEAR,
    cvc: str = "123",
) -> PaymentResult:
    return acquirer.authorise(
        reference=reference or new_reference(),
        amount_minor=amount_minor,
        currency="AZN",
        card=card(number, expiry_year=expiry_year, cvc=cvc),
        return_url=RETURN_URL,
    )


def test_frictionless_payment_is_authorised_captured_then_refunded_in_two_parts(
    acquirer: HttpCardAcquirer, sandbox: SandboxServer
) -> None:
    reference = new_reference()
    held = authorise(acquirer, VISA, reference=reference, amount_minor=2_500)
    assert held.status is PaymentStatus.AUTHORISED
    assert (held.brand, held.last_four, held.redirect_url, held.decline_code) == ("visa", "4242", None, None)
    assert held.provider_reference is not None
    payment = held.provider_reference

    assert acquirer.capture(provider_reference=payment, amount_minor=2_000).status is PaymentStatus.CAPTURED
    assert acquirer.refund(provider_reference=payment, amount_minor=500).status is PaymentStatus.CAPTURED
    assert acquirer.refund(provider_reference=payment, amount_minor=1_500).status is PaymentStatus.REFUNDED

    raw = httpx.get(f"{sandbox.base_url}/payments/{payment}", headers={"Authorization": f"Bearer {SECRET}"}).json()
    assert (raw["amount"], raw["captured_amount"], raw["refunded_amount"]) == (2_500, 2_000, 2_000)
    assert acquirer.find(reference=reference).status is PaymentStatus.REFUNDED


def test_capture_and_refund_repeated_change_nothing_and_more_than_allowed_is_refused(
    acquirer: HttpCardAcquirer,
) -> None:
    payment = authorise(acquirer, MASTERCARD, amount_minor=1_000)
    assert (payment.brand, payment.last_four) == ("mastercard", "4444")
    assert payment.provider_reference is not None
    with pytest.raises(PaymentRefused) as over_capture:
        acquirer.capture(provider_reference=payment.provider_reference, amount_minor=1_001)
    assert over_capture.value.code == "invalid_amount"

    for _ in range(2):
        captured = acquirer.capture(provider_reference=payment.provider_reference, amount_minor=1_000)
        assert captured.status is PaymentStatus.CAPTURED
    with pytest.raises(PaymentRefused) as over_refund:
        acquirer.refund(provider_reference=payment.provider_reference, amount_minor=1_001)
    assert over_refund.value.code == "invalid_amount"
    for _ in range(2):
        refunded = acquirer.refund(provider_reference=payment.provider_reference, amount_minor=1_000)
        assert refunded.status is PaymentStatus.REFUNDED


def test_void_releases_the_hold_once_and_nothing_can_be_captured_after(acquirer: HttpCardAcquirer) -> None:
    payment = authorise(acquirer, VISA)
    assert payment.provider_reference is not None
    assert acquirer.void(provider_reference=payment.provider_reference).status is PaymentStatus.VOIDED
    assert acquirer.void(provider_reference=payment.provider_reference).status is PaymentStatus.VOIDED
    with pytest.raises(PaymentRefused) as refused:
        acquirer.capture(provider_reference=payment.provider_reference, amount_minor=1_000)
    assert refused.value.code == "invalid_state"


@pytest.mark.parametrize(
    ("number", "expiry_year", "decline_code", "raw_code"),
    [
        ("4000000000000002", FUTURE_YEAR, "card_declined", "05"),
        ("4000000000009995", FUTURE_YEAR, "insufficient_funds", "51"),
        ("4000000000000069", FUTURE_YEAR, "expired_card", "54"),
        ("4000000000000127", FUTURE_YEAR, "incorrect_cvc", "N7"),
        ("4000000000000119", FUTURE_YEAR, "processing_error", "96"),
        (VISA, 2020, "expired_card", "54"),  # a good card past its expiry
    ],
)
def test_decline_cards_give_their_reason_and_network_code(
    acquirer: HttpCardAcquirer, number: str, expiry_year: int, decline_code: str, raw_code: str
) -> None:
    result = authorise(acquirer, number, expiry_year=expiry_year)
    assert result.status is PaymentStatus.DECLINED
    assert (result.decline_code, result.raw_code, result.last_four) == (decline_code, raw_code, number[-4:])
    assert result.message
    assert result.provider_reference is not None


def test_capture_of_a_declined_payment_is_refused(acquirer: HttpCardAcquirer) -> None:
    reference = new_reference()
    declined = authorise(acquirer, "4000000000000002", reference=reference)
    assert declined.provider_reference is not None
    with pytest.raises(PaymentRefused) as refused:
        acquirer.capture(provider_reference=declined.provider_reference, amount_minor=1_000)
    assert refused.value.code == "invalid_state"
    assert acquirer.find(reference=reference) == declined


def test_moves_on_an_unknown_payment_are_refused(acquirer: HttpCardAcquirer) -> None:
    with pytest.raises(PaymentRefused) as refused:
        acquirer.void(provider_reference="pay_nothing")
    assert refused.value.code == "not_found"


def test_authorising_the_same_reference_twice_returns_the_first_payment(
    acquirer: HttpCardAcquirer, sandbox: SandboxServer
) -> None:
    reference = new_reference()
    first = authorise(acquirer, VISA, reference=reference)
    again = authorise(acquirer, VISA, reference=reference)
    assert again == first
    assert sandbox.payments_for(reference) == 1

    with pytest.raises(PaymentRefused) as refused:
        authorise(acquirer, VISA, reference=reference, amount_minor=9_999)
    assert refused.value.code == "idempotency_conflict"
    assert sandbox.payments_for(reference) == 1


def test_challenge_approved_with_the_code_authorises(
    acquirer: HttpCardAcquirer, browser: httpx.Client, sandbox: SandboxServer
) -> None:
    reference = new_reference()
    pending = authorise(acquirer, CHALLENGE, reference=reference)
    assert pending.status is PaymentStatus.REQUIRES_ACTION
    assert pending.redirect_url == f"{sandbox.base_url}/challenge/{pending.provider_reference}"

    page = browser.get(pending.redirect_url)
    assert page.status_code == 200
    assert "Sandbox 3-D Secure" in page.text
    assert "One-time code" in page.text
    assert "1234" in page.text

    answer = browser.post(pending.redirect_url, data={"otp": "1234", "action": "approve"})
    assert answer.status_code == 303
    assert answer.headers["location"] == (f"{RETURN_URL}&payment={pending.provider_reference}&status=authorised")
    found = acquirer.find(reference=reference)
    assert (found.status, found.provider_reference, found.redirect_url) == (
        PaymentStatus.AUTHORISED,
        pending.provider_reference,
        None,
    )
    # A second submission of the form changes nothing and sends the customer back all the same.
    again = browser.post(pending.redirect_url, data={"otp": "0000", "action": "approve"})
    assert again.headers["location"] == answer.headers["location"]
    assert browser.get(pending.redirect_url).status_code == 409


@pytest.mark.parametrize(
    ("form", "decline_code"),
    [
        ({"otp": "9999", "action": "approve"}, "authentication_failed"),
        ({"otp": "", "action": "cancel"}, "authentication_cancelled"),
    ],
)
def test_challenge_failed_or_cancelled_declines(
    acquirer: HttpCardAcquirer, browser: httpx.Client, form: dict[str, str], decline_code: str
) -> None:
    reference = new_reference()
    pending = authorise(acquirer, CHALLENGE, reference=reference)
    assert pending.redirect_url is not None
    answer = browser.post(pending.redirect_url, data=form)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"&payment={pending.provider_reference}&status=declined")
    found = acquirer.find(reference=reference)
    assert (found.status, found.decline_code, found.raw_code) == (PaymentStatus.DECLINED, decline_code, "N")


def test_challenge_page_of_an_unknown_payment_is_not_found(browser: httpx.Client) -> None:
    assert browser.get("/challenge/pay_nothing").status_code == 404
    assert browser.post("/challenge/pay_nothing", data={"otp": "1234", "action": "approve"}).status_code == 404


def test_lost_response_card_drops_the_connection_without_an_answer(sandbox: SandboxServer) -> None:
    body = {
        "reference": new_reference(),
        "amount": 100,
        "currency": "USD",
        "card": {"number": LOST_RESPONSE, "expiry_month": 1, "expiry_year": FUTURE_YEAR, "cvc": "123"},
        "return_url": RETURN_URL,
    }
    headers = {"Authorization": f"Bearer {SECRET}", "Idempotency-Key": str(body["reference"])}
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.post(f"{sandbox.base_url}/payments", json=body, headers=headers)


def test_lost_response_is_an_unknown_outcome_that_find_settles(acquirer: HttpCardAcquirer) -> None:
    reference = new_reference()
    with pytest.raises(ProviderUnavailable) as lost:
        authorise(acquirer, LOST_RESPONSE, reference=reference)
    assert lost.value.outcome_unknown is True
    assert LOST_RESPONSE not in str(lost.value)

    found = acquirer.find(reference=reference)
    assert found.status is PaymentStatus.AUTHORISED
    assert found.last_four == "0341"
    assert authorise(acquirer, LOST_RESPONSE, reference=reference) == found  # the retry answers this time


def test_find_of_an_unknown_reference_is_not_found(acquirer: HttpCardAcquirer) -> None:
    assert acquirer.find(reference=new_reference()) == PaymentResult(status=PaymentStatus.NOT_FOUND)


def test_wrong_secret_is_a_configuration_problem_not_an_unknown_outcome(sandbox: SandboxServer) -> None:
    with HttpCardAcquirer(sandbox.base_url, secret="not-the-secret") as stranger:
        with pytest.raises(ProviderUnavailable) as refused:
            authorise(stranger, VISA)
        assert refused.value.outcome_unknown is False
        assert "401" in str(refused.value)
        assert "unauthorised" in str(refused.value)
        with pytest.raises(ProviderUnavailable, match="unauthorised"):
            stranger.find(reference=new_reference())
    assert httpx.post(f"{sandbox.base_url}/payments", content=b"{not json").status_code == 401


def test_invalid_card_number_is_refused_without_echoing_it(acquirer: HttpCardAcquirer, sandbox: SandboxServer) -> None:
    reference = new_reference()
    with pytest.raises(ProviderUnavailable) as refused:
        authorise(acquirer, "4242424242424241", reference=reference)
    assert refused.value.outcome_unknown is False
    assert "invalid_card" in str(refused.value)
    assert "4242424242424241" not in str(refused.value)
    assert sandbox.payments_for(reference) == 0


def test_card_numbers_are_never_stored(acquirer: HttpCardAcquirer, sandbox: SandboxServer) -> None:
    numbers = [VISA, MASTERCARD, CHALLENGE, "4000000000000002", "4000000000009995", "4000000000000119"]
    for number in numbers:
        authorise(acquirer, number, cvc="987")
    stored = sandbox.stored_bytes()
    assert stored  # the database is where we think it is
    for number in numbers:
        assert number.encode() not in stored
        assert number.encode("utf-16-le") not in stored


def test_stopped_sandbox_is_unreachable_and_nothing_was_sent(own_sandbox: SandboxServer) -> None:
    own_sandbox.stop()
    with HttpCardAcquirer(own_sandbox.base_url, secret=SECRET, timeout_seconds=2.0) as acquirer:
        with pytest.raises(ProviderUnavailable) as unreachable:
            authorise(acquirer, VISA)
        assert unreachable.value.outcome_unknown is False
        with pytest.raises(ProviderUnavailable) as still_unreachable:
            acquirer.find(reference=new_reference())
        assert still_unreachable.value.outcome_unknown is False


def test_payments_survive_a_restart_of_the_sandbox(own_sandbox: SandboxServer) -> None:
    reference = new_reference()
    with HttpCardAcquirer(own_sandbox.base_url, secret=SECRET, timeout_seconds=5.0) as acquirer:
        before = authorise(acquirer, VISA, reference=reference)
        own_sandbox.stop()
        own_sandbox.start()
        assert acquirer.find(reference=reference) == before
        assert before.provider_reference is not None
        captured = acquirer.capture(provider_reference=before.provider_reference, amount_minor=1_000)
        assert captured.status is PaymentStatus.CAPTURED


def _answering(handler: Handler) -> HttpCardAcquirer:
    return HttpCardAcquirer("http://acquirer.invalid", secret=SECRET, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("handler", "outcome_unknown"),
    [
        *TRANSPORT_FAILURES,
        (raises(httpx.ReadError("reset")), True),
        (responds(500, b"{}"), True),
        (responds(200, b"<html>not json</html>"), True),
        (responds(201, b'{"id": "pay_1", "reference": "someone-else", "status": "authorised"}'), True),
        (responds(400, b'{"error": {"code": "invalid_request"}}'), False),
    ],
)
def test_what_a_failure_says_about_the_outcome(handler: Handler, outcome_unknown: bool) -> None:
    with _answering(handler) as acquirer, pytest.raises(ProviderUnavailable) as failure:
        authorise(acquirer, VISA)
    assert failure.value.outcome_unknown is outcome_unknown
    assert VISA not in str(failure.value)


def test_a_404_that_is_not_the_acquirers_own_does_not_mean_not_found() -> None:
    wrong_address = responds(404, b'{"detail": "Not Found"}')
    with _answering(wrong_address) as acquirer, pytest.raises(ProviderUnavailable) as failure:
        acquirer.find(reference=new_reference())
    assert failure.value.outcome_unknown is False


def test_a_bare_404_on_a_move_is_a_configuration_problem() -> None:
    with _answering(responds(404, b"Not Found")) as acquirer, pytest.raises(ProviderUnavailable) as failure:
        acquirer.capture(provider_reference="pay_1", amount_minor=100)
    assert failure.value.outcome_unknown is False
