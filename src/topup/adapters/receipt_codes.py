"""Receipt verification codes: HMAC-SHA256 of the transaction id under the server's secret key.

Ten characters of Crockford base32 (50 bits): short enough to type from paper, long enough that guessing a
valid code is hopeless. Shown grouped as XXXXX-XXXXX.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

CODE_LENGTH = 10
_BASE32_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


class HmacReceiptCodes:
    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode()

    def code_for(self, transaction_id: str) -> str:
        digest = hmac.new(self._key, transaction_id.encode(), hashlib.sha256).digest()
        code = base64.b32encode(digest).decode().translate(_BASE32_TO_CROCKFORD)[:CODE_LENGTH]
        return f"{code[:5]}-{code[5:]}"


class HmacFingerprints:
    """A card's fingerprint: HMAC-SHA256 of its number under the server's key. It tells "the same card" (for
    limits) without keeping the number, and cannot be reversed or brute-forced without the key."""

    def __init__(self, secret_key: str) -> None:
        self._key = b"card-fingerprint:" + secret_key.encode()

    def card(self, number: str) -> str:
        return hmac.new(self._key, number.encode(), hashlib.sha256).hexdigest()


class HmacDigests:
    """Keyed hashes of secrets we must recognise but never keep (sign-in codes, session tokens, voucher PINs):
    HMAC-SHA256 under the server's key, with the purpose mixed in so a hash of one kind never matches another."""

    def __init__(self, secret_key: str) -> None:
        self._key = b"digest:" + secret_key.encode()

    def digest(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
