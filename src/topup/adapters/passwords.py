"""Passwords of agents' till users: scrypt (memory-hard, in the standard library), with a random salt, stored with
its parameters so they can be raised later without breaking old hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1  # about 16 MB and a few tens of milliseconds a check: fine for a login, slow for guessing
_LENGTH = 32


class ScryptPasswords:
    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LENGTH)
        return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"

    def verify(self, password: str, stored: str) -> bool:
        try:
            scheme, n, r, p, salt, expected = stored.split("$")
            if scheme != "scrypt":
                return False
            digest = hashlib.scrypt(
                password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected) // 2
            )
        except ValueError:
            return False
        return hmac.compare_digest(digest.hex(), expected)
