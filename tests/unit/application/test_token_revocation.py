"""AccountService revocation: the per-user cutoff (logout everywhere) and the revoked-jti set.

The revoked set is read once per ``authenticate``; a cache outage fails *open* there (the
short-lived access token keeps working, with a warning) but fails *closed* on ``logout`` (503:
the client must not believe its token was revoked).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.cache import MemoryCache
from adapters.memory.clock import FixedClock
from adapters.memory.hashing import Pbkdf2PasswordHasher
from adapters.memory.refresh_tokens import MemoryRefreshTokenStore
from adapters.memory.tokens import InMemoryTokenService
from application.accounts import REVOCATION_MARGIN, REVOKED_JTI_PREFIX, AccountService, TokenPair
from application.common import Ports
from domain.errors import DependencyUnavailable, InvalidToken
from domain.identity import Role, User

EMAIL = "grace@example.com"
PASSWORD = "violet-anchor-93-drift"


class SwitchableCache(MemoryCache):
    """A memory cache that can be switched off, as Redis going away looks through the port."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.ttls: dict[str, int] = {}

    async def get(self, key: str) -> bytes | None:
        if self.down:
            raise DependencyUnavailable("redis")
        return await super().get(key)

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if self.down:
            raise DependencyUnavailable("redis")
        self.ttls[key] = ttl_seconds
        await super().set(key, value, ttl_seconds)


@pytest.fixture
def cache() -> SwitchableCache:
    return SwitchableCache()


@pytest.fixture
def accounts(
    ports: Ports,
    hasher: Pbkdf2PasswordHasher,
    tokens: InMemoryTokenService,
    refresh_store: MemoryRefreshTokenStore,
    cache: SwitchableCache,
) -> AccountService:
    return AccountService(ports, hasher, tokens, refresh_store, revocations=cache)


@pytest.fixture
async def user(accounts: AccountService) -> User:
    return await accounts.signup(EMAIL, PASSWORD, "Grace")


async def _login(accounts: AccountService) -> TokenPair:
    return await accounts.login(EMAIL, PASSWORD)


async def test_logout_everywhere_refuses_earlier_tokens_and_accepts_later_ones(
    accounts: AccountService, user: User, clock: FixedClock
) -> None:
    first = await _login(accounts)
    clock.advance(2)

    await accounts.logout_everywhere(user.principal)

    with pytest.raises(InvalidToken):
        await accounts.authenticate(first.access_token)
    with pytest.raises(InvalidToken):
        await accounts.verify(first.access_token)
    with pytest.raises(InvalidToken):
        await accounts.refresh(first.refresh_token)
    second = await _login(accounts)
    assert (await accounts.authenticate(second.access_token)).user_id == user.id
    assert (await accounts.refresh(second.refresh_token)).access_token


def test_the_cutoff_compares_whole_seconds_rounding_the_cutoff_down() -> None:
    at = datetime(2025, 1, 1, 9, 0, 10, 500000, tzinfo=UTC)
    user = User(id="u", email=EMAIL, display_name="G", roles=frozenset({Role.MEMBER}), created_at=at, updated_at=at)
    assert user.accepts_token_issued_at(at - timedelta(days=1))  # no cutoff yet

    user.revoke_tokens(at)

    assert user.tokens_valid_after == at
    assert user.accepts_token_issued_at(datetime(2025, 1, 1, 9, 0, 10, tzinfo=UTC))  # the cutoff's second
    assert user.accepts_token_issued_at(datetime(2025, 1, 1, 9, 0, 11, tzinfo=UTC))
    assert not user.accepts_token_issued_at(datetime(2025, 1, 1, 9, 0, 9, tzinfo=UTC))


async def test_a_revoked_jti_is_kept_for_the_tokens_remaining_life(
    accounts: AccountService, user: User, cache: SwitchableCache, tokens: InMemoryTokenService, clock: FixedClock
) -> None:
    pair = await _login(accounts)
    clock.advance(60)
    jti = tokens.verify_access(pair.access_token, clock.now()).jti

    await accounts.logout(pair.refresh_token, pair.access_token)

    remaining = timedelta(seconds=pair.expires_in - 60) + REVOCATION_MARGIN
    assert cache.ttls == {REVOKED_JTI_PREFIX + jti: int(remaining.total_seconds())}
    with pytest.raises(InvalidToken, match="revoked"):
        await accounts.authenticate(pair.access_token)


async def test_a_cache_outage_fails_open_on_authenticate(
    accounts: AccountService, user: User, cache: SwitchableCache, caplog: pytest.LogCaptureFixture
) -> None:
    pair = await _login(accounts)
    cache.down = True

    with caplog.at_level(logging.WARNING, logger="trellis.accounts"):
        assert (await accounts.authenticate(pair.access_token)).user_id == user.id

    assert "revocation_check_unavailable" in caplog.text


async def test_a_cache_outage_fails_closed_on_logout(
    accounts: AccountService, user: User, cache: SwitchableCache
) -> None:
    pair = await _login(accounts)
    cache.down = True

    with pytest.raises(DependencyUnavailable):
        await accounts.logout(pair.refresh_token, pair.access_token)

    cache.down = False
    assert await accounts.authenticate(pair.access_token)  # not revoked: the client was told so (503)
