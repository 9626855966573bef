"""A ``PasswordHasher`` on the standard library: salted PBKDF2-HMAC-SHA256.

It is the embedded default's hasher and the one test suites use with a low iteration count;
the hash format is ``pbkdf2_sha256$<iterations>$<salt>$<digest>`` (salt and digest base64url,
unpadded), so a hash carries everything needed to verify it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SCHEME = "pbkdf2_sha256"
# OWASP Password Storage Cheat Sheet: 600 000 iterations for PBKDF2-HMAC-SHA256.
DEFAULT_ITERATIONS = 600_000
SALT_BYTES = 16
MIN_SALT_BYTES = 8
DIGEST_BYTES = 32
# A stored hash naming more iterations than this is treated as malformed rather than run.
MAX_ITERATIONS = 10_000_000


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Pbkdf2PasswordHasher:
    def __init__(self, *, iterations: int = DEFAULT_ITERATIONS) -> None:
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}")
        self.iterations = iterations

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(SALT_BYTES)
        digest = self._derive(password, salt, self.iterations)
        return f"{SCHEME}${self.iterations}${_b64encode(salt)}${_b64encode(digest)}"

    def verify(self, password: str, password_hash: str) -> bool:
        parsed = self._parse(password_hash)
        if parsed is None:
            return False
        iterations, salt, expected = parsed
        try:
            actual = self._derive(password, salt, iterations)
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(actual, expected)

    def needs_rehash(self, password_hash: str) -> bool:
        parsed = self._parse(password_hash)
        return parsed is None or parsed[0] != self.iterations

    @staticmethod
    def _derive(password: str, salt: bytes, iterations: int) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, DIGEST_BYTES)

    @staticmethod
    def _parse(password_hash: str) -> tuple[int, bytes, bytes] | None:
        parts = password_hash.split("$")
        if len(parts) != 4 or parts[0] != SCHEME or not (parts[1].isascii() and parts[1].isdigit()):
            return None
        iterations = int(parts[1])
        if not 1 <= iterations <= MAX_ITERATIONS:
            return None
        try:
            salt = _b64decode(parts[2])
            digest = _b64decode(parts[3])
        except (binascii.Error, ValueError):
            return None
        if len(salt) < MIN_SALT_BYTES or len(digest) != DIGEST_BYTES:
            return None
        return iterations, salt, digest

    def __repr__(self) -> str:
        return f"Pbkdf2PasswordHasher(iterations={self.iterations})"
