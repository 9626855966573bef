"""Weather through HTTP: /weather and /projects/{id}/weather against the fake OpenWeatherMap."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.http.helpers import Api, assert_error, assert_success
from tests.integration.providers.conftest import ApiFactory
from tests.support.fake_providers import FakeProviders, Reply


async def test_weather_by_place_is_current_and_forecast_cached_ten_minutes(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    first = await api.client.get("/api/v1/weather", params={"place": "Oslo"}, headers=member.headers)
    data = assert_success(first)
    assert first.headers["cache-control"] == "public, max-age=600"
    assert data["location"] == {"lat": 59.91, "lon": 10.74, "name": "Oslo", "country": "NO"}
    assert data["current"]["temperature_c"] == 14.0
    assert data["current"]["risk"] == "none"
    assert len(data["forecast"]["slots"]) == 40
    assert set(data["forecast"]["slots"][0]) == {
        "at",
        "temperature_c",
        "wind_speed_ms",
        "precipitation_mm",
        "description",
        "humidity_percent",
        "risk",
    }
    calls = len(fake.requests)
    again = await api.client.get("/api/v1/weather", params={"place": "oslo"}, headers=member.headers)
    assert assert_success(again) == data
    nearby = await api.client.get("/api/v1/weather", params={"lat": 59.912, "lon": 10.738}, headers=member.headers)
    assert assert_success(nearby)["forecast"] == data["forecast"]
    assert len(fake.requests) == calls  # same rounded location: served from the cache


async def test_weather_by_coordinates_rounds_the_location(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    response = await api.client.get("/api/v1/weather", params={"lat": 60.39431, "lon": 5.32592}, headers=member.headers)
    data = assert_success(response)
    assert (data["location"]["lat"], data["location"]["lon"]) == (60.39, 5.33)
    assert {r.query["lat"] for r in fake.requests} == {"60.39"}


async def test_unknown_place_is_404_unknown_place(api: Api) -> None:
    member = await api.member()
    response = await api.client.get("/api/v1/weather", params={"place": "Atlantis"}, headers=member.headers)
    assert_error(response, 404, "unknown_place")


async def test_a_project_whose_site_place_geocodes_to_nothing_is_409_not_404(api: Api) -> None:
    # found by schemathesis: a project just created answered 404 on its weather, as if it were gone;
    # the project is there, its site is what cannot be found
    member = await api.member()
    project = await api.create_project(member, site={"place": "Atlantis"})
    response = await api.client.get(f"/api/v1/projects/{project['id']}/weather", headers=member.headers)
    assert_error(response, 409, "unknown_site_place")


async def test_queries_are_validated(api: Api) -> None:
    member = await api.member()
    for params, field in [
        ({}, "query.place"),
        ({"lat": "59.9"}, "query.lon"),
        ({"lat": "91", "lon": "10"}, "query.lat"),
        ({"place": "Oslo", "lat": "1", "lon": "2"}, "query.place"),
    ]:
        response = await api.client.get("/api/v1/weather", params=params, headers=member.headers)
        assert_error(response, 422, "validation_error", field)
    assert_error(await api.client.get("/api/v1/weather", params={"place": "Oslo"}), 401, "unauthenticated")


async def test_a_failing_provider_is_503_weather_unavailable_never_a_500(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    fake.script("geo", *[Reply(500, {"cod": 500})] * 3)
    response = await api.client.get("/api/v1/weather", params={"place": "Oslo"}, headers=member.headers)
    assert_error(response, 503, "weather_unavailable")
    assert response.headers["retry-after"]
    fake.script("weather", Reply(200, b"{not json"))
    response = await api.client.get("/api/v1/weather", params={"lat": 1, "lon": 2}, headers=member.headers)
    assert_error(response, 503, "weather_unavailable")
    fake.script("forecast", Reply(429, {"cod": 429}, {"Retry-After": "0"}))
    assert_success(await api.client.get("/api/v1/weather", params={"lat": 3, "lon": 4}, headers=member.headers))


async def test_a_refused_key_is_503_and_nothing_is_invented(make_api: ApiFactory) -> None:
    async with make_api(OPENWEATHER_API_KEY="revoked") as api:
        member = await api.member()
        response = await api.client.get("/api/v1/weather", params={"place": "Oslo"}, headers=member.headers)
        assert "OPENWEATHER_API_KEY" in assert_error(response, 503, "weather_unavailable")["message"]


async def test_without_a_key_the_weather_routes_name_the_variable(make_api: ApiFactory, fake: FakeProviders) -> None:
    async with make_api(weather=False) as api:
        member = await api.member()
        project = await api.create_project(member, site={"place": "Oslo"})
        for url in ("/api/v1/weather?place=Oslo", f"/api/v1/projects/{project['id']}/weather"):
            error = assert_error(await api.client.get(url, headers=member.headers), 503, "weather_unavailable")
            assert "OPENWEATHER_API_KEY" in error["message"]
    assert fake.requests == []


async def test_project_weather_gives_each_task_inside_the_window_its_risk(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    start = fake.weather.start.date()
    storm, rain = start + timedelta(days=2), start + timedelta(days=1)
    fake.weather.storm_on, fake.weather.rain_on = storm, rain
    project = await api.create_project(
        member, site={"place": "Bergen", "lat": 60.39, "lon": 5.32}, finish_date=storm.isoformat()
    )
    stormy = await api.create_task(member, project["id"], finish_date=storm.isoformat())
    wet = await api.create_task(member, project["id"], finish_date=rain.isoformat())
    calm = await api.create_task(member, project["id"], finish_date=start.isoformat())
    await api.create_task(member, project["id"], finish_date=(start + timedelta(days=30)).isoformat())
    await api.create_task(member, project["id"])

    response = await api.client.get(f"/api/v1/projects/{project['id']}/weather", headers=member.headers)
    data = assert_success(response)
    assert response.headers["cache-control"] == "private, no-cache"
    risks = {t["task_id"]: t["risk"] for t in data["tasks"]}
    assert risks == {stormy["id"]: "high", wet["id"]: "low", calm["id"]: "none"}
    assert data["project_risk"] == "high"
    assert data["worst_risk"] == "high"
    assert data["weather"]["location"]["lat"] == 60.39
    assert {r.kind for r in fake.requests} == {"weather", "forecast"}  # coordinates: no geocoding


async def test_project_weather_follows_visibility(api: Api) -> None:
    owner, other = await api.member(), await api.member()
    personal = await api.create_project(owner, site={"place": "Oslo"})
    public = await api.create_project(owner, site={"place": "Oslo"}, visibility="public")
    no_site = await api.create_project(owner)
    url = "/api/v1/projects/{}/weather"
    assert_error(await api.client.get(url.format(personal["id"]), headers=other.headers), 404, "not_found")
    assert_error(await api.client.get(url.format("missing"), headers=other.headers), 404, "not_found")
    assert_success(await api.client.get(url.format(public["id"]), headers=other.headers))
    assert_success(await api.client.get(url.format(personal["id"]), headers=owner.headers))
    assert_error(await api.client.get(url.format(no_site["id"]), headers=owner.headers), 409, "no_site_location")


async def test_an_unreadable_cache_entry_is_a_miss(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    cache = api.container.cache
    assert cache is not None
    await cache.set("weather:1:at:59.91:10.74", b'{"location": 1}', 600)
    response = await api.client.get("/api/v1/weather", params={"lat": 59.91, "lon": 10.74}, headers=member.headers)
    assert assert_success(response)["location"]["lat"] == 59.91
    assert fake.count("forecast") == 1
