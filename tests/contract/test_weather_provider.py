"""WeatherProvider contract for the OpenWeatherMap adapter over real HTTP (the local fake server).

Success shapes, then every failure: 401, 429 with Retry-After (bounded), 500, a hang, malformed
bodies, an unknown place, an unreachable server, and the circuit breaker opening and closing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from adapters.weather.openweathermap import OpenWeatherMapProvider
from domain.breaker import CircuitBreaker
from domain.errors import UnknownPlace, WeatherUnavailable
from domain.weather import WeatherRisk, task_weather_risk
from tests.support.fake_providers import OWM_KEY, FakeProviders, Reply, fake_providers
from tests.support.services import free_port


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with fake_providers() as server:
        yield server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def owm(fake: FakeProviders, clock: ManualClock) -> AsyncIterator[OpenWeatherMapProvider]:
    provider = OpenWeatherMapProvider(
        OWM_KEY,
        base_url=fake.base_url,
        timeout=0.5,
        retries=2,
        backoff=0.01,
        max_retry_after=0.05,
        breaker_threshold=3,
        breaker_cooldown=30,
        clock=clock,
    )
    try:
        yield provider
    finally:
        await provider.aclose()


async def test_current_weather(owm: OpenWeatherMapProvider, fake: FakeProviders) -> None:
    current = await owm.current(59.91, 10.75)
    assert (current.location.lat, current.location.lon, current.location.name) == (59.91, 10.75, "Oslo")
    assert current.conditions.temperature_c == 14.0
    assert current.conditions.description == "clear sky"
    assert current.utc_offset_seconds == 3600
    (call,) = fake.requests
    assert call.path == "/data/2.5/weather"
    assert call.query["units"] == "metric"
    assert call.query["appid"] == OWM_KEY


async def test_forecast_is_forty_three_hour_slots_with_precipitation_and_wind(
    owm: OpenWeatherMapProvider, fake: FakeProviders
) -> None:
    storm = (fake.weather.start + timedelta(days=2)).date()
    rain = (fake.weather.start + timedelta(days=1)).date()
    fake.weather.storm_on, fake.weather.rain_on = storm, rain
    forecast = await owm.forecast(59.91, 10.75)
    assert len(forecast.slots) == 40
    assert forecast.slot_hours == 3
    assert [s.at for s in forecast.slots] == sorted(s.at for s in forecast.slots)
    assert task_weather_risk(storm, forecast) is WeatherRisk.HIGH
    assert task_weather_risk(rain, forecast) is WeatherRisk.LOW
    assert task_weather_risk(fake.weather.start.date(), forecast) is WeatherRisk.NONE
    assert task_weather_risk(fake.weather.start.date() + timedelta(days=6), forecast) is None


async def test_geocode_and_unknown_place(owm: OpenWeatherMapProvider) -> None:
    oslo = await owm.geocode("Oslo,NO")
    assert (oslo.name, oslo.country) == ("Oslo", "NO")
    assert round(oslo.lat, 2) == 59.91
    with pytest.raises(UnknownPlace):
        await owm.geocode("Nowhere-on-earth")
    assert owm.breaker.state == "closed"  # an unknown place is an answer, not a failure


async def test_wrong_key_is_unavailable_without_retrying(fake: FakeProviders) -> None:
    provider = OpenWeatherMapProvider("wrong", base_url=fake.base_url, retries=3, backoff=0.01)
    try:
        with pytest.raises(WeatherUnavailable, match="OPENWEATHER_API_KEY"):
            await provider.current(59.91, 10.75)
    finally:
        await provider.aclose()
    assert fake.count("weather") == 1


async def test_429_is_retried_honouring_a_bounded_retry_after(owm: OpenWeatherMapProvider, fake: FakeProviders) -> None:
    fake.script("weather", Reply(429, {"cod": 429, "message": "too many"}, {"Retry-After": "3600"}))
    started = time.monotonic()
    current = await owm.current(59.91, 10.75)
    assert current.conditions.temperature_c == 14.0
    assert 0.05 <= time.monotonic() - started < 1.0
    assert fake.count("weather") == 2


async def test_500s_past_the_retries_are_unavailable(owm: OpenWeatherMapProvider, fake: FakeProviders) -> None:
    fake.script("forecast", *[Reply(500, {"cod": 500, "message": "Internal error"})] * 3)
    with pytest.raises(WeatherUnavailable):
        await owm.forecast(59.91, 10.75)
    assert fake.count("forecast") == 3  # one try and two retries


async def test_a_hanging_provider_times_out(owm: OpenWeatherMapProvider, fake: FakeProviders) -> None:
    fake.script("weather", *[Reply(hang=True)] * 3)
    started = time.monotonic()
    with pytest.raises(WeatherUnavailable):
        await owm.current(59.91, 10.75)
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("weather", b"<html>502 Bad Gateway</html>"),
        ("weather", {"coord": {"lat": 1}}),
        ("forecast", {"list": "not a list", "city": {}}),
        ("forecast", {"list": [{"dt": "soon", "main": {}}]}),
        ("geo", {"unexpected": True}),
        ("geo", [{"lat": 999, "lon": 0}]),
    ],
)
async def test_malformed_bodies_are_unavailable(
    owm: OpenWeatherMapProvider, fake: FakeProviders, kind: str, body: object
) -> None:
    fake.script(kind, Reply(200, body))
    call = {
        "weather": lambda: owm.current(1, 2),
        "forecast": lambda: owm.forecast(1, 2),
        "geo": lambda: owm.geocode("Oslo"),
    }[kind]
    with pytest.raises(WeatherUnavailable):
        await call()


async def test_unreachable_provider_is_unavailable() -> None:
    provider = OpenWeatherMapProvider(OWM_KEY, base_url=f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01)
    try:
        with pytest.raises(WeatherUnavailable):
            await provider.geocode("Oslo")
    finally:
        await provider.aclose()


async def test_the_circuit_opens_fails_fast_and_closes_after_a_good_trial(
    owm: OpenWeatherMapProvider, fake: FakeProviders, clock: ManualClock
) -> None:
    fake.script("weather", *[Reply(503, {"cod": 503})] * 9)
    for _ in range(3):
        with pytest.raises(WeatherUnavailable):
            await owm.current(1, 2)
    assert owm.breaker.state == "open"
    sent = len(fake.requests)
    with pytest.raises(WeatherUnavailable, match="not asking it again"):
        await owm.forecast(1, 2)
    assert len(fake.requests) == sent  # failed fast: nothing went out
    clock.now += 31
    assert owm.breaker.state == "half_open"
    forecast = await owm.forecast(1, 2)  # the trial call succeeds
    assert forecast.slots
    assert owm.breaker.state == "closed"


def test_a_failed_trial_opens_the_circuit_again() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(2, 10, clock)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    clock.now += 10
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    assert breaker.retry_in() == 10
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(0, 1)
