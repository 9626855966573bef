"""Accounts and authentication: sign-up, password login, tokens, the current user."""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.common import EventBuffer, Ports
from domain import events as ev
from domain.errors import (
    DependencyUnavailable,
    FieldProblem,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    RateLimited,
    ValidationFailed,
    VersionConflict,
)
from domain.identity import Principal, Role, User, check_password_policy, normalise_email
from domain.ports import AccessClaims, Cache, PasswordHasher, RateLimiter, RefreshTokenStore, TokenService

DISPLAY_NAME_MAX = 100
#: login brute force: this many failed passwords per account (whatever the client IP) locks it out
LOGIN_FAILURES_RATE = "5 per 15 minutes"

#: verified access tokens remembered this long (and at most this many), so a request's rate-limit
#: lookup and its authentication share one signature check
VERIFIED_MEMO_TTL = timedelta(seconds=30)
VERIFIED_MEMO_SIZE = 4096

#: single-token logout: a revoked access token's jti is kept in the cache under this prefix
REVOKED_JTI_PREFIX = "revoked-jti:"
#: ...until the token would have expired anyway, plus this margin: the token service still
#: accepts a token a few seconds past ``exp`` (clock-skew leeway)
REVOCATION_MARGIN = timedelta(minutes=1)

_log = logging.getLogger("trellis.accounts")
EMAIL_MAX = 254


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What ``/auth/verify`` reports about a valid access token."""

    claims: AccessClaims
    user: User


class AccountService:
    def __init__(
        self,
        ports: Ports,
        hasher: PasswordHasher,
        tokens: TokenService,
        refresh_store: RefreshTokenStore,
        login_throttle: RateLimiter | None = None,
        revocations: Cache | None = None,
    ) -> None:
        self._ports = ports
        self._revocations = revocations
        self._login_throttle = login_throttle
        self._verified: dict[str, tuple[datetime, AccessClaims]] = {}
        self._hasher = hasher
        self._tokens = tokens
        self._refresh = refresh_store
        # One password check at a time per account in this process: the lock-out is read before
        # the check and a failure counted after it, so parallel guesses would all pass the read.
        self._checking: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Verifying a password we do not have still costs a hash, so unknown e-mails and
        # wrong passwords take the same time and get the same answer.
        self._dummy_hash = hasher.hash("not-a-real-password-for-timing")

    async def signup(self, email: str, password: str, display_name: str) -> User:
        email = normalise_email(email)
        problems = _email_problems(email)
        name = display_name.strip()
        if not name or len(name) > DISPLAY_NAME_MAX:
            problems.append(FieldProblem("body.display_name", f"must be 1 to {DISPLAY_NAME_MAX} characters"))
        if problems:
            raise ValidationFailed(problems)
        check_password_policy(password, email)
        now = self._ports.clock.now()
        user = User(
            id=self._ports.ids.new_id(),
            email=email,
            display_name=name,
            roles=frozenset({Role.MEMBER}),
            created_at=now,
            updated_at=now,
            password_hash=await asyncio.to_thread(self._hasher.hash, password),
        )
        await self._ports.uow.users.add(user)  # EmailTaken when the address is in use
        buffer = EventBuffer(self._ports, actor_id=user.id)
        buffer.record(ev.USER_SIGNED_UP, {"user_id": user.id}, user_id=user.id)
        await buffer.publish()
        return user

    async def check_password(self, email: str, password: str) -> User:
        """The active user with these credentials, or InvalidCredentials (one message for all).

        Brute force: after 5 failures for the account in 15 minutes it answers ``RateLimited``
        (whatever the client's IP and even for the right password) until the window frees up.
        Checks of one account are serialised in this process, so a burst of parallel guesses
        cannot all read the lock-out before the first failure is counted (across processes
        sharing Redis, at most one guess per process can be in flight past the limit).
        """
        account = normalise_email(email)
        lock = self._checking.get(account)
        if lock is None:
            lock = self._checking[account] = asyncio.Lock()
        async with lock:  # the read of the lock-out and the count of a failure, as one step
            await self._refuse_if_locked_out(account)
            try:
                return await self._check_password(email, password)
            except InvalidCredentials:
                await self._count_failure(account)
                raise

    async def _check_password(self, email: str, password: str) -> User:
        user = await self._ports.uow.users.get_by_email(normalise_email(email))
        # Hashing is CPU-bound (argon2 releases the GIL): run it off the event loop.
        if user is None or user.password_hash is None:
            await asyncio.to_thread(self._hasher.verify, password, self._dummy_hash)
            raise InvalidCredentials()
        matches = await asyncio.to_thread(self._hasher.verify, password, user.password_hash)
        if not matches or not user.active:
            raise InvalidCredentials()
        if self._hasher.needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(self._hasher.hash, password)
            user.updated_at = self._ports.clock.now()
            await self._ports.uow.users.update(user, user.version)
        return user

    async def login(self, email: str, password: str) -> TokenPair:
        user = await self.check_password(email, password)
        return await self._start_family(user)

    async def _refuse_if_locked_out(self, account: str) -> None:
        """Brute force: after 5 failures in 15 minutes the account refuses logins (any IP, any password)."""
        if self._login_throttle is None:
            return
        try:
            decision = await self._login_throttle.peek(LOGIN_FAILURES_RATE, "login-failures", account)
        except DependencyUnavailable:
            _log.warning("login_throttle_unavailable: failing open for this attempt")
            return
        if not decision.allowed:
            raise RateLimited(decision.reset_after, "Too many failed sign-ins for this account; retry later.")

    async def _count_failure(self, account: str) -> None:
        if self._login_throttle is None:
            return
        try:
            await self._login_throttle.hit(LOGIN_FAILURES_RATE, "login-failures", account)
        except DependencyUnavailable:
            _log.warning("login_throttle_unavailable: a failed login was not counted")

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = self._ports.clock.now()
        claims = self._tokens.read_refresh(refresh_token, now)
        user = await self._ports.uow.users.get(claims.subject)
        if user is None or not user.active or not user.accepts_token_issued_at(claims.issued_at):
            await self._refresh.revoke_family(claims.family_id)
            raise InvalidToken()
        new_token_id = self._ports.ids.new_id()
        if not await self._refresh.rotate(claims.family_id, claims.token_id, new_token_id):
            raise InvalidToken("The refresh token was already used or revoked; sign in again.")
        return self._pair(user, claims.family_id, new_token_id, now)[0]

    async def logout(self, refresh_token: str, access_token: str | None = None) -> None:
        """Revoke the refresh token's family and, when given, the access token (by its jti)."""
        claims = self._tokens.read_refresh(refresh_token, self._ports.clock.now())
        if access_token is not None:
            await self.revoke_access(access_token)
        await self._refresh.revoke_family(claims.family_id)

    async def logout_everywhere(self, principal: Principal, access_token: str | None = None) -> None:
        """Every access and refresh token of the caller issued before now stops working.

        The cutoff is one field on the user (no list of tokens); ``authenticate`` and ``refresh``
        compare each token's ``iat`` with it. The caller's own access token is also revoked by
        jti, since the cutoff spares tokens issued in the same second.
        """
        for attempt in range(3):
            user = await self._ports.uow.users.get(principal.user_id)
            if user is None:
                raise NotFound("The user does not exist.")
            now = self._ports.clock.now()
            user.revoke_tokens(now)
            user.updated_at = now
            try:
                await self._ports.uow.users.update(user, user.version)
                break
            except VersionConflict:
                if attempt == 2:
                    raise
        _log.info("security_event: logout_everywhere user_id=%s", principal.user_id)
        if access_token is not None:
            await self.revoke_access(access_token)

    async def revoke_access(self, access_token: str) -> None:
        """Put a valid access token's jti in the revoked set until the token would expire.

        A token that no longer verifies (expired, not ours) has nothing left to revoke. A cache
        outage raises ``DependencyUnavailable`` (503): the caller must know the token still works.
        """
        if self._revocations is None:
            return
        now = self._ports.clock.now()
        try:
            claims = self._tokens.verify_access(access_token, now)
        except InvalidToken:
            return
        ttl = max(1, math.ceil((claims.expires_at + REVOCATION_MARGIN - now).total_seconds()))
        await self._revocations.set(REVOKED_JTI_PREFIX + claims.jti, b"1", ttl)

    def access_subject(self, access_token: str) -> str | None:
        """The user id of a valid access token (signature and claims checked), else None.

        For per-principal rate limits before routing; the verification is memoised briefly so
        ``authenticate`` on the same request does not verify the token a second time.
        """
        try:
            return self._verified_claims(access_token).subject
        except InvalidToken:
            return None

    def _verified_claims(self, access_token: str) -> AccessClaims:
        now = self._ports.clock.now()
        memo = self._verified.get(access_token)
        if memo is not None and memo[0] > now and memo[1].expires_at > now:
            return memo[1]
        claims = self._tokens.verify_access(access_token, now)
        if len(self._verified) >= VERIFIED_MEMO_SIZE:
            self._verified.pop(next(iter(self._verified)))  # the oldest entry goes first
        self._verified[access_token] = (now + VERIFIED_MEMO_TTL, claims)
        return claims

    async def authenticate(self, access_token: str) -> Principal:
        """The caller behind a bearer token, with the roles the user holds *now*."""
        claims = self._verified_claims(access_token)
        return (await self._live_user(claims)).principal

    async def verify(self, access_token: str) -> TokenCheck:
        claims = self._tokens.verify_access(access_token, self._ports.clock.now())
        return TokenCheck(claims=claims, user=await self._live_user(claims))

    async def _live_user(self, claims: AccessClaims) -> User:
        """The user behind verified claims, if the account is active and the token not revoked
        (neither by the user's logout-everywhere cutoff nor by its jti)."""
        user = await self._ports.uow.users.get(claims.subject)
        if user is None or not user.active or not user.accepts_token_issued_at(claims.issued_at):
            raise InvalidToken()
        if await self._jti_revoked(claims.jti):
            raise InvalidToken("The access token was revoked; sign in again.")
        return user

    async def _jti_revoked(self, jti: str) -> bool:
        """One cache read. Fails open on a cache outage: the revoked set only serves single-token
        logout of a short-lived access token, while logout-everywhere and deactivation live on
        the user record read above, so an outage degrades logout of one session and never turns
        every authenticated request into a 503."""
        if self._revocations is None:
            return False
        try:
            return await self._revocations.get(REVOKED_JTI_PREFIX + jti) is not None
        except DependencyUnavailable:
            _log.warning("revocation_check_unavailable: failing open for this request")
            return False

    async def me(self, principal: Principal) -> User:
        user = await self._ports.uow.users.get(principal.user_id)
        if user is None:
            raise NotFound("The user does not exist.")
        return user

    async def start_session(self, user: User) -> TokenPair:
        """A new token pair (and refresh family) for a user another use case authenticated (OIDC)."""
        return await self._start_family(user)

    async def _start_family(self, user: User) -> TokenPair:
        now = self._ports.clock.now()
        family_id = self._ports.ids.new_id()
        token_id = self._ports.ids.new_id()
        pair, refresh_ttl = self._pair(user, family_id, token_id, now)
        await self._refresh.start_family(family_id, user.id, token_id, now + timedelta(seconds=refresh_ttl))
        return pair

    def _pair(self, user: User, family_id: str, token_id: str, now: datetime) -> tuple[TokenPair, int]:
        access = self._tokens.issue_access(user.principal, now)
        refresh = self._tokens.issue_refresh(user.id, family_id, token_id, now)
        pair = TokenPair(access_token=access.token, refresh_token=refresh.token, expires_in=access.expires_in)
        return pair, refresh.expires_in


def _email_problems(email: str) -> list[FieldProblem]:
    local, _, domain_part = email.partition("@")
    if not local or "." not in domain_part or len(email) > EMAIL_MAX or any(c.isspace() for c in email):
        return [FieldProblem("body.email", "must be a valid e-mail address")]
    return []
