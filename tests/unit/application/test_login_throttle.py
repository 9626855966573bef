"""The login brute-force rule: failures counted per account; a locked account refuses every password."""

from __future__ import annotations

from collections import Counter

import pytest

from adapters.memory.hashing import Pbkdf2PasswordHasher
from adapters.memory.refresh_tokens import MemoryRefreshTokenStore
from adapters.memory.tokens import InMemoryTokenService
from application.accounts import LOGIN_FAILURES_RATE, AccountService
from application.common import Ports
from domain.errors import DependencyUnavailable, InvalidCredentials, RateLimited
from domain.ports import RateDecision

EMAIL = "ada@example.com"
PASSWORD = "violet-anchor-93-drift"
LIMIT = 5


class CountingLimiter:
    """A fixed-window limiter good enough for the rule: LIMIT events per key, then refused."""

    def __init__(self, *, down: bool = False) -> None:
        self.counts: Counter[tuple[str, ...]] = Counter()
        self.rates: set[str] = set()
        self.down = down

    def _decision(self, key: tuple[str, ...]) -> RateDecision:
        used = self.counts[key]
        allowed = used < LIMIT
        return RateDecision(
            allowed=allowed, limit=LIMIT, remaining=max(0, LIMIT - used), reset_after=0 if allowed else 900
        )

    async def hit(self, rate: str, *key: str) -> RateDecision:
        if self.down:
            raise DependencyUnavailable("redis")
        self.rates.add(rate)
        decision = self._decision(key)
        if decision.allowed:
            self.counts[key] += 1
        return decision

    async def peek(self, rate: str, *key: str) -> RateDecision:
        if self.down:
            raise DependencyUnavailable("redis")
        self.rates.add(rate)
        return self._decision(key)

    async def clear(self, rate: str, *key: str) -> None:
        self.counts.pop(key, None)


def _service(ports: Ports, hasher: Pbkdf2PasswordHasher, limiter: CountingLimiter) -> AccountService:
    store = MemoryRefreshTokenStore(clock=lambda: ports.clock.now().timestamp())
    return AccountService(ports, hasher, InMemoryTokenService(), store, login_throttle=limiter)


async def test_five_failures_lock_the_account_even_for_the_right_password(
    ports: Ports, hasher: Pbkdf2PasswordHasher
) -> None:
    limiter = CountingLimiter()
    accounts = _service(ports, hasher, limiter)
    await accounts.signup(EMAIL, PASSWORD, "Ada")

    for _ in range(LIMIT):
        with pytest.raises(InvalidCredentials):
            await accounts.login("ADA@example.com", "wrong-password-000")

    with pytest.raises(RateLimited) as raised:
        await accounts.login(EMAIL, PASSWORD)
    assert raised.value.code == "rate_limited"
    assert raised.value.retry_after == 900
    assert limiter.counts == Counter({("login-failures", EMAIL): LIMIT})
    assert limiter.rates == {LOGIN_FAILURES_RATE}


async def test_successful_logins_are_not_counted_and_other_accounts_are_unaffected(
    ports: Ports, hasher: Pbkdf2PasswordHasher
) -> None:
    limiter = CountingLimiter()
    accounts = _service(ports, hasher, limiter)
    await accounts.signup(EMAIL, PASSWORD, "Ada")
    await accounts.signup("bob@example.com", "bob-violet-anchor-93", "Bob")
    for _ in range(LIMIT):
        with pytest.raises(InvalidCredentials):
            await accounts.login("bob@example.com", "wrong-password-000")

    for _ in range(LIMIT + 1):
        assert (await accounts.login(EMAIL, PASSWORD)).access_token

    assert limiter.counts[("login-failures", EMAIL)] == 0


async def test_an_unreachable_limiter_fails_open(ports: Ports, hasher: Pbkdf2PasswordHasher) -> None:
    accounts = _service(ports, hasher, CountingLimiter(down=True))
    await accounts.signup(EMAIL, PASSWORD, "Ada")

    with pytest.raises(InvalidCredentials):
        await accounts.login(EMAIL, "wrong-password-000")
    assert (await accounts.login(EMAIL, PASSWORD)).access_token


def test_rate_limited_always_asks_for_at_least_a_second() -> None:
    assert RateLimited(0).retry_after == 1
    assert RateLimited(0).message == "Too many requests; retry later."
