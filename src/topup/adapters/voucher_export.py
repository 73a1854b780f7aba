"""The file a batch of scratch cards goes to the card printer in: the only place the plain PINs ever exist.

A CSV (serial, pin, nominal, operator, expires) encrypted with AES-256-GCM under a key derived from a passphrase
with scrypt; the passphrase travels to the printer another way. Layout: the magic "TOPUPVX1", a 16-byte salt, a
12-byte nonce, then the ciphertext with its tag (the magic is authenticated too). Wrong passphrase or a changed
byte: the file does not open (no partial or garbled PINs).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from topup.domain.errors import InvalidInput
from topup.domain.money import format_amount, parse_amount
from topup.services.vouchers import PrintedCard

MAGIC = b"TOPUPVX1"
PASSPHRASE_LENGTH_MIN = 12
_SALT_BYTES, _NONCE_BYTES = 16, 12
_SCRYPT = {"n": 2**15, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024}
_COLUMNS = ("serial", "pin", "nominal", "operator", "expires_at")


class ExportUnreadable(InvalidInput):
    code = "voucher_export_unreadable"


def write_export(path: Path, cards: list[PrintedCard], passphrase: str) -> None:
    if len(passphrase) < PASSPHRASE_LENGTH_MIN:
        raise InvalidInput(f"The passphrase needs at least {PASSPHRASE_LENGTH_MIN} characters.", field="passphrase")
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(_COLUMNS)
    for card in cards:
        writer.writerow(
            (card.serial, card.pin, format_amount(card.nominal_qepik), card.operator, card.expires_at.isoformat())
        )
    salt, nonce = secrets.token_bytes(_SALT_BYTES), secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_key(passphrase, salt)).encrypt(nonce, text.getvalue().encode(), MAGIC)
    # Written owner-only, in one go, so no half-written file with PINs is ever left readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(MAGIC + salt + nonce + sealed)


def read_export(path: Path, passphrase: str) -> list[PrintedCard]:
    data = path.read_bytes()
    head = len(MAGIC) + _SALT_BYTES + _NONCE_BYTES
    if len(data) <= head or not data.startswith(MAGIC):
        raise ExportUnreadable("This is not a voucher export file.")
    salt, nonce = data[len(MAGIC) : len(MAGIC) + _SALT_BYTES], data[len(MAGIC) + _SALT_BYTES : head]
    try:
        text = AESGCM(_key(passphrase, salt)).decrypt(nonce, data[head:], MAGIC).decode()
    except InvalidTag:
        raise ExportUnreadable("Wrong passphrase, or the file was changed.") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    return [
        PrintedCard(
            row["serial"],
            row["pin"],
            parse_amount(row["nominal"]),
            row["operator"],
            datetime.fromisoformat(row["expires_at"]),
        )
        for row in rows
    ]


def _key(passphrase: str, salt: bytes) -> bytes:
    return hashlib.scrypt(passphrase.encode(), salt=salt, dklen=32, **_SCRYPT)
