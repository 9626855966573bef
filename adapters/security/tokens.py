"""The ``TokenService`` port on python-jose.

Access tokens are signed JWTs (HS256, RS256 or ES256) with ``kid`` in the header; the key that
verifies a token is chosen by that ``kid`` from a set of verification keys (so keys can rotate)
and the algorithm is pinned to that key's algorithm, never taken from the token. Refresh tokens
are JWEs (``dir`` + ``A256GCM``): opaque to clients, tamper-evident, readable only by us.

Times come from the caller (the Clock port), not from the wall clock: python-jose's own
``exp``/``nbf`` checks use ``datetime.now`` and are switched off; ``verify_access`` and
``read_refresh`` check ``exp``, ``iat`` and ``nbf`` against ``now`` themselves, allowing a small
``leeway`` for clock skew between processes. Every failure is ``domain.errors.InvalidToken``.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwe, jwk, jwt
from jose.backends.base import Key

from domain.errors import InvalidToken
from domain.identity import Principal, Role
from domain.ports import AccessClaims, IssuedToken, RefreshClaims

HS256 = "HS256"
RS256 = "RS256"
ES256 = "ES256"
SUPPORTED_ALGORITHMS = frozenset({HS256, RS256, ES256})

MIN_HMAC_SECRET_BYTES = 32
MIN_RSA_KEY_BITS = 2048
REFRESH_KEY_BYTES = 32  # A256GCM with direct encryption: the key is the 256-bit CEK
REFRESH_ALG = "dir"
REFRESH_ENC = "A256GCM"
REFRESH_TYP = "refresh"

DEFAULT_ACCESS_TTL = timedelta(minutes=15)
DEFAULT_REFRESH_TTL = timedelta(days=14)
DEFAULT_LEEWAY = timedelta(seconds=10)
# Far above what we issue; refuses absurd inputs before any parsing.
MAX_TOKEN_CHARS = 8 * 1024

_KNOWN_ROLES = frozenset(role.value for role in Role)
_REQUIRED_ACCESS_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti")


# --- keys ---------------------------------------------------------------------------------


def _as_bytes(material: str | bytes) -> bytes:
    return material.encode("utf-8") if isinstance(material, str) else bytes(material)


def _check_private_key(algorithm: str, material: bytes) -> None:
    if algorithm == HS256:
        _check_hmac_secret(material)
        return
    try:
        key = serialization.load_pem_private_key(material, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{algorithm} signing material must be an unencrypted PEM private key") from exc
    _check_key_type(algorithm, key)


def _check_public_key(algorithm: str, material: bytes) -> None:
    if algorithm == HS256:
        _check_hmac_secret(material)
        return
    try:
        key = serialization.load_pem_public_key(material)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{algorithm} verification material must be a PEM public key") from exc
    _check_key_type(algorithm, key)


def _check_hmac_secret(material: bytes) -> None:
    if len(material) < MIN_HMAC_SECRET_BYTES:
        raise ValueError(f"an HS256 secret must be at least {MIN_HMAC_SECRET_BYTES} bytes")
    if b"-----BEGIN" in material or material.startswith(b"ssh-"):
        # The classic algorithm-confusion set-up: a public key used as an HMAC secret.
        raise ValueError("an asymmetric key must not be used as an HS256 secret")


def _check_key_type(algorithm: str, key: object) -> None:
    if algorithm == RS256:
        if not isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            raise ValueError("RS256 needs an RSA key")
        if key.key_size < MIN_RSA_KEY_BITS:
            raise ValueError(f"RS256 needs an RSA key of at least {MIN_RSA_KEY_BITS} bits")
    elif algorithm == ES256:
        if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            raise ValueError("ES256 needs an EC key")
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs a key on the P-256 curve")


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise ValueError(f"unsupported algorithm {algorithm!r}; use one of {sorted(SUPPORTED_ALGORITHMS)}")


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """What verifies tokens signed under one ``kid``: the HS256 secret, or a PEM public key."""

    algorithm: str
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_algorithm(self.algorithm)
        _check_public_key(self.algorithm, self.material)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The key access tokens are signed with: the HS256 secret, or an unencrypted PEM private key."""

    kid: str
    algorithm: str
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.kid:
            raise ValueError("a signing key needs a kid")
        _check_algorithm(self.algorithm)
        _check_private_key(self.algorithm, self.material)

    def verification_key(self) -> VerificationKey:
        """The matching verification key (the secret itself for HS256, else the public key)."""
        if self.algorithm == HS256:
            return VerificationKey(HS256, self.material)
        private = serialization.load_pem_private_key(self.material, password=None)
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return VerificationKey(self.algorithm, public_pem)


def generate_development_key() -> SigningKey:
    """An HS256 key with a random 32-byte secret and a random kid: the embedded default.

    Tokens it signs die with the process; production refuses to start on it.
    """
    return SigningKey(kid=f"dev-{secrets.token_hex(8)}", algorithm=HS256, material=secrets.token_bytes(32))


def generate_refresh_key() -> bytes:
    """A random 256-bit key for refresh-token encryption (the development default)."""
    return secrets.token_bytes(REFRESH_KEY_BYTES)


def load_private_key_pem(pem: str | bytes, kid: str) -> SigningKey:
    """A signing key from an unencrypted PEM private key: RS256 for RSA, ES256 for EC P-256."""
    material = _as_bytes(pem)
    try:
        key = serialization.load_pem_private_key(material, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("not an unencrypted PEM private key") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = RS256
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = ES256
    else:
        raise ValueError("only RSA (RS256) and EC P-256 (ES256) private keys are supported")
    return SigningKey(kid=kid, algorithm=algorithm, material=material)


# --- claim checks -------------------------------------------------------------------------


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidToken()
    return value


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken()
    return float(value)


def _to_datetime(timestamp: float) -> datetime:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidToken() from exc


def _timestamp(now: datetime) -> float:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.timestamp()


def _ttl_seconds(ttl: timedelta, name: str) -> int:
    seconds = int(ttl.total_seconds())
    if seconds < 1:
        raise ValueError(f"{name} must be at least one second")
    return seconds


def _json_object(payload: bytes) -> dict[str, Any]:
    claims = json.loads(payload.decode("utf-8"))
    if not isinstance(claims, dict):
        raise InvalidToken()
    return claims


# --- the service --------------------------------------------------------------------------


class JoseTokenService:
    def __init__(
        self,
        *,
        signing_key: SigningKey,
        issuer: str,
        audience: str,
        refresh_key: bytes,
        verification_keys: Mapping[str, VerificationKey] | None = None,
        access_ttl: timedelta = DEFAULT_ACCESS_TTL,
        refresh_ttl: timedelta = DEFAULT_REFRESH_TTL,
        leeway: timedelta = DEFAULT_LEEWAY,
    ) -> None:
        """``verification_keys`` maps kid -> key for every key whose tokens are still accepted
        (the current one is added when missing); ``refresh_key`` is 32 bytes."""
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        if len(refresh_key) != REFRESH_KEY_BYTES:
            raise ValueError(f"refresh_key must be {REFRESH_KEY_BYTES} bytes")
        if leeway < timedelta(0):
            raise ValueError("leeway must not be negative")
        keys = dict(verification_keys or {})
        own = keys.setdefault(signing_key.kid, signing_key.verification_key())
        if own.algorithm != signing_key.algorithm:
            raise ValueError(f"verification key {signing_key.kid!r} does not match the signing key's algorithm")
        self._issuer = issuer
        self._audience = audience
        self._kid = signing_key.kid
        self._algorithm = signing_key.algorithm
        self._signer: Key = jwk.construct(signing_key.material, signing_key.algorithm)
        self._verifiers: dict[str, tuple[str, Key]] = {
            kid: (key.algorithm, jwk.construct(key.material, key.algorithm)) for kid, key in keys.items()
        }
        self._refresh_key = bytes(refresh_key)
        self._access_seconds = _ttl_seconds(access_ttl, "access_ttl")
        self._refresh_seconds = _ttl_seconds(refresh_ttl, "refresh_ttl")
        self._leeway = leeway.total_seconds()

    # --- access -----------------------------------------------------------------------------

    def issue_access(self, principal: Principal, now: datetime) -> IssuedToken:
        issued_at = int(_timestamp(now))
        jti = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": principal.user_id,
            "iat": issued_at,
            "exp": issued_at + self._access_seconds,
            "jti": jti,
            "roles": sorted(role.value for role in principal.roles),
        }
        token = jwt.encode(claims, self._signer, algorithm=self._algorithm, headers={"kid": self._kid})
        return IssuedToken(token=token, expires_in=self._access_seconds, jti=jti)

    def verify_access(self, token: str, now: datetime) -> AccessClaims:
        now_ts = _timestamp(now)
        try:
            return self._verify_access(token, now_ts)
        except InvalidToken:
            raise
        except Exception as exc:  # any parse/crypto/shape failure: the token is not ours
            raise InvalidToken() from exc

    def _verify_access(self, token: str, now_ts: float) -> AccessClaims:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS or token.count(".") != 2:
            raise InvalidToken()
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in self._verifiers:
            raise InvalidToken()
        algorithm, key = self._verifiers[kid]
        # The algorithm is the configured key's, whatever the header says ("none", HS256 on an
        # RSA key, ...); jose is told the same so the check does not rest on one line alone.
        if header.get("alg") != algorithm or "crit" in header:
            raise InvalidToken()
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=self._audience,
            issuer=self._issuer,
            options={
                # jose checks these against the wall clock; they are checked against ``now`` below.
                # (``require_exp`` would turn ``verify_exp`` back on, so presence is checked here.)
                "verify_exp": False,
                "verify_nbf": False,
                "verify_at_hash": False,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
                "require_iat": True,
                "require_jti": True,
            },
        )
        if any(name not in claims for name in _REQUIRED_ACCESS_CLAIMS):
            raise InvalidToken()
        if claims["iss"] != self._issuer:
            raise InvalidToken()
        audience = claims["aud"]
        if not (audience == self._audience or (isinstance(audience, list) and self._audience in audience)):
            raise InvalidToken()
        subject = _text(claims, "sub")
        jti = _text(claims, "jti")
        issued_at, expires_at = self._check_times(claims, now_ts)
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) and r in _KNOWN_ROLES for r in roles):
            raise InvalidToken()
        return AccessClaims(
            subject=subject,
            roles=frozenset(Role(r) for r in roles),
            jti=jti,
            issued_at=issued_at,
            expires_at=expires_at,
        )

    # --- refresh ----------------------------------------------------------------------------

    def issue_refresh(self, subject: str, family_id: str, token_id: str, now: datetime) -> IssuedToken:
        issued_at = int(_timestamp(now))
        payload = {
            "typ": REFRESH_TYP,
            "sub": subject,
            "fam": family_id,
            "jti": token_id,
            "iat": issued_at,
            "exp": issued_at + self._refresh_seconds,
        }
        plaintext = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        token = jwe.encrypt(plaintext, self._refresh_key, encryption=REFRESH_ENC, algorithm=REFRESH_ALG)
        return IssuedToken(token=token.decode("ascii"), expires_in=self._refresh_seconds, jti=token_id)

    def read_refresh(self, token: str, now: datetime) -> RefreshClaims:
        now_ts = _timestamp(now)
        try:
            return self._read_refresh(token, now_ts)
        except InvalidToken:
            raise
        except Exception as exc:  # any parse/crypto/shape failure: the token is not ours
            raise InvalidToken() from exc

    def _read_refresh(self, token: str, now_ts: float) -> RefreshClaims:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS or token.count(".") != 4:
            raise InvalidToken()
        header = jwe.get_unverified_header(token)
        # Pinned: only what we issue. No other key management, cipher or compression is tried.
        if set(header) != {"alg", "enc"} or header["alg"] != REFRESH_ALG or header["enc"] != REFRESH_ENC:
            raise InvalidToken()
        plaintext = jwe.decrypt(token, self._refresh_key)
        if plaintext is None:  # jose's "CEK could not be determined" (e.g. a non-empty encrypted key)
            raise InvalidToken()
        claims = _json_object(plaintext)
        if claims.get("typ") != REFRESH_TYP:
            raise InvalidToken()
        issued_at, expires_at = self._check_times(claims, now_ts)
        return RefreshClaims(
            subject=_text(claims, "sub"),
            family_id=_text(claims, "fam"),
            token_id=_text(claims, "jti"),
            expires_at=expires_at,
            issued_at=issued_at,
        )

    # --- shared -----------------------------------------------------------------------------

    def _check_times(self, claims: Mapping[str, Any], now_ts: float) -> tuple[datetime, datetime]:
        """Valid while ``iat - leeway <= now < exp + leeway`` (and not before ``nbf`` if present)."""
        issued_at = _numeric_date(claims, "iat")
        expires_at = _numeric_date(claims, "exp")
        if expires_at <= issued_at:
            raise InvalidToken()
        if now_ts >= expires_at + self._leeway:
            raise InvalidToken("The token has expired.")
        if issued_at > now_ts + self._leeway:
            raise InvalidToken()
        if "nbf" in claims and _numeric_date(claims, "nbf") > now_ts + self._leeway:
            raise InvalidToken()
        return _to_datetime(issued_at), _to_datetime(expires_at)

    def __repr__(self) -> str:
        return (
            f"JoseTokenService(issuer={self._issuer!r}, audience={self._audience!r}, kid={self._kid!r}, "
            f"algorithm={self._algorithm!r}, verification_kids={sorted(self._verifiers)!r})"
        )
