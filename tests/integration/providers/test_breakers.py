"""Hanging providers over real HTTP (the local fake server): the circuit breakers contain them.

Azure AI Language and an OpenID provider that accept the connection and never answer: N calls
wait out their timeouts, the breaker opens, the next call fails in well under a second without
a request going out, and after the cool-down (an injected clock, no sleeping) one trial call
closes it again. Timing bounds are generous on purpose: they separate "failed fast" from
"waited out a timeout", not milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from adapters.language.azure import AzureTextAnalyzer
from adapters.security.oidc import OidcIdentityProvider
from domain.errors import IdentityProviderUnavailable, OidcLoginFailed, TextAnalysisUnavailable
from tests.support.fake_providers import AZURE_KEY, FakeProviders, Reply, fake_providers

HANG = Reply(hang=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with fake_providers() as server:
        yield server


async def test_a_hanging_language_service_costs_one_budget_not_four_timeouts(fake: FakeProviders) -> None:
    # without the budget: 4 attempts of ~5 s each; with it, one analysis gives up after 0.5 s
    azure = AzureTextAnalyzer(fake.base_url, AZURE_KEY, timeout=5.0, retries=3, backoff=0.001, budget=0.5)
    fake.script("language", *[HANG] * 4)
    try:
        started = time.perf_counter()
        with pytest.raises(TextAnalysisUnavailable):
            await azure.analyze(["The roof is done."])
        assert time.perf_counter() - started < 3
        assert azure.breaker.failures == 1
    finally:
        await azure.aclose()


async def test_the_language_breaker_opens_fails_fast_and_recovers_after_the_cooldown(fake: FakeProviders) -> None:
    clock = Clock()
    azure = AzureTextAnalyzer(
        fake.base_url,
        AZURE_KEY,
        timeout=0.3,
        retries=0,
        backoff=0.001,
        budget=2.0,
        breaker_threshold=2,
        breaker_cooldown=30,
        clock=clock,
    )
    fake.script("language", *[HANG] * 2)
    try:
        for _ in range(2):
            with pytest.raises(TextAnalysisUnavailable):
                await azure.analyze(["The roof is done."])
        assert azure.breaker.state == "open"
        sent = fake.count("language")
        started = time.perf_counter()
        with pytest.raises(TextAnalysisUnavailable, match="not asking it again"):
            await azure.analyze(["The cellar is flooded."])
        assert time.perf_counter() - started < 1
        assert fake.count("language") == sent  # nothing went out

        clock.now += 30  # half-open: the next analysis is the trial, and the service is back
        [analysis] = await azure.analyze(["Great progress on the roof."])
        assert analysis.analyzer == "azure"
        assert azure.breaker.state == "closed"
    finally:
        await azure.aclose()


async def test_a_failed_language_trial_opens_the_breaker_again(fake: FakeProviders) -> None:
    clock = Clock()
    azure = AzureTextAnalyzer(
        fake.base_url,
        AZURE_KEY,
        timeout=0.3,
        retries=0,
        budget=2.0,
        breaker_threshold=1,
        breaker_cooldown=30,
        clock=clock,
    )
    fake.script("language", HANG, HANG)
    try:
        with pytest.raises(TextAnalysisUnavailable):
            await azure.analyze(["one"])
        clock.now += 30
        with pytest.raises(TextAnalysisUnavailable):
            await azure.analyze(["two"])  # the trial hangs too
        assert azure.breaker.state == "open"
        assert fake.count("language") == 2
    finally:
        await azure.aclose()


async def test_a_hanging_openid_provider_answers_unavailable_fast_once_the_breaker_opens(fake: FakeProviders) -> None:
    clock = Clock()
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3)) as http:
        oidc = OidcIdentityProvider(
            "fake",
            issuer=fake.base_url,
            client_id="trellis",
            client_secret=None,
            redirect_uri="http://localhost/api/v1/auth/oidc/fake/callback",
            http=http,
            breaker_threshold=3,
            breaker_cooldown=30,
            clock=clock,
        )
        fake.script("discovery", *[HANG] * 3)
        for _ in range(3):
            with pytest.raises(IdentityProviderUnavailable):
                await oidc.authorization_url(state="s", nonce="n", code_challenge="c")
        assert oidc.breaker.state == "open"
        started = time.perf_counter()
        with pytest.raises(IdentityProviderUnavailable, match="not asking it again"):
            await oidc.authorization_url(state="s", nonce="n", code_challenge="c")
        assert time.perf_counter() - started < 1
        assert fake.count("discovery") == 3

        clock.now += 30
        url = await oidc.authorization_url(state="s", nonce="n", code_challenge="c")
        assert url.startswith(f"{fake.base_url}/authorize?")
        assert oidc.breaker.state == "closed"


async def test_a_refused_code_is_an_answer_not_a_provider_failure(fake: FakeProviders) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as http:
        oidc = OidcIdentityProvider(
            "fake",
            issuer=fake.base_url,
            client_id="trellis",
            client_secret=None,
            redirect_uri="http://localhost/api/v1/auth/oidc/fake/callback",
            http=http,
            breaker_threshold=1,
        )
        for _ in range(3):  # the fake's token endpoint answers 400 invalid_grant
            with pytest.raises(OidcLoginFailed, match="invalid_grant"):
                await oidc.exchange_code(code="c", code_verifier="v", nonce="n", now=datetime.now(UTC))
        assert oidc.breaker.state == "closed"
