"""``/api/v1/weather`` and ``/api/v1/projects/{id}/weather``: OpenWeatherMap, cached 10 minutes."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from domain.board import PLACE_MAX
from domain.errors import FieldProblem, ValidationFailed
from domain.identity import Principal
from domain.weather import Conditions, Forecast, GeoPoint, slot_risk
from entrypoints.http.conditional import PRIVATE_NO_CACHE
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope, ok
from entrypoints.http.errors import error_responses

if TYPE_CHECKING:
    from application.weather import ProjectWeather, WeatherReport, WeatherService

RiskLabel = Annotated[str, msgspec.Meta(description="`none`, `low` or `high` (thresholds: see the weather docs)")]


class PointOut(msgspec.Struct, kw_only=True):
    lat: float
    lon: float
    name: str | None
    country: str | None

    @classmethod
    def of(cls, point: GeoPoint) -> PointOut:
        return cls(lat=point.lat, lon=point.lon, name=point.name, country=point.country)


class ConditionsOut(msgspec.Struct, kw_only=True):
    at: datetime
    temperature_c: float
    wind_speed_ms: float
    precipitation_mm: float
    description: str
    humidity_percent: float | None
    risk: RiskLabel

    @classmethod
    def of(cls, c: Conditions) -> ConditionsOut:
        return cls(
            at=c.at,
            temperature_c=c.temperature_c,
            wind_speed_ms=c.wind_speed_ms,
            precipitation_mm=c.precipitation_mm,
            description=c.description,
            humidity_percent=c.humidity_percent,
            risk=slot_risk(c).label,
        )


class ForecastOut(msgspec.Struct, kw_only=True):
    slot_hours: int
    utc_offset_seconds: int
    first_date: date | None
    last_date: date | None
    slots: list[ConditionsOut]

    @classmethod
    def of(cls, f: Forecast) -> ForecastOut:
        return cls(
            slot_hours=f.slot_hours,
            utc_offset_seconds=f.utc_offset_seconds,
            first_date=f.first_date,
            last_date=f.last_date,
            slots=[ConditionsOut.of(s) for s in f.slots],
        )


class WeatherOut(msgspec.Struct, kw_only=True):
    location: PointOut
    current: ConditionsOut
    forecast: ForecastOut
    source: str = "openweathermap"

    @classmethod
    def of(cls, report: WeatherReport) -> WeatherOut:
        return cls(
            location=PointOut.of(report.location),
            current=ConditionsOut.of(report.current.conditions),
            forecast=ForecastOut.of(report.forecast),
        )


class TaskRiskOut(msgspec.Struct, kw_only=True):
    task_id: str
    title: str
    finish_date: date
    risk: RiskLabel


class ProjectWeatherOut(msgspec.Struct, kw_only=True):
    project_id: str
    finish_date: date | None
    project_risk: RiskLabel | None
    worst_risk: RiskLabel
    tasks: list[TaskRiskOut]
    weather: WeatherOut

    @classmethod
    def of(cls, pw: ProjectWeather) -> ProjectWeatherOut:
        return cls(
            project_id=pw.project.id,
            finish_date=pw.project.finish_date,
            project_risk=pw.project_risk.label if pw.project_risk is not None else None,
            worst_risk=pw.worst.label,
            tasks=[
                TaskRiskOut(task_id=t.task.id, title=t.task.title, finish_date=t.task.finish_date, risk=t.risk.label)
                for t in pw.tasks
                if t.task.finish_date is not None
            ],
            weather=WeatherOut.of(pw.report),
        )


PlaceQuery = Annotated[
    str | None,
    QueryParameter(
        description="A place name (`Oslo`, `Oslo,NO`); or give `lat` and `lon`.", min_length=1, max_length=PLACE_MAX
    ),
]
LatQuery = Annotated[float | None, QueryParameter(description="Latitude, -90 to 90 (with `lon`).", ge=-90, le=90)]
LonQuery = Annotated[float | None, QueryParameter(description="Longitude, -180 to 180 (with `lat`).", ge=-180, le=180)]

PUBLIC_WEATHER = "public, max-age=600"


def _service(request: Request[Any, Any, Any]) -> WeatherService:
    service = container_of(request).weather
    assert service is not None, "bootstrap always builds the weather service"
    return service


class WeatherController(Controller):
    path = "/weather"
    tags = ["weather"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/",
        summary="Current weather and the 5-day forecast",
        description="For `place` (geocoded) or `lat` + `lon`: the current conditions and the 5-day/3-hour "
        "forecast, each slot with its weather risk. Cached for 10 minutes per location rounded to 2 decimals "
        "(`Cache-Control: public, max-age=600`). 404 `unknown_place` when the name geocodes to nothing; 503 "
        "`weather_unavailable` when the provider is down, refuses our key, or no `OPENWEATHER_API_KEY` is set.",
        responses=error_responses(401, 404, 422, 429, 503),
    )
    async def weather(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        place: PlaceQuery = None,
        lat: LatQuery = None,
        lon: LonQuery = None,
    ) -> Response[Envelope[WeatherOut]]:
        service = _service(request)
        if place is not None and (lat is not None or lon is not None):
            raise ValidationFailed([FieldProblem("query.place", "give either place, or lat and lon, not both")])
        if place is not None:
            report = await service.at_place(place)
        elif lat is not None and lon is not None:
            report = await service.at(lat, lon)
        else:
            field = "query.lon" if lat is not None else "query.lat" if lon is not None else "query.place"
            raise ValidationFailed([FieldProblem(field, "give a place, or both lat and lon")])
        return Response(ok(WeatherOut.of(report)), headers={"Cache-Control": PUBLIC_WEATHER})


class ProjectWeatherController(Controller):
    path = "/projects"
    tags = ["projects", "weather"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/{project_id:str}/weather",
        summary="A project site's forecast and its tasks' weather risk",
        description="The forecast at the project's site (its coordinates, else its geocoded place) and the risk "
        "(`none`/`low`/`high`) on the project's and each task's finish date that falls inside the forecast "
        "window; tasks finishing outside it are not listed. 404 for a project the caller cannot see; 409 "
        "`no_site_location` when the project has no site, `unknown_site_place` when its place geocodes to "
        "nothing; 503 `weather_unavailable` as for `/weather`.",
        responses=error_responses(401, 404, 409, 429, 503),
    )
    async def project_weather(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], project_id: FromPath[str]
    ) -> Response[Envelope[ProjectWeatherOut]]:
        found = await _service(request).for_project(principal, project_id)
        return Response(ok(ProjectWeatherOut.of(found)), headers={"Cache-Control": PRIVATE_NO_CACHE})
