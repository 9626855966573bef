"""The scheduled weather refresh against the fake OpenWeatherMap: sites whose project (or an open
task) finishes in the next 5 days get their cached forecast fetched again, one call per point;
without OPENWEATHER_API_KEY the job is skipped (logged once)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.clock import FixedClock
from application.projects import NewProject
from application.tasks import NewTask
from domain.board import SiteLocation
from domain.identity import Principal, Role
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.worker import scheduled_jobs
from tests.integration.http.helpers import make_settings
from tests.support.fake_providers import OWM_KEY, FakeProviders, fake_providers

OWNER = Principal(user_id="owner-1", roles=frozenset({Role.MEMBER}))


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with fake_providers() as server:
        yield server


@pytest.fixture
async def container(fake: FakeProviders) -> AsyncIterator[Container]:
    settings = make_settings(
        OPENWEATHER_API_KEY=OWM_KEY, OPENWEATHER_BASE_URL=fake.base_url, PROVIDER_RETRY_BACKOFF_MS="1"
    )
    built = await bootstrap(settings, clock=FixedClock(datetime.now(UTC)))
    try:
        yield built
    finally:
        await built.close()


async def test_refresh_fetches_the_sites_finishing_soon_once_per_point(
    container: Container, fake: FakeProviders
) -> None:
    assert container.jobs is not None
    assert container.weather is not None
    today = container.ports.clock.now().date()
    near = SiteLocation(lat=59.91, lon=10.74)
    soon = await container.projects.create(
        OWNER, NewProject(title="Soon", site=near, finish_date=today + timedelta(days=2))
    )
    await container.projects.create(  # the same point (rounded): no second call
        OWNER, NewProject(title="Same spot", site=SiteLocation(lat=59.9101, lon=10.7399), finish_date=today)
    )
    by_task = await container.projects.create(OWNER, NewProject(title="Task due", site=SiteLocation(place="Bergen")))
    await container.tasks.create(OWNER, by_task.id, NewTask(title="pour", finish_date=today + timedelta(days=3)))
    await container.projects.create(
        OWNER, NewProject(title="Later", site=SiteLocation(lat=1.0, lon=2.0), finish_date=today + timedelta(days=30))
    )
    await container.projects.create(OWNER, NewProject(title="No site", finish_date=today + timedelta(days=1)))
    later_task = await container.projects.create(
        OWNER, NewProject(title="Task later", site=SiteLocation(lat=3.0, lon=4.0))
    )
    await container.tasks.create(OWNER, later_task.id, NewTask(title="x", finish_date=today + timedelta(days=9)))

    result = await container.jobs.maintenance.refresh_weather()
    assert result == {"projects": 3, "points": 2, "failed": 0}
    assert (fake.count("weather"), fake.count("forecast"), fake.count("geo")) == (2, 2, 1)

    # the refreshed entry is what the project's weather reads: no further upstream call
    await container.weather.for_project(OWNER, soon.id)
    assert fake.count("forecast") == 2

    # a second run fetches again (a refresh, not a cache read); the place stays geocoded from the cache
    assert await container.jobs.maintenance.refresh_weather() == result
    assert (fake.count("weather"), fake.count("forecast"), fake.count("geo")) == (4, 4, 1)


async def test_refresh_is_scheduled_with_its_interval() -> None:
    settings = make_settings(SCHEDULE_WEATHER_SECONDS="600")
    built = await bootstrap(settings)
    try:
        jobs = {job.name: job for job in scheduled_jobs(settings, built)}
        assert jobs["refresh_weather"].every == timedelta(seconds=600)
        assert make_settings().schedule_weather_seconds == 3 * 3600
    finally:
        await built.close()


async def test_without_an_api_key_the_refresh_is_skipped_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    built = await bootstrap(make_settings())
    try:
        assert built.jobs is not None
        with caplog.at_level(logging.WARNING, logger="trellis.maintenance"):
            first = await built.jobs.maintenance.refresh_weather()
            second = await built.jobs.maintenance.refresh_weather()
        assert first == second == {"skipped": "not_configured"}
        skipped = [r for r in caplog.records if r.name == "trellis.maintenance" and "skipped" in r.getMessage()]
        assert len(skipped) == 1
    finally:
        await built.close()
