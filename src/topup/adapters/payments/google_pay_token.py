"""Google Pay payment tokens in gateway mode (ECv2, PROTOCOLS.md section 4): sealed as Google seals them,
opened as the gateway (the card acquirer) opens them.

- `GooglePayTokenIssuer` plays Google in the sandbox: it signs an intermediate key with its root key, encrypts
  the card for the gateway's recipient key and signs the message with the intermediate key.
- `GooglePayTokenOpener` is the gateway's side: it checks both signatures against the root keys it trusts,
  derives the keys (ECDH P-256, HKDF-SHA256), checks the MAC, decrypts (AES-256-CTR) and checks the expiry.
  A token it will not open raises `TokenInvalid` with one of the stable reasons in `REASONS`.
- `SandboxGooglePayKeys` creates the sandbox's root, intermediate and recipient keys once and keeps them as
  PEM files, so that tokens issued before a restart can still be opened after it.

`LV(x)` is a 4-byte little-endian length followed by the UTF-8 bytes of x. The decrypted payload's field names
are from Google's documentation as remembered, not re-checked (PROTOCOLS.md marks them [M]). Nothing here logs,
or puts in a message, a card number or a cryptogram.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PROTOCOL_VERSION = "ECv2"
SENDER_ID = "Google"
SANDBOX_GATEWAY_ID = "topupsandbox"  # the sandbox acquirer's gateway id: tokens are sealed for "gateway:topupsandbox"
TOKEN_LENGTH_MAX = 16_384  # a real token is about 1.5 kB; anything this long is not one
SIGNATURES_MAX = 8
MESSAGE_LIFETIME = timedelta(hours=1)
INTERMEDIATE_KEY_LIFETIME = timedelta(days=7)

AuthMethod = Literal["PAN_ONLY", "CRYPTOGRAM_3DS"]
AUTH_METHODS: frozenset[str] = frozenset(get_args(AuthMethod))
REASONS = frozenset(
    {
        "malformed",  # not the ECv2 token structure (JSON, base64, keys)
        "protocol_version",  # not ECv2
        "intermediate_key_signature",  # no root key we trust signed the intermediate key
        "intermediate_key_expired",
        "message_signature",  # the intermediate key did not sign this message for this recipient
        "mac",  # the tag does not match: sealed for another recipient key, or altered
        "expired",  # messageExpiration has passed
        "decryption",  # the decrypted message is not a card payment
    }
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ECDSA = ec.ECDSA(hashes.SHA256())
_SALT = bytes(32)
_ZERO_IV = bytes(16)
_PAN = re.compile(r"[0-9]{12,19}")
_MILLISECONDS = re.compile(r"[0-9]{1,16}")
_PEM_NAMES = ("root", "intermediate", "recipient")


class TokenInvalid(Exception):
    """The token cannot be trusted or opened; `reason` is one of `REASONS` and never carries token data."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The Google Pay token is invalid: {reason}.")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RootSigningKey:
    """One of the keys the opener trusts to sign intermediate keys (Google publishes its own as keys.json)."""

    public_key: ec.EllipticCurvePublicKey
    protocol_version: str = PROTOCOL_VERSION
    expiration: datetime | None = None  # None: does not expire


@dataclass(frozen=True, slots=True)
class DecryptedPayment:
    """What a token carries. Passed to the authorisation and dropped; repr hides the number and cryptogram."""

    pan: str  # the card (PAN_ONLY) or the device token (CRYPTOGRAM_3DS)
    expiry_month: int
    expiry_year: int
    auth_method: AuthMethod
    cryptogram: str | None  # TAVV/AAV: CRYPTOGRAM_3DS only
    eci: str | None
    message_id: str
    gateway_merchant_id: str | None
    message_expiration: datetime

    def __repr__(self) -> str:
        return (
            f"DecryptedPayment(pan=…{self.pan[-4:]}, auth_method={self.auth_method}, message_id={self.message_id!r},"
            f" gateway_merchant_id={self.gateway_merchant_id!r})"
        )


def recipient_id_of(gateway_id: str) -> str:
    return f"gateway:{gateway_id}"


def root_keys_from_json(text: str) -> tuple[RootSigningKey, ...]:
    """Root keys in the format Google publishes them: {"keys": [{"keyValue", "protocolVersion", "keyExpiration"?}]}."""
    keys = []
    for entry in json.loads(text)["keys"]:
        expiration = entry.get("keyExpiration")
        keys.append(
            RootSigningKey(
                public_key=_public_key(entry["keyValue"]),
                protocol_version=entry["protocolVersion"],
                expiration=None if expiration is None else _moment(_milliseconds(expiration)),
            )
        )
    return tuple(keys)


def token_fingerprint(token: str) -> str:
    """A digest of the token for idempotency checks: equal tokens, equal digests; no card data in it."""
    return hashlib.sha256(token.encode()).hexdigest()


class GooglePayTokenOpener:
    """The gateway's side: opens tokens sealed for `recipient_id` ("gateway:<gatewayId>") whose intermediate key
    one of `root_keys` signed (Google's, from keys.json, in production; the sandbox's own otherwise)."""

    def __init__(
        self,
        *,
        root_keys: Iterable[RootSigningKey],
        recipient_private_key: ec.EllipticCurvePrivateKey,
        recipient_id: str,
    ) -> None:
        self._root_keys = tuple(key for key in root_keys if key.protocol_version == PROTOCOL_VERSION)
        if not self._root_keys:
            raise ValueError("the opener needs at least one ECv2 root signing key")
        self._private_key = recipient_private_key
        self._recipient_id = recipient_id

    def open(self, token: str, now: datetime) -> DecryptedPayment:
        """The payment inside `token`, once both signatures, the MAC and the expiry are right."""
        envelope = _envelope(token)
        if envelope.protocol_version != PROTOCOL_VERSION:
            raise TokenInvalid("protocol_version")
        signed_key = self._trusted_intermediate_key(envelope, now)
        signed_data = _lv(SENDER_ID, self._recipient_id, PROTOCOL_VERSION, envelope.signed_message)
        if not _verifies(signed_key, envelope.signature, signed_data):
            raise TokenInvalid("message_signature")
        payment = _payment(self._decrypt(envelope.signed_message))
        if _milliseconds_of(now) >= _milliseconds_of(payment.message_expiration):
            raise TokenInvalid("expired")
        return payment

    def _trusted_intermediate_key(self, envelope: _Envelope, now: datetime) -> ec.EllipticCurvePublicKey:
        signed_data = _lv(SENDER_ID, PROTOCOL_VERSION, envelope.signed_key)
        usable = [key.public_key for key in self._root_keys if key.expiration is None or now < key.expiration]
        if not any(_verifies(root, signature, signed_data) for root in usable for signature in envelope.key_signatures):
            raise TokenInvalid("intermediate_key_signature")
        try:
            signed_key = json.loads(envelope.signed_key)
            expiration = _milliseconds(signed_key["keyExpiration"])
            public_key = _public_key(signed_key["keyValue"])
        except (ValueError, KeyError, TypeError):
            raise TokenInvalid("malformed") from None
        if _milliseconds_of(now) >= expiration:
            raise TokenInvalid("intermediate_key_expired")
        return public_key

    def _decrypt(self, signed_message_text: str) -> bytes:
        try:
            signed_message = json.loads(signed_message_text)
            encrypted = _base64(signed_message["encryptedMessage"])
            ephemeral_bytes = _base64(signed_message["ephemeralPublicKey"])
            tag = _base64(signed_message["tag"])
            ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ephemeral_bytes)
        except (ValueError, KeyError, TypeError):
            raise TokenInvalid("malformed") from None
        shared_secret = self._private_key.exchange(ec.ECDH(), ephemeral)
        encryption_key, mac_key = _derive_keys(ephemeral_bytes, shared_secret)
        if not hmac.compare_digest(tag, hmac.digest(mac_key, encrypted, "sha256")):
            raise TokenInvalid("mac")
        return _aes_ctr(encryption_key, encrypted)


class GooglePayTokenIssuer:
    """Google's side, for the sandbox: tokens for one gateway, sealed to its recipient public key."""

    def __init__(
        self,
        *,
        root_signing_key: ec.EllipticCurvePrivateKey,
        intermediate_signing_key: ec.EllipticCurvePrivateKey,
        recipient_public_key: ec.EllipticCurvePublicKey,
        gateway_id: str,
        intermediate_key_lifetime: timedelta = INTERMEDIATE_KEY_LIFETIME,
    ) -> None:
        self._root = root_signing_key
        self._intermediate = intermediate_signing_key
        self._recipient = recipient_public_key
        self._recipient_id = recipient_id_of(gateway_id)
        self._intermediate_key_lifetime = intermediate_key_lifetime

    @classmethod
    def generate(cls, *, recipient_public_key: ec.EllipticCurvePublicKey, gateway_id: str) -> GooglePayTokenIssuer:
        """An issuer with fresh root and intermediate keys (tests)."""
        return cls(
            root_signing_key=ec.generate_private_key(ec.SECP256R1()),
            intermediate_signing_key=ec.generate_private_key(ec.SECP256R1()),
            recipient_public_key=recipient_public_key,
            gateway_id=gateway_id,
        )

    @property
    def root_key(self) -> RootSigningKey:
        """The public root key an opener must trust to open this issuer's tokens."""
        return RootSigningKey(public_key=self._root.public_key())

    def issue(
        self,
        *,
        pan: str,
        expiry_month: int,
        expiry_year: int,
        auth_method: AuthMethod,
        gateway_merchant_id: str,
        now: datetime,
        cryptogram: str | None = None,
        eci: str | None = None,
    ) -> str:
        """The token (a JSON string) for one card; a device token gets a random cryptogram unless given one."""
        if _PAN.fullmatch(pan) is None or not 1 <= expiry_month <= 12 or not 2000 <= expiry_year <= 2099:
            raise ValueError("not a card number or expiry date")  # never the number itself
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"unknown auth method {auth_method!r}")
        details: dict[str, object] = {
            "pan": pan,
            "expirationMonth": expiry_month,
            "expirationYear": expiry_year,
            "authMethod": auth_method,
        }
        if auth_method == "CRYPTOGRAM_3DS":
            details["cryptogram"] = cryptogram or base64.b64encode(secrets.token_bytes(20)).decode()
            if eci is not None:
                details["eciIndicator"] = eci
        elif cryptogram is not None or eci is not None:
            raise ValueError("a PAN_ONLY card carries no cryptogram or ECI")
        payload = {
            "gatewayMerchantId": gateway_merchant_id,
            "messageExpiration": str(_milliseconds_of(now + MESSAGE_LIFETIME)),
            "messageId": secrets.token_urlsafe(32),
            "paymentMethod": "CARD",
            "paymentMethodDetails": details,
        }
        return self.seal(json.dumps(payload).encode(), now=now)

    def seal(self, plaintext: bytes, *, now: datetime) -> str:
        """Any payload, encrypted and signed as a token (tests use it for payloads an opener must refuse)."""
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        ephemeral_bytes = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        shared_secret = ephemeral.exchange(ec.ECDH(), self._recipient)
        encryption_key, mac_key = _derive_keys(ephemeral_bytes, shared_secret)
        encrypted = _aes_ctr(encryption_key, plaintext)
        signed_message = _compact(
            {
                "encryptedMessage": _b64(encrypted),
                "ephemeralPublicKey": _b64(ephemeral_bytes),
                "tag": _b64(hmac.digest(mac_key, encrypted, "sha256")),
            }
        )
        signed_key = _compact(
            {
                "keyValue": _b64(_spki(self._intermediate.public_key())),
                "keyExpiration": str(_milliseconds_of(now + self._intermediate_key_lifetime)),
            }
        )
        key_signature = self._root.sign(_lv(SENDER_ID, PROTOCOL_VERSION, signed_key), _ECDSA)
        signature = self._intermediate.sign(
            _lv(SENDER_ID, self._recipient_id, PROTOCOL_VERSION, signed_message), _ECDSA
        )
        return _compact(
            {
                "signature": _b64(signature),
                "intermediateSigningKey": {"signedKey": signed_key, "signatures": [_b64(key_signature)]},
                "protocolVersion": PROTOCOL_VERSION,
                "signedMessage": signed_message,
            }
        )


@dataclass(frozen=True, slots=True)
class SandboxGooglePayKeys:
    """The sandbox's three key pairs: Google's root and intermediate signing keys, and the gateway's
    recipient key. Kept as unencrypted PKCS#8 PEM files (sandbox keys, not secrets worth more)."""

    root: ec.EllipticCurvePrivateKey
    intermediate: ec.EllipticCurvePrivateKey
    recipient: ec.EllipticCurvePrivateKey

    @classmethod
    def load_or_create(cls, directory: Path) -> SandboxGooglePayKeys:
        """The keys kept in `directory`, each created there first if missing. Two processes starting at once
        end up with the same keys: a key file appears whole (a hard link) or not at all, and the first wins."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        root, intermediate, recipient = (_load_or_create_key(directory / f"{name}.pem") for name in _PEM_NAMES)
        return cls(root=root, intermediate=intermediate, recipient=recipient)

    def issuer(self, gateway_id: str) -> GooglePayTokenIssuer:
        return GooglePayTokenIssuer(
            root_signing_key=self.root,
            intermediate_signing_key=self.intermediate,
            recipient_public_key=self.recipient.public_key(),
            gateway_id=gateway_id,
        )

    def opener(self, gateway_id: str) -> GooglePayTokenOpener:
        return GooglePayTokenOpener(
            root_keys=[RootSigningKey(public_key=self.root.public_key())],
            recipient_private_key=self.recipient,
            recipient_id=recipient_id_of(gateway_id),
        )


def _load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        try:
            os.link(draft, path)  # fails if another process put its key there first: then that one is used
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path} does not hold a P-256 private key")
    return key


@dataclass(frozen=True, slots=True)
class _Envelope:
    protocol_version: str
    signature: bytes
    signed_key: str  # JSON text, verified as it is: re-encoding it would break the signature
    key_signatures: tuple[bytes, ...]
    signed_message: str  # JSON text, likewise


def _envelope(token: str) -> _Envelope:
    """The token's outer structure, with every field of the right type, or TokenInvalid("malformed")."""
    try:
        if len(token) > TOKEN_LENGTH_MAX:
            raise ValueError("too long")
        envelope = json.loads(token)
        intermediate = envelope["intermediateSigningKey"]
        signatures = intermediate["signatures"]
        if not isinstance(signatures, list) or not 1 <= len(signatures) <= SIGNATURES_MAX:
            raise ValueError("signatures")
        protocol_version, signed_key, signed_message = (
            envelope["protocolVersion"],
            intermediate["signedKey"],
            envelope["signedMessage"],
        )
        if not all(isinstance(text, str) for text in (protocol_version, signed_key, signed_message)):
            raise TypeError("not text")
        return _Envelope(
            protocol_version=protocol_version,
            signature=_base64(envelope["signature"]),
            signed_key=signed_key,
            key_signatures=tuple(_base64(signature) for signature in signatures),
            signed_message=signed_message,
        )
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: JSON nested too deep
        raise TokenInvalid("malformed") from None


def _payment(plaintext: bytes) -> DecryptedPayment:
    """The decrypted payload as a payment, or TokenInvalid("decryption")."""
    try:
        payload = json.loads(plaintext)
        details = payload["paymentMethodDetails"]
        pan, month, year, method = (
            details[name] for name in ("pan", "expirationMonth", "expirationYear", "authMethod")
        )
        cryptogram, eci = details.get("cryptogram"), details.get("eciIndicator")
        message_id, merchant = payload["messageId"], payload.get("gatewayMerchantId")
        if payload["paymentMethod"] != "CARD" or method not in AUTH_METHODS:
            raise ValueError("not a card")
        if not isinstance(pan, str) or _PAN.fullmatch(pan) is None:
            raise ValueError("pan")
        if not _is_int(month) or not _is_int(year) or not 1 <= month <= 12 or not 2000 <= year <= 2099:
            raise ValueError("expiry")
        if not isinstance(message_id, str):
            raise ValueError("types")
        if not all(value is None or isinstance(value, str) for value in (cryptogram, eci, merchant)):
            raise ValueError("types")
        if method == "CRYPTOGRAM_3DS" and not cryptogram:
            raise ValueError("a device token without its cryptogram")
        expiration = _moment(_milliseconds(payload["messageExpiration"]))
    # UnicodeDecodeError is a ValueError; AttributeError: a JSON value where an object should be.
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError):
        raise TokenInvalid("decryption") from None
    return DecryptedPayment(
        pan=pan,
        expiry_month=month,
        expiry_year=year,
        auth_method=method,
        cryptogram=cryptogram,
        eci=eci,
        message_id=message_id,
        gateway_merchant_id=merchant,
        message_expiration=expiration,
    )


def _lv(*parts: str) -> bytes:
    signed = bytearray()
    for part in parts:
        data = part.encode()
        signed += len(data).to_bytes(4, "little") + data
    return bytes(signed)


def _derive_keys(ephemeral_public_key: bytes, shared_secret: bytes) -> tuple[bytes, bytes]:
    derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=_SALT, info=SENDER_ID.encode()).derive(
        ephemeral_public_key + shared_secret
    )
    return derived[:32], derived[32:]


def _aes_ctr(key: bytes, data: bytes) -> bytes:
    # CTR is its own inverse: the same call encrypts and decrypts. A zero IV is safe here only because every
    # message has its own key (a fresh ephemeral key each time), which is how ECv2 is defined.
    transform = Cipher(algorithms.AES(key), modes.CTR(_ZERO_IV)).encryptor()
    return transform.update(data) + transform.finalize()


def _verifies(public_key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data, _ECDSA)
    except (InvalidSignature, ValueError):  # a signature that is not even DER is no signature either
        return False
    return True


def _public_key(text: object) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(_base64(text))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 public key")
    return key


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _base64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not text")
    return base64.b64decode(text, validate=True)  # binascii.Error is a ValueError


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _milliseconds(text: object) -> int:
    """A time in milliseconds since the epoch, as Google writes it: a string of digits."""
    if not isinstance(text, str) or _MILLISECONDS.fullmatch(text) is None:
        raise ValueError("not milliseconds")
    return int(text)


def _milliseconds_of(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _moment(milliseconds: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=milliseconds)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
