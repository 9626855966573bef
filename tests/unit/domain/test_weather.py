"""Weather risk: thresholds at their edges, the forecast window, and monotonicity (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.weather import (
    COLD_HIGH_C,
    COLD_LOW_C,
    HEAT_HIGH_C,
    HEAT_LOW_C,
    PRECIPITATION_HIGH_MM,
    PRECIPITATION_LOW_MM,
    WIND_HIGH_MS,
    WIND_LOW_MS,
    Conditions,
    Forecast,
    GeoPoint,
    WeatherRisk,
    slot_risk,
    task_weather_risk,
)

START = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
HERE = GeoPoint(59.91, 10.75, "Oslo", "NO")
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def calm(at: datetime, **changes: float) -> Conditions:
    values: dict[str, float] = {"temperature_c": 15.0, "wind_speed_ms": 3.0, "precipitation_mm": 0.0, **changes}
    return Conditions(at=at, **values)  # type: ignore[arg-type]


def five_days(**changes_on_day_two: float) -> Forecast:
    slots = [calm(START + timedelta(hours=3 * i)) for i in range(40)]
    day_two = [i for i, s in enumerate(slots) if s.at.date() == date(2026, 6, 2)]
    slots[day_two[3]] = calm(slots[day_two[3]].at, **changes_on_day_two)
    return Forecast(location=HERE, slots=tuple(slots))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, WeatherRisk.NONE),
        ({"precipitation_mm": PRECIPITATION_LOW_MM - 0.01}, WeatherRisk.NONE),
        ({"precipitation_mm": PRECIPITATION_LOW_MM}, WeatherRisk.LOW),
        ({"precipitation_mm": PRECIPITATION_HIGH_MM}, WeatherRisk.HIGH),
        ({"wind_speed_ms": WIND_LOW_MS}, WeatherRisk.LOW),
        ({"wind_speed_ms": WIND_HIGH_MS}, WeatherRisk.HIGH),
        ({"temperature_c": HEAT_LOW_C}, WeatherRisk.LOW),
        ({"temperature_c": HEAT_HIGH_C}, WeatherRisk.HIGH),
        ({"temperature_c": COLD_LOW_C}, WeatherRisk.LOW),
        ({"temperature_c": COLD_LOW_C + 0.1}, WeatherRisk.NONE),
        ({"temperature_c": COLD_HIGH_C}, WeatherRisk.HIGH),
        ({"precipitation_mm": PRECIPITATION_LOW_MM, "wind_speed_ms": WIND_HIGH_MS}, WeatherRisk.HIGH),
    ],
)
def test_thresholds_decide_the_risk_of_the_finish_day(changes: dict[str, float], expected: WeatherRisk) -> None:
    forecast = five_days(**changes)
    assert task_weather_risk(date(2026, 6, 2), forecast) is expected
    assert task_weather_risk(date(2026, 6, 3), forecast) is WeatherRisk.NONE  # only that day's slots count


def test_dates_outside_the_window_get_no_risk() -> None:
    forecast = five_days()
    assert forecast.first_date == date(2026, 6, 1)
    assert forecast.last_date == date(2026, 6, 5)
    assert task_weather_risk(date(2026, 5, 31), forecast) is None
    assert task_weather_risk(date(2026, 6, 6), forecast) is None
    assert task_weather_risk(date(2026, 6, 1), Forecast(location=HERE, slots=())) is None


def test_days_are_the_sites_local_days() -> None:
    storm_at = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)  # 1 June in UTC, already 2 June at UTC+3
    slots = (calm(START), calm(storm_at, wind_speed_ms=30.0), calm(START + timedelta(days=2)))
    in_utc = Forecast(location=HERE, slots=slots)
    east = Forecast(location=HERE, slots=slots, utc_offset_seconds=3 * 3600)
    assert task_weather_risk(date(2026, 6, 1), in_utc) is WeatherRisk.HIGH
    assert task_weather_risk(date(2026, 6, 2), east) is WeatherRisk.HIGH
    assert task_weather_risk(date(2026, 6, 1), east) is WeatherRisk.NONE


def test_labels_are_the_wire_values() -> None:
    assert [r.label for r in WeatherRisk] == ["none", "low", "high"]
    assert GeoPoint(59.91349, 10.75222).rounded() == GeoPoint(59.91, 10.75)


# --- monotonicity ---------------------------------------------------------------------------

finite = {"allow_nan": False, "allow_infinity": False}
temperatures = st.floats(min_value=-60, max_value=60, **finite)
rain = st.floats(min_value=0, max_value=200, **finite)
wind = st.floats(min_value=0, max_value=80, **finite)
more = st.floats(min_value=0, max_value=100, **finite)
slots = st.builds(Conditions, at=st.just(START), temperature_c=temperatures, wind_speed_ms=wind, precipitation_mm=rain)


@PROPERTY_SETTINGS
@given(slot=slots, extra=more)
def test_more_precipitation_never_lowers_the_risk(slot: Conditions, extra: float) -> None:
    wetter = dataclasses.replace(slot, precipitation_mm=slot.precipitation_mm + extra)
    assert slot_risk(wetter) >= slot_risk(slot)


@PROPERTY_SETTINGS
@given(slot=slots, extra=more)
def test_more_wind_never_lowers_the_risk(slot: Conditions, extra: float) -> None:
    windier = dataclasses.replace(slot, wind_speed_ms=slot.wind_speed_ms + extra)
    assert slot_risk(windier) >= slot_risk(slot)


@PROPERTY_SETTINGS
@given(slot=slots, extra=more)
def test_more_heat_never_lowers_the_risk(slot: Conditions, extra: float) -> None:
    # heat is a hazard above the cold band: warming from there on can only add heat risk
    base = dataclasses.replace(slot, temperature_c=max(slot.temperature_c, COLD_LOW_C + 0.01))
    hotter = dataclasses.replace(base, temperature_c=base.temperature_c + extra)
    assert slot_risk(hotter) >= slot_risk(base)


@PROPERTY_SETTINGS
@given(slot=slots, extra=more)
def test_more_cold_never_lowers_the_risk(slot: Conditions, extra: float) -> None:
    base = dataclasses.replace(slot, temperature_c=min(slot.temperature_c, HEAT_LOW_C - 0.01))
    colder = dataclasses.replace(base, temperature_c=base.temperature_c - extra)
    assert slot_risk(colder) >= slot_risk(base)


@PROPERTY_SETTINGS
@given(day=st.lists(slots, min_size=1, max_size=8), worse=slots, index=st.integers(min_value=0, max_value=7))
def test_a_day_is_as_risky_as_its_worst_slot(day: list[Conditions], worse: Conditions, index: int) -> None:
    at = [dataclasses.replace(s, at=START + timedelta(hours=3 * i)) for i, s in enumerate(day)]
    forecast = Forecast(location=HERE, slots=tuple(at))
    risk = task_weather_risk(START.date(), forecast)
    assert risk == max(slot_risk(s) for s in at)
    # making any one slot worse in every hazard never lowers the day's risk
    i = index % len(at)
    harsher = dataclasses.replace(
        at[i],
        precipitation_mm=max(at[i].precipitation_mm, worse.precipitation_mm),
        wind_speed_ms=max(at[i].wind_speed_ms, worse.wind_speed_ms),
    )
    worse_day = Forecast(location=HERE, slots=(*at[:i], harsher, *at[i + 1 :]))
    assert task_weather_risk(START.date(), worse_day) >= risk  # type: ignore[operator]
