"""An in-process ``TokenService``: opaque random tokens mapped to their claims.

Tokens mean something only to the process that issued them (they are references into a dict,
not self-contained), which is what the embedded default and the test suites need. The contract
is the one of ``JoseTokenService``: times are kept to whole seconds (as JWT NumericDates are),
a token is valid while ``issued_at - leeway <= now < expires_at + leeway``, an access token is
no refresh token and the other way round, and every failure is ``InvalidToken``.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from domain.errors import InvalidToken
from domain.identity import Principal
from domain.ports import AccessClaims, IssuedToken, RefreshClaims

DEFAULT_ACCESS_TTL = timedelta(minutes=15)
DEFAULT_REFRESH_TTL = timedelta(days=14)
_SWEEP_EVERY = 256


def _whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return moment.replace(microsecond=0)


def _ttl_seconds(ttl: timedelta, name: str) -> int:
    seconds = int(ttl.total_seconds())
    if seconds < 1:
        raise ValueError(f"{name} must be at least one second")
    return seconds


class InMemoryTokenService:
    def __init__(
        self,
        *,
        access_ttl: timedelta = DEFAULT_ACCESS_TTL,
        refresh_ttl: timedelta = DEFAULT_REFRESH_TTL,
        leeway: timedelta = timedelta(0),
    ) -> None:
        self._access_seconds = _ttl_seconds(access_ttl, "access_ttl")
        self._refresh_seconds = _ttl_seconds(refresh_ttl, "refresh_ttl")
        if leeway < timedelta(0):
            raise ValueError("leeway must not be negative")
        self._leeway = leeway
        self._access: dict[str, AccessClaims] = {}
        self._refresh: dict[str, tuple[RefreshClaims, datetime]] = {}
        self._issued = 0

    # --- access -----------------------------------------------------------------------------

    def issue_access(self, principal: Principal, now: datetime) -> IssuedToken:
        issued_at = _whole_seconds(now)
        jti = secrets.token_urlsafe(16)
        claims = AccessClaims(
            subject=principal.user_id,
            roles=frozenset(principal.roles),
            jti=jti,
            issued_at=issued_at,
            expires_at=issued_at + timedelta(seconds=self._access_seconds),
        )
        token = secrets.token_urlsafe(32)
        self._access[token] = claims
        self._after_issue(issued_at)
        return IssuedToken(token=token, expires_in=self._access_seconds, jti=jti)

    def verify_access(self, token: str, now: datetime) -> AccessClaims:
        claims = self._access.get(token) if isinstance(token, str) else None
        if claims is None or not self._in_window(claims.issued_at, claims.expires_at, now):
            raise InvalidToken()
        return claims

    # --- refresh ----------------------------------------------------------------------------

    def issue_refresh(self, subject: str, family_id: str, token_id: str, now: datetime) -> IssuedToken:
        issued_at = _whole_seconds(now)
        claims = RefreshClaims(
            subject=subject,
            family_id=family_id,
            token_id=token_id,
            expires_at=issued_at + timedelta(seconds=self._refresh_seconds),
            issued_at=issued_at,
        )
        token = secrets.token_urlsafe(32)
        self._refresh[token] = (claims, issued_at)
        self._after_issue(issued_at)
        return IssuedToken(token=token, expires_in=self._refresh_seconds, jti=token_id)

    def read_refresh(self, token: str, now: datetime) -> RefreshClaims:
        entry = self._refresh.get(token) if isinstance(token, str) else None
        if entry is None or not self._in_window(entry[1], entry[0].expires_at, now):
            raise InvalidToken()
        return entry[0]

    # --- internals --------------------------------------------------------------------------

    def _in_window(self, issued_at: datetime, expires_at: datetime, now: datetime) -> bool:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        return issued_at - self._leeway <= now < expires_at + self._leeway

    def _after_issue(self, now: datetime) -> None:
        """Forget expired tokens from time to time so the dicts stay bounded by live tokens."""
        self._issued += 1
        if self._issued % _SWEEP_EVERY:
            return
        cutoff = now - self._leeway
        self._access = {t: c for t, c in self._access.items() if c.expires_at > cutoff}
        self._refresh = {t: e for t, e in self._refresh.items() if e[0].expires_at > cutoff}
