"""Google Pay: ECv2 tokens sealed and opened; charged through the sandbox acquirer over loopback; the sandbox
payment sheet driven by a plain httpx client acting as the browser."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.adapters.support import new_reference, responds
from tests.loopback import LoopbackServer
from topup.adapters.clock import FixedClock
from topup.adapters.payments.card_acquirer import HttpCardAcquirer
from topup.adapters.payments.google_pay import GooglePaySheet
from topup.adapters.payments.google_pay_token import (
    REASONS,
    SANDBOX_GATEWAY_ID,
    AuthMethod,
    GooglePayTokenIssuer,
    GooglePayTokenOpener,
    RootSigningKey,
    SandboxGooglePayKeys,
    TokenInvalid,
    root_keys_from_json,
)
from topup.adapters.payments.sandbox_acquirer import create_sandbox_acquirer, default_google_pay_keys_dir
from topup.adapters.payments.sandbox_googlepay import create_sandbox_googlepay
from topup.services.payments import Checkout, PaymentRefused, PaymentResult, PaymentStatus, ProviderUnavailable

SECRET = "sandbox-test-secret"
MERCHANT_ID = "topup-merchant-1"
RETURN_URL = "https://shop.example/checkout/google-pay?order=o-1"
CANCEL_URL = "https://shop.example/checkout/cancelled?order=o-1"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FUTURE_YEAR = datetime.now(UTC).year + 3

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
CHALLENGE = "4000000000003220"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
LOST_RESPONSE = "4000000000000341"


# --- the token itself --------------------------------------------------------------------------------------


class Keys:
    """A fresh set of keys: Google's side and the gateway's side."""

    def __init__(self, *, gateway_id: str = "examplegateway", key_lifetime: timedelta = timedelta(days=7)) -> None:
        self.recipient = ec.generate_private_key(ec.SECP256R1())
        self.issuer = GooglePayTokenIssuer(
            root_signing_key=ec.generate_private_key(ec.SECP256R1()),
            intermediate_signing_key=ec.generate_private_key(ec.SECP256R1()),
            recipient_public_key=self.recipient.public_key(),
            gateway_id=gateway_id,
            intermediate_key_lifetime=key_lifetime,
        )

    def opener(
        self,
        *,
        recipient_id: str = "gateway:examplegateway",
        root_keys: list[RootSigningKey] | None = None,
        recipient: ec.EllipticCurvePrivateKey | None = None,
    ) -> GooglePayTokenOpener:
        return GooglePayTokenOpener(
            root_keys=root_keys or [self.issuer.root_key],
            recipient_private_key=recipient or self.recipient,
            recipient_id=recipient_id,
        )

    def token(self, *, auth_method: AuthMethod = "PAN_ONLY", pan: str = VISA, now: datetime = NOW) -> str:
        return self.issuer.issue(
            pan=pan,
            expiry_month=12,
            expiry_year=2029,
            auth_method=auth_method,
            gateway_merchant_id=MERCHANT_ID,
            now=now,
            eci="05" if auth_method == "CRYPTOGRAM_3DS" else None,
        )


def reason_of(opener: GooglePayTokenOpener, token: str, now: datetime = NOW) -> str:
    with pytest.raises(TokenInvalid) as invalid:
        opener.open(token, now)
    assert invalid.value.reason in REASONS
    assert VISA not in str(invalid.value)
    return invalid.value.reason


def tampered(token: str, change: Callable[[dict[str, Any]], None]) -> str:
    envelope = json.loads(token)
    change(envelope)
    return json.dumps(envelope)


def flipped(encoded: str, index: int = 10) -> str:
    """`encoded` (base64) with one bit of one byte changed."""
    raw = bytearray(base64.b64decode(encoded))
    raw[index] ^= 0x01
    return base64.b64encode(raw).decode()


def test_a_token_opens_to_the_card_it_was_issued_for() -> None:
    keys = Keys()
    opener = keys.opener()
    device = opener.open(keys.token(auth_method="CRYPTOGRAM_3DS"), NOW)
    assert (device.pan, device.expiry_month, device.expiry_year) == (VISA, 12, 2029)
    assert (device.auth_method, device.eci, device.gateway_merchant_id) == ("CRYPTOGRAM_3DS", "05", MERCHANT_ID)
    assert device.cryptogram is not None
    assert len(base64.b64decode(device.cryptogram)) == 20
    assert device.message_expiration == NOW + timedelta(hours=1)
    assert VISA not in repr(device)
    assert device.cryptogram not in repr(device)
    assert repr(device).startswith("DecryptedPayment(pan=…4242, auth_method=CRYPTOGRAM_3DS,")

    on_file = opener.open(keys.token(pan=MASTERCARD), NOW)
    assert (on_file.pan, on_file.auth_method, on_file.cryptogram, on_file.eci) == (MASTERCARD, "PAN_ONLY", None, None)
    assert on_file.message_id != device.message_id


def test_the_token_has_the_ecv2_shape_and_no_card_number_in_clear() -> None:
    token = Keys().token()
    envelope = json.loads(token)
    assert envelope["protocolVersion"] == "ECv2"
    assert set(envelope) == {"protocolVersion", "signature", "intermediateSigningKey", "signedMessage"}
    assert set(json.loads(envelope["signedMessage"])) == {"encryptedMessage", "ephemeralPublicKey", "tag"}
    signed_key = json.loads(envelope["intermediateSigningKey"]["signedKey"])
    assert int(signed_key["keyExpiration"]) == int((NOW + timedelta(days=7)).timestamp() * 1000)
    ephemeral = base64.b64decode(json.loads(envelope["signedMessage"])["ephemeralPublicKey"])
    assert (len(ephemeral), ephemeral[0]) == (65, 0x04)  # an uncompressed P-256 point
    assert VISA not in token


def test_the_message_expires_after_an_hour_to_the_millisecond() -> None:
    keys = Keys()
    opener, token = keys.opener(), keys.token()
    assert opener.open(token, NOW + timedelta(hours=1) - timedelta(milliseconds=1)).pan == VISA
    assert reason_of(opener, token, NOW + timedelta(hours=1)) == "expired"


def test_an_expired_intermediate_key_is_refused() -> None:
    keys = Keys(key_lifetime=timedelta(minutes=30))
    token = keys.token()
    assert reason_of(keys.opener(), token, NOW + timedelta(minutes=30)) == "intermediate_key_expired"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda token: tampered(token, _flip_encrypted_message), "message_signature"),
        (lambda token: tampered(token, _flip_signature), "message_signature"),
        (lambda token: tampered(token, _flip_intermediate_signature), "intermediate_key_signature"),
        (lambda token: tampered(token, _extend_intermediate_key), "intermediate_key_signature"),
        (lambda token: tampered(token, _protocol("ECv1")), "protocol_version"),
        (lambda token: "not json", "malformed"),
        (lambda token: "[]", "malformed"),
        (lambda token: tampered(token, lambda envelope: envelope.pop("signature")), "malformed"),
        (lambda token: tampered(token, _signature("not base64!")), "malformed"),
        (lambda token: tampered(token, _key_signatures([])), "malformed"),
        (lambda token: "[" * 20_000, "malformed"),
    ],
    ids=[
        "signed-message",
        "signature",
        "intermediate-signature",
        "intermediate-key-expiry",
        "protocol-version",
        "not-json",
        "not-an-object",
        "no-signature",
        "signature-not-base64",
        "no-intermediate-signatures",
        "too-long",
    ],
)
def test_a_tampered_token_is_refused_with_its_reason(change: Callable[[str], str], reason: str) -> None:
    keys = Keys()
    assert reason_of(keys.opener(), change(keys.token())) == reason


def test_a_token_for_another_recipient_id_fails_the_message_signature() -> None:
    keys = Keys()
    assert reason_of(keys.opener(recipient_id="gateway:othergateway"), keys.token()) == "message_signature"


def test_a_token_signed_under_another_root_key_fails_the_intermediate_key_check() -> None:
    keys, stranger = Keys(), Keys()
    assert reason_of(keys.opener(root_keys=[stranger.issuer.root_key]), keys.token()) == "intermediate_key_signature"


def test_an_expired_root_key_is_not_trusted() -> None:
    keys = Keys()
    expired_root = RootSigningKey(public_key=keys.issuer.root_key.public_key, expiration=NOW)
    assert reason_of(keys.opener(root_keys=[expired_root]), keys.token()) == "intermediate_key_signature"


def test_a_token_sealed_for_another_recipient_key_fails_the_mac() -> None:
    keys = Keys()
    other_recipient = ec.generate_private_key(ec.SECP256R1())
    assert reason_of(keys.opener(recipient=other_recipient), keys.token()) == "mac"


@pytest.mark.parametrize(
    "plaintext",
    [
        b"not json",
        b"\xff\xfe",
        b'{"messageExpiration": "1", "messageId": "m", "paymentMethod": "CARD"}',
        json.dumps(
            {
                "messageExpiration": "9999999999999",
                "messageId": "m",
                "paymentMethod": "CARD",
                "paymentMethodDetails": {"pan": VISA, "expirationMonth": 13, "expirationYear": 2029},
            }
        ).encode(),
        json.dumps(
            {
                "messageExpiration": "9999999999999",
                "messageId": "m",
                "paymentMethod": "CARD",
                "paymentMethodDetails": {
                    "pan": VISA,
                    "expirationMonth": 12,
                    "expirationYear": 2029,
                    "authMethod": "CRYPTOGRAM_3DS",  # without its cryptogram
                },
            }
        ).encode(),
    ],
)
def test_a_signed_payload_that_is_no_card_payment_fails_decryption(plaintext: bytes) -> None:
    keys = Keys()
    assert reason_of(keys.opener(), keys.issuer.seal(plaintext, now=NOW)) == "decryption"


def test_the_opener_needs_an_ecv2_root_key() -> None:
    keys = Keys()
    ecv1 = RootSigningKey(public_key=keys.issuer.root_key.public_key, protocol_version="ECv1")
    with pytest.raises(ValueError, match="ECv2"):
        keys.opener(root_keys=[ecv1])


def test_root_keys_load_from_googles_keys_json_format() -> None:
    keys = Keys()
    der = keys.issuer.root_key.public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    root = base64.b64encode(der).decode()
    text = json.dumps(
        {
            "keys": [
                {"keyValue": root, "protocolVersion": "ECv1"},
                {"keyValue": root, "protocolVersion": "ECv2", "keyExpiration": str(int(NOW.timestamp() * 1000) + 1)},
            ]
        }
    )
    loaded = root_keys_from_json(text)
    assert [key.protocol_version for key in loaded] == ["ECv1", "ECv2"]
    assert loaded[1].expiration == NOW + timedelta(milliseconds=1)
    assert keys.opener(root_keys=list(loaded)).open(keys.token(), NOW).pan == VISA
    assert reason_of(keys.opener(root_keys=list(loaded)), keys.token(), NOW + timedelta(seconds=1)) == (
        "intermediate_key_signature"
    )


def test_sandbox_keys_are_created_once_and_kept(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    first = SandboxGooglePayKeys.load_or_create(directory)
    token = first.issuer("somegateway").issue(
        pan=VISA, expiry_month=1, expiry_year=2030, auth_method="PAN_ONLY", gateway_merchant_id="m", now=NOW
    )
    again = SandboxGooglePayKeys.load_or_create(directory)  # as after a restart
    assert again.opener("somegateway").open(token, NOW).pan == VISA
    assert sorted(path.name for path in directory.iterdir()) == ["intermediate.pem", "recipient.pem", "root.pem"]
    for path in directory.iterdir():
        assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert reason_of(again.opener("othergateway"), token) == "message_signature"


def _flip_encrypted_message(envelope: dict[str, Any]) -> None:
    message = json.loads(envelope["signedMessage"])
    message["encryptedMessage"] = flipped(message["encryptedMessage"])
    envelope["signedMessage"] = json.dumps(message, separators=(",", ":"))


def _flip_signature(envelope: dict[str, Any]) -> None:
    envelope["signature"] = flipped(envelope["signature"])


def _flip_intermediate_signature(envelope: dict[str, Any]) -> None:
    signatures = envelope["intermediateSigningKey"]["signatures"]
    signatures[0] = flipped(signatures[0])


def _extend_intermediate_key(envelope: dict[str, Any]) -> None:
    signed_key = json.loads(envelope["intermediateSigningKey"]["signedKey"])
    signed_key["keyExpiration"] = str(int(signed_key["keyExpiration"]) + 86_400_000)
    envelope["intermediateSigningKey"]["signedKey"] = json.dumps(signed_key, separators=(",", ":"))


def _protocol(version: str) -> Callable[[dict[str, Any]], None]:
    return lambda envelope: envelope.update(protocolVersion=version)


def _signature(value: str) -> Callable[[dict[str, Any]], None]:
    return lambda envelope: envelope.update(signature=value)


def _key_signatures(values: list[str]) -> Callable[[dict[str, Any]], None]:
    return lambda envelope: envelope["intermediateSigningKey"].update(signatures=values)


# --- charging a token at the sandbox acquirer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("google-pay-keys")


@pytest.fixture(scope="module")
def acquirer_server(tmp_path_factory: pytest.TempPathFactory, keys_dir: Path) -> Iterator[LoopbackServer]:
    database = tmp_path_factory.mktemp("acquirer") / "acquirer.sqlite"
    server = LoopbackServer(
        lambda base_url: create_sandbox_acquirer(
            database,
            secret=SECRET,
            public_base_url=base_url,
            google_pay_keys_dir=keys_dir,
            google_pay_merchant_id=MERCHANT_ID,
        )
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sheet_server(keys_dir: Path) -> Iterator[LoopbackServer]:
    server = LoopbackServer(
        lambda base_url: create_sandbox_googlepay(
            keys_dir, gateway_id=SANDBOX_GATEWAY_ID, gateway_merchant_id=MERCHANT_ID, public_base_url=base_url
        )
    ).start()
    yield server
    server.stop()


@pytest.fixture
def acquirer(acquirer_server: LoopbackServer) -> Iterator[HttpCardAcquirer]:
    with HttpCardAcquirer(acquirer_server.base_url, secret=SECRET, timeout_seconds=5.0) as client:
        yield client


@pytest.fixture
def issuer(keys_dir: Path) -> GooglePayTokenIssuer:
    """Google, as the sandbox plays it: the same keys the sandbox acquirer opens tokens with."""
    return SandboxGooglePayKeys.load_or_create(keys_dir).issuer(SANDBOX_GATEWAY_ID)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """The customer's browser: no credentials, does not follow redirects by itself."""
    with httpx.Client(timeout=5.0) as client:
        yield client


def token_for(
    issuer: GooglePayTokenIssuer,
    pan: str,
    auth_method: AuthMethod = "PAN_ONLY",
    *,
    now: datetime | None = None,
    expiry_year: int = FUTURE_YEAR,
    merchant: str = MERCHANT_ID,
) -> str:
    return issuer.issue(
        pan=pan,
        expiry_month=12,
        expiry_year=expiry_year,
        auth_method=auth_method,
        gateway_merchant_id=merchant,
        now=now or datetime.now(UTC),
    )


def pay(
    acquirer: HttpCardAcquirer, token: str, *, reference: str | None = None, amount_minor: int = 1_000
) -> PaymentResult:
    return acquirer.authorise_token(
        reference=reference or new_reference(),
        amount_minor=amount_minor,
        currency="AZN",
        token=token,
        return_url=RETURN_URL,
    )


def payments_for(database: Path, reference: str) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute("SELECT count(*) FROM payments WHERE reference = ?", (reference,)).fetchone()
    return int(count)


def test_device_token_is_authorised_without_challenge_then_captured_and_refunded(
    acquirer: HttpCardAcquirer, issuer: GooglePayTokenIssuer
) -> None:
    reference = new_reference()
    held = pay(acquirer, token_for(issuer, VISA, "CRYPTOGRAM_3DS"), reference=reference, amount_minor=2_500)
    assert (held.status, held.brand, held.last_four, held.redirect_url) == (
        PaymentStatus.AUTHORISED,
        "visa",
        "4242",
        None,
    )
    assert held.provider_reference is not None
    captured = acquirer.capture(provider_reference=held.provider_reference, amount_minor=2_500)
    assert (captured.status, captured.captured_minor) == (PaymentStatus.CAPTURED, 2_500)
    refunded = acquirer.refund(provider_reference=held.provider_reference, amount_minor=2_500)
    assert (refunded.status, refunded.refunded_minor) == (PaymentStatus.REFUNDED, 2_500)
    assert acquirer.find(reference=reference) == refunded


def test_device_token_of_the_challenge_card_needs_no_challenge(
    acquirer: HttpCardAcquirer, issuer: GooglePayTokenIssuer
) -> None:
    result = pay(acquirer, token_for(issuer, CHALLENGE, "CRYPTOGRAM_3DS"))
    assert (result.status, result.last_four, result.redirect_url) == (PaymentStatus.AUTHORISED, "3220", None)


def test_card_on_file_of_the_challenge_card_runs_3d_secure(
    acquirer: HttpCardAcquirer, issuer: GooglePayTokenIssuer, acquirer_server: LoopbackServer, browser: httpx.Client
) -> None:
    reference = new_reference()
    pending = pay(acquirer, token_for(issuer, CHALLENGE), reference=reference)
    assert pending.status is PaymentStatus.REQUIRES_ACTION
    assert pending.redirect_url == f"{acquirer_server.base_url}/challenge/{pending.provider_reference}"
    answer = browser.post(pending.redirect_url, data={"otp": "1234", "action": "approve"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{RETURN_URL}&payment={pending.provider_reference}&status=authorised"
    assert acquirer.find(reference=reference).status is PaymentStatus.AUTHORISED


@pytest.mark.parametrize(
    ("pan", "auth_method", "expiry_year", "decline_code", "raw_code"),
    [
        (DECLINED, "PAN_ONLY", FUTURE_YEAR, "card_declined", "05"),
        (DECLINED, "CRYPTOGRAM_3DS", FUTURE_YEAR, "card_declined", "05"),
        (INSUFFICIENT_FUNDS, "CRYPTOGRAM_3DS", FUTURE_YEAR, "insufficient_funds", "51"),
        (VISA, "PAN_ONLY", 2020, "expired_card", "54"),
    ],
)
def test_magic_decline_cards_decline_inside_a_token(
    acquirer: HttpCardAcquirer,
    issuer: GooglePayTokenIssuer,
    pan: str,
    auth_method: AuthMethod,
    expiry_year: int,
    decline_code: str,
    raw_code: str,
) -> None:
    result = pay(acquirer, token_for(issuer, pan, auth_method, expiry_year=expiry_year))
    assert (result.status, result.decline_code, result.raw_code, result.last_four) == (
        PaymentStatus.DECLINED,
        decline_code,
        raw_code,
        pan[-4:],
    )


def test_the_same_token_and_reference_again_returns_the_first_payment(
    acquirer: HttpCardAcquirer, issuer: GooglePayTokenIssuer, acquirer_server: LoopbackServer, keys_dir: Path
) -> None:
    reference, token = new_reference(), token_for(issuer, MASTERCARD)
    first = pay(acquirer, token, reference=reference)
    assert (first.status, first.brand, first.last_four) == (PaymentStatus.AUTHORISED, "mastercard", "4444")
    assert pay(acquirer, token, reference=reference) == first
    with pytest.raises(PaymentRefused) as refused:
        pay(acquirer, token_for(issuer, MASTERCARD), reference=reference)  # another token, same order
    assert refused.value.code == "idempotency_conflict"
    with pytest.raises(PaymentRefused) as other_amount:
        pay(acquirer, token, reference=reference, amount_minor=999)
    assert other_amount.value.code == "idempotency_conflict"


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda issuer: "not a token", "malformed"),
        (lambda issuer: token_for(Keys(gateway_id=SANDBOX_GATEWAY_ID).issuer, VISA), "intermediate_key_signature"),
        (lambda issuer: token_for(issuer, VISA, now=datetime.now(UTC) - timedelta(hours=2)), "expired"),
        (lambda issuer: token_for(issuer, VISA, merchant="someone-else"), "gateway_merchant"),
    ],
    ids=["malformed", "foreign-keys", "expired", "other-merchant"],
)
def test_a_token_the_acquirer_will_not_open_is_refused_as_invalid_token(
    acquirer: HttpCardAcquirer,
    issuer: GooglePayTokenIssuer,
    make_token: Callable[[GooglePayTokenIssuer], str],
    reason: str,
) -> None:
    reference = new_reference()
    with pytest.raises(PaymentRefused) as refused:
        pay(acquirer, make_token(issuer), reference=reference)
    assert refused.value.code == "invalid_token"
    assert str(refused.value) == f"The card acquirer refused the Google Pay token of {reference!r}: {reason}."
    assert acquirer.find(reference=reference).status is PaymentStatus.NOT_FOUND


def test_a_repeat_after_the_token_expired_still_gets_its_payment(tmp_path: Path) -> None:
    clock = FixedClock(datetime.now(UTC))
    database = tmp_path / "acquirer.sqlite"
    server = LoopbackServer(
        lambda base_url: create_sandbox_acquirer(database, secret=SECRET, public_base_url=base_url, clock=clock)
    ).start()
    try:
        issuer = SandboxGooglePayKeys.load_or_create(default_google_pay_keys_dir(database)).issuer(SANDBOX_GATEWAY_ID)
        reference, token = new_reference(), token_for(issuer, VISA, "CRYPTOGRAM_3DS", now=clock.now())
        with HttpCardAcquirer(server.base_url, secret=SECRET, timeout_seconds=5.0) as acquirer:
            first = pay(acquirer, token, reference=reference)
            clock.advance(timedelta(hours=2))
            assert pay(acquirer, token, reference=reference) == first
            with pytest.raises(PaymentRefused, match="expired"):
                pay(acquirer, token)  # a new order cannot use it any more
        assert payments_for(database, reference) == 1
    finally:
        server.stop()


def test_card_numbers_from_tokens_are_never_stored(tmp_path: Path) -> None:
    database = tmp_path / "acquirer.sqlite"
    server = LoopbackServer(
        lambda base_url: create_sandbox_acquirer(database, secret=SECRET, public_base_url=base_url)
    ).start()
    issuer = SandboxGooglePayKeys.load_or_create(tmp_path / "google-pay-keys").issuer(SANDBOX_GATEWAY_ID)
    numbers = [VISA, MASTERCARD, CHALLENGE, DECLINED]
    try:
        with HttpCardAcquirer(server.base_url, secret=SECRET, timeout_seconds=5.0) as acquirer:
            for number in numbers:
                pay(acquirer, token_for(issuer, number))
                pay(acquirer, token_for(issuer, number, "CRYPTOGRAM_3DS"))
    finally:
        server.stop()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("acquirer.sqlite*"))
    assert b"visa" in stored
    for number in numbers:
        assert number.encode() not in stored


def test_lost_response_inside_a_token_is_an_unknown_outcome_that_find_settles(
    acquirer: HttpCardAcquirer, issuer: GooglePayTokenIssuer
) -> None:
    reference, token = new_reference(), token_for(issuer, LOST_RESPONSE, "CRYPTOGRAM_3DS")
    with pytest.raises(ProviderUnavailable) as lost:
        pay(acquirer, token, reference=reference)
    assert lost.value.outcome_unknown is True
    found = acquirer.find(reference=reference)
    assert (found.status, found.last_four) == (PaymentStatus.AUTHORISED, "0341")
    assert pay(acquirer, token, reference=reference) == found


@pytest.mark.parametrize(
    "payment_method",
    [
        {},
        {
            "google_pay": {"token": "x"},
            "card": {"number": VISA, "expiry_month": 12, "expiry_year": FUTURE_YEAR, "cvc": "123"},
        },
        {"google_pay": {"token": ""}},
        {"google_pay": {"token": "x", "extra": 1}},
    ],
    ids=["neither", "both", "empty-token", "extra-field"],
)
def test_the_sandbox_takes_exactly_one_card_or_token(
    acquirer_server: LoopbackServer, payment_method: dict[str, object]
) -> None:
    reference = new_reference()
    body = {"reference": reference, "amount": 100, "currency": "AZN", "return_url": RETURN_URL, **payment_method}
    headers = {"Authorization": f"Bearer {SECRET}", "Idempotency-Key": reference}
    answer = httpx.post(f"{acquirer_server.base_url}/payments", json=body, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"
    assert VISA not in answer.text


def test_wrong_secret_is_a_configuration_problem(acquirer_server: LoopbackServer, issuer: GooglePayTokenIssuer) -> None:
    with (
        HttpCardAcquirer(acquirer_server.base_url, secret="not-the-secret") as stranger,
        pytest.raises(ProviderUnavailable, match="unauthorised") as refused,
    ):
        pay(stranger, token_for(issuer, VISA))
    assert refused.value.outcome_unknown is False


def test_a_stopped_acquirer_is_unreachable_and_nothing_was_sent(tmp_path: Path, issuer: GooglePayTokenIssuer) -> None:
    server = LoopbackServer(
        lambda base_url: create_sandbox_acquirer(tmp_path / "a.sqlite", secret=SECRET, public_base_url=base_url)
    ).start()
    server.stop()
    with (
        HttpCardAcquirer(server.base_url, secret=SECRET, timeout_seconds=2.0) as acquirer,
        pytest.raises(ProviderUnavailable) as unreachable,
    ):
        pay(acquirer, token_for(issuer, VISA))
    assert unreachable.value.outcome_unknown is False


@pytest.mark.parametrize(
    ("status_code", "content", "outcome_unknown"),
    [
        (500, b"{}", True),
        (200, b"<html>not json</html>", True),
        (201, b'{"id": "pay_1", "reference": "someone-else", "status": "authorised"}', True),
        (422, b'{"error": {"code": "invalid_request", "fields": ["body"]}}', False),
        (422, b'{"error": {"code": "invalid_tokens"}}', False),  # not the acquirer's token refusal
    ],
)
def test_what_a_failure_of_a_token_payment_says_about_the_outcome(
    status_code: int, content: bytes, outcome_unknown: bool
) -> None:
    transport = httpx.MockTransport(responds(status_code, content))
    with (
        HttpCardAcquirer("http://acquirer.invalid", secret=SECRET, transport=transport) as acquirer,
        pytest.raises(ProviderUnavailable) as failure,
    ):
        pay(acquirer, "opaque-token")
    assert failure.value.outcome_unknown is outcome_unknown


def test_the_token_goes_to_the_acquirer_untouched_with_the_reference_as_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(422, json={"error": {"code": "invalid_token", "reason": "mac"}})

    transport = httpx.MockTransport(answer)
    with (
        HttpCardAcquirer("http://acquirer.invalid", secret=SECRET, transport=transport) as acquirer,
        pytest.raises(PaymentRefused) as refused,
    ):
        pay(acquirer, '{"protocolVersion":"ECv2"}', reference="order-7", amount_minor=1_234)
    assert (refused.value.code, str(refused.value)) == (
        "invalid_token",
        "The card acquirer refused the Google Pay token of 'order-7': mac.",
    )
    (request,) = seen
    assert (request.method, request.url.path, request.headers["idempotency-key"]) == ("POST", "/payments", "order-7")
    assert json.loads(request.content) == {
        "reference": "order-7",
        "amount": 1_234,
        "currency": "AZN",
        "google_pay": {"token": '{"protocolVersion":"ECv2"}'},
        "return_url": RETURN_URL,
    }


# --- the sandbox payment sheet, in the customer's browser ---------------------------------------------------


class Forms(HTMLParser):
    """The forms of a page, as a browser would submit them: action, hidden fields, checked radios, buttons."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]], list[str]]] = []
        self.radios: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append((attributes["action"], [], []))
        elif tag == "input" and attributes.get("type") == "hidden":
            self.forms[-1][1].append((attributes["name"], attributes["value"]))
        elif tag == "input" and attributes.get("type") == "radio":
            self.radios.append(attributes["value"])
        elif tag == "button" and "value" in attributes:
            self.forms[-1][2].append(attributes["value"])


@pytest.fixture
def sheet(sheet_server: LoopbackServer, acquirer: HttpCardAcquirer) -> GooglePaySheet:
    return GooglePaySheet(sheet_server.base_url, acquirer)


def checkout(reference: str, *, amount_minor: int = 1_050, description: str = "Azercell 10 AZN") -> Checkout:
    return Checkout(
        reference=reference,
        amount_minor=amount_minor,
        currency="AZN",
        description=description,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
    )


def choose_card(browser: httpx.Client, sheet: GooglePaySheet, reference: str, card: str) -> str:
    """Open the sheet, pick `card`, press Pay, and return the token the next page would post to the shop."""
    started = sheet.start(checkout(reference))
    assert started.redirect_url is not None
    page = browser.get(started.redirect_url)
    assert page.status_code == 200
    ((action, hidden, buttons),) = Forms(page.text).forms
    assert buttons == ["pay", "cancel"]
    answer = browser.post(action, data=dict([*hidden, ("card", card), ("action", "pay")]))
    assert answer.status_code == 200
    ((return_action, fields, _),) = Forms(answer.text).forms
    assert return_action == RETURN_URL
    ((name, token),) = fields
    assert name == "token"
    return token


def test_start_makes_no_call_and_links_to_the_sheet() -> None:
    def nothing_may_be_sent(request: httpx.Request) -> httpx.Response:
        raise AssertionError("start must not call the acquirer")

    with HttpCardAcquirer(
        "http://acquirer.invalid", secret=SECRET, transport=httpx.MockTransport(nothing_may_be_sent)
    ) as acq:
        started = GooglePaySheet("https://sheet.example/gp/", acq).start(
            checkout("order-1", description="Top-up & more")
        )
    assert started == PaymentResult(
        status=PaymentStatus.REQUIRES_ACTION,
        redirect_url=(
            "https://sheet.example/gp/pay?reference=order-1&amount=1050&currency=AZN&description=Top-up+%26+more"
            "&return_url=https%3A%2F%2Fshop.example%2Fcheckout%2Fgoogle-pay%3Forder%3Do-1"
            "&cancel_url=https%3A%2F%2Fshop.example%2Fcheckout%2Fcancelled%3Forder%3Do-1"
        ),
        amount_minor=1_050,
        currency="AZN",
    )
    assert started.provider_reference is None
    with pytest.raises(PaymentRefused) as refused:
        GooglePaySheet("https://sheet.example", acq, currencies=frozenset({"USD"})).start(checkout("order-2"))
    assert refused.value.code == "unsupported_currency"


def test_sheet_shows_the_payment_and_the_test_cards(sheet: GooglePaySheet, browser: httpx.Client) -> None:
    started = sheet.start(checkout(new_reference(), description="<b>Bakcell</b> top-up"))
    assert started.redirect_url is not None
    page = browser.get(started.redirect_url)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert "Pay Topup" in page.text
    assert "10.50 AZN" in page.text
    assert "&lt;b&gt;Bakcell&lt;/b&gt; top-up" in page.text
    for label in (
        "Visa •••• 4242 on this phone (device token: no 3-D Secure)",
        "Mastercard •••• 4444 (card on file)",
        "Visa •••• 3220 (card on file; bank asks for 3-D Secure)",
        "Visa •••• 0002 (declined)",
    ):
        assert label in page.text
    assert Forms(page.text).radios == ["device-visa-4242", "mastercard-4444", "visa-3220", "visa-0002"]


def test_paying_on_the_sheet_then_charging_the_token_to_captured_and_refunded(
    sheet: GooglePaySheet, browser: httpx.Client
) -> None:
    reference = new_reference()
    assert sheet.find(reference=reference) == PaymentResult(status=PaymentStatus.NOT_FOUND)
    token = choose_card(browser, sheet, reference, "device-visa-4242")
    assert VISA not in token

    paid = sheet.pay(reference=reference, amount_minor=1_050, currency="AZN", token=token, return_url=RETURN_URL)
    assert (paid.status, paid.brand, paid.last_four, paid.amount_minor) == (
        PaymentStatus.AUTHORISED,
        "visa",
        "4242",
        1_050,
    )
    assert paid.provider_reference is not None
    assert sheet.find(reference=reference) == paid
    assert sheet.capture(provider_reference=paid.provider_reference, amount_minor=1_050).status is (
        PaymentStatus.CAPTURED
    )
    with pytest.raises(PaymentRefused) as over_refund:
        sheet.refund(provider_reference=paid.provider_reference, amount_minor=1_051)
    assert over_refund.value.code == "invalid_amount"
    refunded = sheet.refund(provider_reference=paid.provider_reference, amount_minor=1_050)
    assert (refunded.status, refunded.refunded_minor) == (PaymentStatus.REFUNDED, 1_050)
    again = sheet.pay(reference=reference, amount_minor=1_050, currency="AZN", token=token, return_url=RETURN_URL)
    assert again == refunded  # the same order again: the first payment, as it now is


def test_a_card_on_file_from_the_sheet_can_be_voided(sheet: GooglePaySheet, browser: httpx.Client) -> None:
    reference = new_reference()
    token = choose_card(browser, sheet, reference, "mastercard-4444")
    paid = sheet.pay(reference=reference, amount_minor=1_050, currency="AZN", token=token, return_url=RETURN_URL)
    assert (paid.status, paid.last_four) == (PaymentStatus.AUTHORISED, "4444")
    assert paid.provider_reference is not None
    assert sheet.void(provider_reference=paid.provider_reference).status is PaymentStatus.VOIDED


def test_the_sheets_challenge_card_goes_through_3d_secure(sheet: GooglePaySheet, browser: httpx.Client) -> None:
    reference = new_reference()
    token = choose_card(browser, sheet, reference, "visa-3220")
    pending = sheet.pay(reference=reference, amount_minor=1_050, currency="AZN", token=token, return_url=RETURN_URL)
    assert pending.status is PaymentStatus.REQUIRES_ACTION
    assert pending.redirect_url is not None
    answer = browser.post(pending.redirect_url, data={"otp": "1234", "action": "approve"})
    assert answer.headers["location"] == f"{RETURN_URL}&payment={pending.provider_reference}&status=authorised"
    assert sheet.find(reference=reference).status is PaymentStatus.AUTHORISED


def test_the_sheets_decline_card_is_declined(sheet: GooglePaySheet, browser: httpx.Client) -> None:
    reference = new_reference()
    token = choose_card(browser, sheet, reference, "visa-0002")
    declined = sheet.pay(reference=reference, amount_minor=1_050, currency="AZN", token=token, return_url=RETURN_URL)
    assert (declined.status, declined.decline_code, declined.raw_code) == (
        PaymentStatus.DECLINED,
        "card_declined",
        "05",
    )


def test_cancel_on_the_sheet_sends_the_customer_to_the_cancel_address(
    sheet: GooglePaySheet, browser: httpx.Client
) -> None:
    reference = new_reference()
    started = sheet.start(checkout(reference))
    assert started.redirect_url is not None
    ((action, hidden, _),) = Forms(browser.get(started.redirect_url).text).forms
    answer = browser.post(action, data=dict([*hidden, ("card", "device-visa-4242"), ("action", "cancel")]))
    assert answer.status_code == 303
    assert answer.headers["location"] == CANCEL_URL
    assert sheet.find(reference=reference).status is PaymentStatus.NOT_FOUND


GOOD_REQUEST = {
    "reference": "order-1",
    "amount": "100",
    "currency": "AZN",
    "description": "",
    "return_url": RETURN_URL,
    "cancel_url": CANCEL_URL,
}


@pytest.mark.parametrize(
    ("changes", "wrong"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.50"}, "amount"),
        ({"amount": "١٠٠"}, "amount"),  # digits, but not ASCII ones
        ({"currency": "GBP"}, "currency"),
        ({"reference": ""}, "reference"),
        ({"return_url": "javascript:alert(1)"}, "return_url"),
        ({"cancel_url": "/relative"}, "cancel_url"),
        ({"description": "x" * 257}, "description"),
    ],
)
def test_the_sheet_refuses_a_bad_request(
    sheet_server: LoopbackServer, browser: httpx.Client, changes: dict[str, str], wrong: str
) -> None:
    fields = {**GOOD_REQUEST, **changes}
    shown = browser.get(f"{sheet_server.base_url}/pay", params=fields)
    assert (shown.status_code, f"Check: {wrong}." in shown.text) == (400, True)
    posted = browser.post(f"{sheet_server.base_url}/pay", data={**fields, "card": "visa-0002", "action": "pay"})
    assert (posted.status_code, f"Check: {wrong}." in posted.text) == (400, True)


def test_the_sheet_refuses_an_unknown_card_and_a_huge_form(sheet_server: LoopbackServer, browser: httpx.Client) -> None:
    unknown = browser.post(f"{sheet_server.base_url}/pay", data={**GOOD_REQUEST, "card": VISA, "action": "pay"})
    assert unknown.status_code == 400
    assert "Choose a card" in unknown.text
    huge = browser.post(f"{sheet_server.base_url}/pay", data={**GOOD_REQUEST, "description": "x" * 20_000})
    assert huge.status_code == 413
    many = browser.post(f"{sheet_server.base_url}/pay", content="&".join(f"f{n}=1" for n in range(20)).encode())
    assert many.status_code == 413
