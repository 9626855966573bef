"""Weather at a project's site and the risk it puts on a task's finish date.

Pure: values and rules only. A ``Forecast`` is a run of time slots (OpenWeatherMap's are
3 hours long, five days ahead); each slot says how much precipitation falls in it, how hard the
wind blows and how warm it is. A task whose finish date falls inside the forecast window gets a
risk from the worst slot of that (local) day.

Thresholds (per slot, whatever its length — the provider's 3-hour slots are what they are
calibrated for). A slot's risk is the worst of its hazards; a day's risk is its worst slot's:

| hazard | low from | high from | why |
|---|---|---|---|
| precipitation (rain + snow, mm) | 2.0 mm | 10.0 mm | ~0.7 mm/h stops painting; ~3 mm/h (heavy) stops earthworks |
| wind (sustained, m/s) | 10.8 m/s | 17.2 m/s | Beaufort 6 slows work at height; Beaufort 8 (gale) stops cranes |
| heat (°C) | 30 °C | 35 °C | heat-stress breaks needed; above 35 °C concrete and asphalt work is unsafe |
| cold (°C) | 0 °C | -10 °C | at or below freezing concrete needs protection; -10 °C stops most outdoor work |

Risk is monotonic in every hazard: more precipitation, more wind, more heat (a higher
temperature) or more cold (a lower one) never lowers it. ``tests/unit/domain/test_weather.py``
checks that with hypothesis.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

PRECIPITATION_LOW_MM = 2.0
PRECIPITATION_HIGH_MM = 10.0
WIND_LOW_MS = 10.8
WIND_HIGH_MS = 17.2
HEAT_LOW_C = 30.0
HEAT_HIGH_C = 35.0
COLD_LOW_C = 0.0
COLD_HIGH_C = -10.0


class WeatherRisk(enum.IntEnum):
    """Ordered so that ``max`` picks the worst; ``label`` is the wire value."""

    NONE = 0
    LOW = 1
    HIGH = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A place on earth: coordinates and, when known, a name and country code."""

    lat: float
    lon: float
    name: str | None = None
    country: str | None = None

    def rounded(self, decimals: int = 2) -> GeoPoint:
        """Coordinates rounded (2 decimals is about 1 km): the key of cached weather."""
        return GeoPoint(round(self.lat, decimals), round(self.lon, decimals), self.name, self.country)


@dataclass(frozen=True, slots=True)
class Conditions:
    """Weather at one moment or over one forecast slot."""

    at: datetime  # timezone-aware UTC: the start of the slot, or the observation time
    temperature_c: float
    wind_speed_ms: float
    precipitation_mm: float  # rain + snow as water, over the slot (current: over the last hour)
    description: str = ""
    humidity_percent: float | None = None


@dataclass(frozen=True, slots=True)
class CurrentWeather:
    location: GeoPoint
    conditions: Conditions
    utc_offset_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Forecast:
    """Time slots in ascending order; ``slot_hours`` long each. Dates are the site's local dates."""

    location: GeoPoint
    slots: tuple[Conditions, ...]
    slot_hours: int = 3
    utc_offset_seconds: int = 0

    def local_date(self, slot: Conditions) -> date:
        return (slot.at + timedelta(seconds=self.utc_offset_seconds)).date()

    @property
    def first_date(self) -> date | None:
        return self.local_date(self.slots[0]) if self.slots else None

    @property
    def last_date(self) -> date | None:
        return self.local_date(self.slots[-1]) if self.slots else None

    def covers(self, day: date) -> bool:
        """True when ``day`` (local to the site) is inside the forecast window."""
        first, last = self.first_date, self.last_date
        return first is not None and last is not None and first <= day <= last

    def slots_on(self, day: date) -> tuple[Conditions, ...]:
        return tuple(s for s in self.slots if self.local_date(s) == day)


def _level(value: float, low: float, high: float) -> WeatherRisk:
    if value >= high:
        return WeatherRisk.HIGH
    if value >= low:
        return WeatherRisk.LOW
    return WeatherRisk.NONE


def precipitation_risk(mm: float) -> WeatherRisk:
    return _level(mm, PRECIPITATION_LOW_MM, PRECIPITATION_HIGH_MM)


def wind_risk(speed_ms: float) -> WeatherRisk:
    return _level(speed_ms, WIND_LOW_MS, WIND_HIGH_MS)


def heat_risk(temperature_c: float) -> WeatherRisk:
    return _level(temperature_c, HEAT_LOW_C, HEAT_HIGH_C)


def cold_risk(temperature_c: float) -> WeatherRisk:
    # colder is worse: compare the negated temperature against the negated thresholds
    return _level(-temperature_c, -COLD_LOW_C, -COLD_HIGH_C)


def slot_risk(slot: Conditions) -> WeatherRisk:
    """The worst of the slot's hazards."""
    return max(
        precipitation_risk(slot.precipitation_mm),
        wind_risk(slot.wind_speed_ms),
        heat_risk(slot.temperature_c),
        cold_risk(slot.temperature_c),
    )


def worst(risks: Iterable[WeatherRisk]) -> WeatherRisk:
    return max(risks, default=WeatherRisk.NONE)


def task_weather_risk(finish_date: date, forecast: Forecast) -> WeatherRisk | None:
    """The risk on a finish date: the worst slot of that local day.

    ``None`` when the date is outside the forecast window (no forecast, no risk claimed).
    """
    if not forecast.covers(finish_date):
        return None
    return worst(slot_risk(s) for s in forecast.slots_on(finish_date))
