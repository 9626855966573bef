"""OpenWeatherMap behind the ``WeatherProvider`` port (httpx, metric units).

Endpoints: ``/data/2.5/weather`` (current), ``/data/2.5/forecast`` (5 days in 3-hour slots),
``/geo/1.0/direct`` (place name -> coordinates). The base URL is configurable so tests point
the adapter at a local server that answers with the documented shapes.

Failure handling, in order:

- one ``httpx.AsyncClient`` for the adapter's life (pooled connections), with connect/read
  timeouts; ``aclose`` releases it;
- retries with exponential backoff on timeouts, connection errors, 429 and 5xx, honouring
  ``Retry-After`` (seconds) but never sleeping longer than ``max_retry_after``;
- no retry on 401/403 (our key is wrong: retrying cannot help) or other 4xx;
- a circuit breaker (``domain.breaker``, shared with text analysis and OpenID): after
  ``breaker_threshold`` consecutive failed calls every call fails at once for
  ``breaker_cooldown`` seconds, then one trial call is let through (half-open).

Everything that goes wrong surfaces as ``WeatherUnavailable`` (503 ``weather_unavailable``);
a place that geocodes to nothing is ``UnknownPlace``. Never an httpx error.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from domain.breaker import CircuitBreaker
from domain.errors import UnknownPlace, WeatherUnavailable
from domain.weather import Conditions, CurrentWeather, Forecast, GeoPoint

log = structlog.get_logger("trellis.weather")

DEFAULT_BASE_URL = "https://api.openweathermap.org"


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class OpenWeatherMapProvider:
    """Implements ``domain.ports.WeatherProvider``."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 5.0,
        connect_timeout: float = 3.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_retry_after: float = 5.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._key = api_key
        self._retries = max(0, retries)
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self.breaker = CircuitBreaker(breaker_threshold, breaker_cooldown, clock)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "trellis"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the port -----------------------------------------------------------------------------

    async def current(self, lat: float, lon: float) -> CurrentWeather:
        body = await self._get("/data/2.5/weather", {"lat": lat, "lon": lon, "units": "metric"})
        try:
            coord = body["coord"]
            location = _point(coord, body.get("name"), (body.get("sys") or {}).get("country"))
            conditions = _conditions(body, "1h")
            return CurrentWeather(location, conditions, int(body.get("timezone", 0)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise self._malformed("/data/2.5/weather", exc) from None

    async def forecast(self, lat: float, lon: float) -> Forecast:
        body = await self._get("/data/2.5/forecast", {"lat": lat, "lon": lon, "units": "metric"})
        try:
            city = body.get("city") or {}
            coord = city.get("coord") or {"lat": lat, "lon": lon}
            location = _point(coord, city.get("name"), city.get("country"))
            slots = tuple(sorted((_conditions(item, "3h") for item in body["list"]), key=lambda c: c.at))
            return Forecast(location, slots, slot_hours=3, utc_offset_seconds=int(city.get("timezone", 0)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise self._malformed("/data/2.5/forecast", exc) from None

    async def geocode(self, place: str) -> GeoPoint:
        body = await self._get("/geo/1.0/direct", {"q": place, "limit": 1})
        if isinstance(body, list) and not body:
            raise UnknownPlace(f"No place named {place!r} was found.")
        try:
            first = body[0]
            return _point(first, first.get("name"), first.get("country"))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise self._malformed("/geo/1.0/direct", exc) from None

    # --- transport ------------------------------------------------------------------------------

    def _malformed(self, path: str, exc: Exception, *, count: bool = True) -> WeatherUnavailable:
        if count:  # a body we cannot read is a failing provider (inside _get the caller counts it)
            self.breaker.failure()
        log.warning("weather_malformed_response", path=path, error=type(exc).__name__)
        return WeatherUnavailable("The weather provider sent a response we could not read; retry later.")

    async def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        if not self.breaker.allow():
            raise WeatherUnavailable(
                f"The weather provider is failing; not asking it again for {math.ceil(self.breaker.retry_in())} s."
            )
        attempt = 0
        while True:
            try:
                body = await self._attempt(path, params)
            except _Retryable as retry:
                if attempt >= self._retries:
                    self.breaker.failure()
                    log.warning("weather_unavailable", path=path, reason=retry.reason, attempts=attempt + 1)
                    raise WeatherUnavailable("The weather provider is unavailable; retry later.") from None
                delay = self._backoff * (2**attempt)
                if retry.retry_after is not None:
                    delay = max(delay, retry.retry_after)
                await asyncio.sleep(min(delay, self._max_retry_after))
                attempt += 1
                continue
            except WeatherUnavailable:
                self.breaker.failure()
                raise
            if not isinstance(body, (dict, list)):
                raise self._malformed(path, TypeError(type(body).__name__), count=True)
            # a well-formed error answer ("cod": "404") is not a failure of the provider
            self.breaker.success()
            return body

    async def _attempt(self, path: str, params: Mapping[str, Any]) -> Any:
        try:
            response = await self._http.get(path, params={**params, "appid": self._key})
        except httpx.TimeoutException:
            raise _Retryable("timeout") from None
        except httpx.TransportError as exc:
            raise _Retryable(type(exc).__name__) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"http {status}", _retry_after(response.headers.get("retry-after")))
        if status in (401, 403):
            log.error("weather_key_refused", status=status)
            raise WeatherUnavailable("The weather provider refused our API key (check OPENWEATHER_API_KEY).")
        if status == 404 and path == "/geo/1.0/direct":
            return []
        if status >= 400:
            log.warning("weather_request_refused", path=path, status=status)
            raise WeatherUnavailable("The weather provider refused the request.")
        try:
            return response.json()
        except ValueError:
            raise self._malformed(path, ValueError("not JSON"), count=False) from None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: use our own backoff instead
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _point(coord: Mapping[str, Any], name: object, country: object) -> GeoPoint:
    lat, lon = _number(coord["lat"]), _number(coord["lon"])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("coordinates out of range")
    return GeoPoint(lat, lon, _str(name), _str(country))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object, default: float = 0.0) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def _conditions(item: Mapping[str, Any], window: str) -> Conditions:
    """One slot (or the current observation) in OpenWeatherMap's shape."""
    main = item["main"]
    weather = item.get("weather") or [{}]
    rain = (item.get("rain") or {}).get(window)
    snow = (item.get("snow") or {}).get(window)
    humidity = main.get("humidity")
    return Conditions(
        at=datetime.fromtimestamp(int(item["dt"]), tz=UTC),
        temperature_c=_number(main["temp"]),
        wind_speed_ms=_number((item.get("wind") or {}).get("speed")),
        precipitation_mm=_number(rain) + _number(snow),
        description=str(weather[0].get("description", "")),
        humidity_percent=None if humidity is None else _number(humidity),
    )
