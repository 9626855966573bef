"""Fixtures: the app as the service builds it, with OpenWeatherMap and (optionally) Azure AI Language
pointed at the local fake server, retries made fast. Any 5xx other than 503 fails the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from tests.integration.http.helpers import Api, running_api
from tests.support.fake_providers import AZURE_KEY, OWM_KEY, FakeProviders, fake_providers

ApiFactory = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with fake_providers() as server:
        yield server


@asynccontextmanager
async def _never_a_500(api: Api) -> AsyncIterator[Api]:
    crashes: list[str] = []

    async def record(response: httpx.Response) -> None:
        if response.status_code >= 500 and response.status_code != 503:
            await response.aread()
            crashes.append(f"{response.request.method} {response.request.url.path}: {response.text}")

    api.client.event_hooks["response"].append(record)
    yield api
    assert crashes == []


def _close_provider_clients(api: Api) -> None:
    """Close the weather and Azure HTTP clients in the loop that used them.

    Litestar's test client runs the app in a portal thread with its own event loop, so the
    clients' connections live there; closing them later from the test's loop would leak them.
    """
    own = {"AzureTextAnalyzer", "OpenWeatherMapProvider"}
    closers = api.container.closers
    for closer in [c for c in closers if type(getattr(c, "__self__", None)).__name__ in own]:
        api.client.blocking_portal.call(closer)
        closers.remove(closer)


@pytest.fixture
def make_api(fake: FakeProviders) -> ApiFactory:
    @asynccontextmanager
    async def build(*, weather: bool = True, azure: bool = False, **settings: str) -> AsyncIterator[Api]:
        env = {"PROVIDER_RETRY_BACKOFF_MS": "1"}
        if weather:
            env |= {"OPENWEATHER_API_KEY": OWM_KEY, "OPENWEATHER_BASE_URL": fake.base_url}
        if azure:
            env |= {"AZURE_LANGUAGE_ENDPOINT": fake.base_url, "AZURE_LANGUAGE_KEY": AZURE_KEY}
        async with running_api(**(env | settings)) as api:
            try:
                async with _never_a_500(api):
                    yield api
            finally:
                _close_provider_clients(api)

    return build


@pytest.fixture
async def api(make_api: ApiFactory) -> AsyncIterator[Api]:
    async with make_api() as value:
        yield value
