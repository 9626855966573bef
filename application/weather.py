"""Weather for a place or coordinates, and a project site's forecast with each task's risk.

Reports are cached (cache-aside, the ``Cache`` port: Redis or memory) for ``ttl_seconds``
(10 minutes by default) per location rounded to 2 decimals (about 1 km), so nearby requests
share one upstream call; place names are cached the same way as their geocoded point. A cache
that fails is bypassed, as for every other cached read. Without a provider (no API key) every
call raises ``WeatherUnavailable`` naming what to configure: no weather is ever invented.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from application.common import Ports
from domain.board import PLACE_MAX, Project, SiteLocation, Task, ensure_visible
from domain.errors import (
    DependencyUnavailable,
    FieldProblem,
    NoSiteLocation,
    UnknownPlace,
    UnknownSitePlace,
    ValidationFailed,
    WeatherUnavailable,
)
from domain.identity import Principal
from domain.paging import PageRequest
from domain.ports import Cache, TaskQuery, WeatherProvider
from domain.weather import Conditions, CurrentWeather, Forecast, GeoPoint, WeatherRisk, task_weather_risk, worst

T = TypeVar("T")

FORMAT = "1"
ROUND_DECIMALS = 2
TASK_PAGE = 100


@dataclass(frozen=True, slots=True)
class WeatherReport:
    location: GeoPoint  # the rounded point the report is for (named when the provider named it)
    current: CurrentWeather
    forecast: Forecast


@dataclass(frozen=True, slots=True)
class TaskRisk:
    task: Task
    risk: WeatherRisk


@dataclass(frozen=True, slots=True)
class ProjectWeather:
    project: Project
    report: WeatherReport
    #: tasks with a finish date inside the forecast window, with their risk
    tasks: list[TaskRisk]
    #: the project's own finish date's risk, when that date is inside the window
    project_risk: WeatherRisk | None

    @property
    def worst(self) -> WeatherRisk:
        return worst([t.risk for t in self.tasks] + ([self.project_risk] if self.project_risk is not None else []))


class WeatherService:
    def __init__(
        self,
        ports: Ports,
        provider: WeatherProvider | None,
        cache: Cache | None = None,
        *,
        ttl_seconds: int = 600,
        not_configured: str = "Weather is not configured on this server.",
    ) -> None:
        self._ports = ports
        self._provider = provider
        self._cache = cache
        self._ttl = ttl_seconds
        self._not_configured = not_configured

    @property
    def configured(self) -> bool:
        return self._provider is not None

    def _require(self) -> WeatherProvider:
        if self._provider is None:
            raise WeatherUnavailable(self._not_configured)
        return self._provider

    async def at_place(self, place: str) -> WeatherReport:
        return await self.at_point(await self.geocode(place))

    async def at(self, lat: float, lon: float) -> WeatherReport:
        return await self.at_point(GeoPoint(lat, lon))

    async def geocode(self, place: str) -> GeoPoint:
        cleaned = " ".join(place.split())
        if not 1 <= len(cleaned) <= PLACE_MAX:
            raise ValidationFailed([FieldProblem("query.place", f"must be 1 to {PLACE_MAX} characters")])
        provider = self._require()
        key = f"weather:{FORMAT}:place:{quote(cleaned.casefold(), safe='')}"
        cached = await self._cache_get(key, _point_from)
        if cached is not None:
            return cached
        point = await provider.geocode(cleaned)
        await self._cache_set(key, _point_json(point))
        return point

    async def at_point(self, point: GeoPoint, *, refresh: bool = False) -> WeatherReport:
        """The report for ``point`` (cached); ``refresh`` asks the provider again and replaces the entry."""
        provider = self._require()
        rounded = point.rounded(ROUND_DECIMALS)
        key = f"weather:{FORMAT}:at:{rounded.lat:.{ROUND_DECIMALS}f}:{rounded.lon:.{ROUND_DECIMALS}f}"
        cached_report = None if refresh else await self._cache_get(key, _report_from)
        if cached_report is not None:
            return cached_report
        current = await provider.current(rounded.lat, rounded.lon)
        forecast = await provider.forecast(rounded.lat, rounded.lon)
        named = GeoPoint(
            rounded.lat,
            rounded.lon,
            point.name or forecast.location.name or current.location.name,
            point.country or forecast.location.country or current.location.country,
        )
        report = WeatherReport(location=named, current=current, forecast=forecast)
        await self._cache_set(key, _report_json(report))
        return report

    async def site_point(self, site: SiteLocation) -> GeoPoint:
        """A project site's point, rounded as reports are cached (a place is geocoded, cached)."""
        if site.lat is not None and site.lon is not None:
            point = GeoPoint(site.lat, site.lon, site.place)
        else:
            assert site.place is not None  # a site has a place or coordinates (SiteLocation.problems)
            point = await self.geocode(site.place)
        return point.rounded(ROUND_DECIMALS)

    async def for_project(self, principal: Principal, project_id: str) -> ProjectWeather:
        """The site's forecast and the risk on every finish date inside it (404 when invisible)."""
        uow = self._ports.uow
        project = ensure_visible(principal, await uow.projects.get(project_id))
        site = project.site
        if site is None:
            raise NoSiteLocation()
        self._require()
        if site.lat is not None and site.lon is not None:
            report = await self.at_point(GeoPoint(site.lat, site.lon, site.place))
        else:
            assert site.place is not None  # a site has a place or coordinates (SiteLocation.problems)
            try:
                report = await self.at_place(site.place)
            except UnknownPlace:  # 404 would say the project is missing; it is its site that cannot be found
                raise UnknownSitePlace(f"The project's site place {site.place!r} was not found.") from None
        risks: list[TaskRisk] = []
        page = 1
        while True:
            found = await uow.tasks.list(TaskQuery(project_id=project.id), PageRequest(page=page, size=TASK_PAGE))
            for task in found.items:
                if task.finish_date is not None:
                    risk = task_weather_risk(task.finish_date, report.forecast)
                    if risk is not None:
                        risks.append(TaskRisk(task, risk))
            if page >= found.pages:
                break
            page += 1
        project_risk = task_weather_risk(project.finish_date, report.forecast) if project.finish_date else None
        return ProjectWeather(project=project, report=report, tasks=risks, project_risk=project_risk)

    # --- cache (a failing cache is a bypass) ---------------------------------------------------

    async def _cache_get(self, key: str, decode: Callable[[Any], T]) -> T | None:
        """The decoded entry; ``None`` on a miss, a failing cache, or an entry we cannot read."""
        if self._cache is None:
            return None
        try:
            raw = await self._cache.get(key)
            return None if raw is None else decode(json.loads(raw))
        except (DependencyUnavailable, ValueError, KeyError, TypeError):
            return None

    async def _cache_set(self, key: str, value: Any) -> None:
        if self._cache is None:
            return
        try:
            await self._cache.set(key, json.dumps(value, separators=(",", ":")).encode(), self._ttl)
        except DependencyUnavailable:
            return


# --- JSON (the application layer stays free of msgspec) -------------------------------------


def _point_json(point: GeoPoint) -> dict[str, Any]:
    return {"lat": point.lat, "lon": point.lon, "name": point.name, "country": point.country}


def _point_from(data: dict[str, Any]) -> GeoPoint:
    return GeoPoint(data["lat"], data["lon"], data.get("name"), data.get("country"))


def _conditions_json(c: Conditions) -> dict[str, Any]:
    return {
        "at": c.at.isoformat(),
        "t": c.temperature_c,
        "w": c.wind_speed_ms,
        "p": c.precipitation_mm,
        "d": c.description,
        "h": c.humidity_percent,
    }


def _conditions_from(d: dict[str, Any]) -> Conditions:
    return Conditions(datetime.fromisoformat(d["at"]), d["t"], d["w"], d["p"], d["d"], d["h"])


def _report_json(report: WeatherReport) -> dict[str, Any]:
    return {
        "location": _point_json(report.location),
        "current": {
            "location": _point_json(report.current.location),
            "conditions": _conditions_json(report.current.conditions),
            "offset": report.current.utc_offset_seconds,
        },
        "forecast": {
            "location": _point_json(report.forecast.location),
            "slots": [_conditions_json(s) for s in report.forecast.slots],
            "slot_hours": report.forecast.slot_hours,
            "offset": report.forecast.utc_offset_seconds,
        },
    }


def _report_from(data: dict[str, Any]) -> WeatherReport:
    current, forecast = data["current"], data["forecast"]
    return WeatherReport(
        location=_point_from(data["location"]),
        current=CurrentWeather(
            _point_from(current["location"]), _conditions_from(current["conditions"]), current["offset"]
        ),
        forecast=Forecast(
            _point_from(forecast["location"]),
            tuple(_conditions_from(s) for s in forecast["slots"]),
            forecast["slot_hours"],
            forecast["offset"],
        ),
    )
