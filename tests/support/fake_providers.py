"""A local HTTP server that answers like OpenWeatherMap and Azure AI Language (aiohttp).

It runs on a free loopback port in the test's event loop; the adapters are pointed at it by
base URL / endpoint, so every byte goes over real HTTP through httpx and the Azure SDK.

Documented shapes served:

- OpenWeatherMap ``GET /data/2.5/weather``, ``GET /data/2.5/forecast`` (40 three-hour slots),
  ``GET /geo/1.0/direct`` (a list; ``[]`` for an unknown place). The key is the ``appid`` query
  parameter; a wrong one answers 401 ``{"cod": 401, "message": "Invalid API key. …"}``.
- Azure AI Language ``POST /language/:analyze-text?api-version=2023-04-01`` for the kinds
  ``LanguageDetection``, ``SentimentAnalysis`` and ``KeyPhraseExtraction``; every document result
  carries its ``warnings`` array (and sentiment its ``sentences``). The key is the
  ``Ocp-Apim-Subscription-Key`` header; a wrong one answers 401 with Azure's error body.

- An OpenID provider's ``GET /.well-known/openid-configuration`` (kind ``discovery``: this server as
  the issuer, its ``/authorize``, ``/token`` and ``/jwks``), ``GET /jwks`` (kind ``jwks``: an empty key
  set) and ``POST /token`` (kind ``token``: 400 ``invalid_grant``); script them to misbehave.

Scripting: ``fake.script(kind, Reply(...), ...)`` queues replies for the next requests of that
kind (``weather``, ``forecast``, ``geo``, ``language``); when the queue is empty the server answers
successfully. ``Reply(hang=True)`` never answers (a timeout); ``Reply(body=b"…")`` sends raw
bytes (a malformed body). Every request is recorded in ``fake.requests``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from tests.support.services import LOOPBACK

OWM_KEY = "owm-test-key"
AZURE_KEY = "azure-test-key"
API_VERSION = "2023-04-01"

PLACES = {
    "oslo": {"name": "Oslo", "lat": 59.9133301, "lon": 10.7389701, "country": "NO"},
    "bergen": {"name": "Bergen", "lat": 60.3943055, "lon": 5.3259192, "country": "NO"},
}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as-is; None: the normal success body
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class Recorded:
    kind: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


@dataclass
class Weather:
    """What the fake sky does: calm everywhere, except a storm on ``storm_on`` (UTC date)."""

    start: datetime = field(default_factory=lambda: datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC))
    temperature_c: float = 14.0
    wind_ms: float = 3.0
    storm_on: date | None = None
    storm_wind_ms: float = 20.0
    rain_on: date | None = None
    rain_mm: float = 4.0


class FakeProviders:
    def __init__(self) -> None:
        self.weather = Weather()
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._hanging: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def script(self, kind: str, *replies: Reply) -> None:
        self._scripts.setdefault(kind, deque()).extend(replies)

    def count(self, kind: str) -> int:
        return sum(1 for r in self.requests if r.kind == kind)

    async def start(self) -> None:
        """Serve from a thread of its own (its own event loop), so that an app under test that runs
        in another loop or thread (Litestar's test client) reaches it all the same."""
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="fake-providers", daemon=True)
        self._thread.start()
        await asyncio.to_thread(started.wait, 10)
        if not self.port:
            raise RuntimeError("the fake provider server did not start")

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _cleanup(self) -> None:
        for waiter in self._hanging:
            waiter.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)

    # --- dispatch ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        kinds = {
            "/data/2.5/weather": "weather",
            "/data/2.5/forecast": "forecast",
            "/geo/1.0/direct": "geo",
            "/language/:analyze-text": "language",
            "/.well-known/openid-configuration": "discovery",
            "/jwks": "jwks",
            "/token": "token",
        }
        kind = kinds.get(path, "unknown")
        body: Any = None
        if request.can_read_body and kind != "token":
            try:
                body = await request.json()
            except ValueError:
                body = None
        elif kind == "token":
            body = dict(await request.post())
        self.requests.append(Recorded(kind, request.method, path, dict(request.query), dict(request.headers), body))
        queue = self._scripts.get(kind)
        if queue:
            reply = queue.popleft()
            if reply.hang:
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._hanging.add(waiter)
                try:
                    await asyncio.wait_for(waiter, 30)
                finally:
                    self._hanging.discard(waiter)
            if reply.status != 200 or reply.body is not None:
                return _response(reply.status, reply.body if reply.body is not None else {}, reply.headers)
        if kind == "language":
            return self._language(request, body)
        if kind == "discovery":
            return _response(
                200,
                {
                    "issuer": self.base_url,
                    "authorization_endpoint": f"{self.base_url}/authorize",
                    "token_endpoint": f"{self.base_url}/token",
                    "jwks_uri": f"{self.base_url}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        if kind == "jwks":
            return _response(200, {"keys": []})
        if kind == "token":
            return _response(400, {"error": "invalid_grant"})
        if kind == "unknown":
            return _response(404, {"cod": "404", "message": "Internal error"})
        if request.query.get("appid") != OWM_KEY:
            return _response(
                401,
                {
                    "cod": 401,
                    "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
                },
            )
        if kind == "geo":
            found = PLACES.get(request.query.get("q", "").split(",")[0].strip().lower())
            return _response(200, [] if found is None else [{**found, "local_names": {}, "state": None}])
        lat, lon = float(request.query["lat"]), float(request.query["lon"])
        if kind == "weather":
            return _response(200, self._current(lat, lon))
        return _response(200, self._forecast(lat, lon))

    # --- OpenWeatherMap shapes ---------------------------------------------------------------------

    def _slot(self, at: datetime) -> dict[str, Any]:
        w = self.weather
        wind = w.storm_wind_ms if w.storm_on == at.date() else w.wind_ms
        slot: dict[str, Any] = {
            "dt": int(at.timestamp()),
            "main": {"temp": w.temperature_c, "feels_like": w.temperature_c - 1, "pressure": 1012, "humidity": 70},
            "weather": [{"id": 800, "main": "Clear", "description": "clear sky", "icon": "01d"}],
            "clouds": {"all": 0},
            "wind": {"speed": wind, "deg": 200, "gust": wind * 1.4},
            "visibility": 10000,
            "pop": 0,
            "sys": {"pod": "d"},
            "dt_txt": at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if w.rain_on == at.date():
            slot["rain"] = {"3h": w.rain_mm}
            slot["weather"] = [{"id": 501, "main": "Rain", "description": "moderate rain", "icon": "10d"}]
        return slot

    def _current(self, lat: float, lon: float) -> dict[str, Any]:
        slot = self._slot(datetime.now(UTC).replace(microsecond=0))
        slot.pop("dt_txt")
        slot.pop("pop")
        if "rain" in slot:
            slot["rain"] = {"1h": slot["rain"]["3h"] / 3}
        return {
            "coord": {"lon": lon, "lat": lat},
            **slot,
            "base": "stations",
            "sys": {"country": "NO", "sunrise": 0, "sunset": 0},
            "timezone": 3600,
            "id": 3143244,
            "name": "Oslo",
            "cod": 200,
        }

    def _forecast(self, lat: float, lon: float) -> dict[str, Any]:
        slots = [self._slot(self.weather.start + timedelta(hours=3 * i)) for i in range(40)]
        return {
            "cod": "200",
            "message": 0,
            "cnt": len(slots),
            "list": slots,
            "city": {
                "id": 3143244,
                "name": "Oslo",
                "coord": {"lat": lat, "lon": lon},
                "country": "NO",
                "population": 1000000,
                "timezone": 0,
                "sunrise": 0,
                "sunset": 0,
            },
        }

    # --- Azure AI Language shapes ----------------------------------------------------------------

    def _language(self, request: web.Request, body: Any) -> web.Response:
        if request.headers.get("Ocp-Apim-Subscription-Key") != AZURE_KEY:
            return _response(
                401,
                {
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                        "to provide a valid key for an active subscription and use a correct regional API endpoint "
                        "for your resource.",
                    }
                },
            )
        if request.query.get("api-version") != API_VERSION or not isinstance(body, dict):
            return _response(400, {"error": {"code": "InvalidRequest", "message": "Invalid request"}})
        documents = body["analysisInput"]["documents"]
        kind = body["kind"]
        if len(documents) > 10:
            return _response(
                400,
                {
                    "error": {
                        "code": "InvalidRequest",
                        "message": "Invalid document in request.",
                        "innererror": {
                            "code": "InvalidDocumentBatch",
                            "message": "Batch request contains too many records. Max 10 records are permitted.",
                        },
                    }
                },
            )
        if kind == "LanguageDetection":
            results = [{"id": d["id"], "detectedLanguage": _detect(d["text"]), "warnings": []} for d in documents]
            result_kind = "LanguageDetectionResults"
        elif kind == "SentimentAnalysis":
            results = [_sentiment(d) for d in documents]
            result_kind = "SentimentAnalysisResults"
        elif kind == "KeyPhraseExtraction":
            results = [{"id": d["id"], "keyPhrases": _phrases(d["text"]), "warnings": []} for d in documents]
            result_kind = "KeyPhraseExtractionResults"
        else:
            return _response(400, {"error": {"code": "InvalidRequest", "message": f"Unknown kind {kind}"}})
        return _response(
            200, {"kind": result_kind, "results": {"documents": results, "errors": [], "modelVersion": "2022-10-01"}}
        )


def _detect(text: str) -> dict[str, Any]:
    german = any(w in text.lower().split() for w in ("der", "die", "und", "ist"))
    if german:
        return {"name": "German", "iso6391Name": "de", "confidenceScore": 0.98}
    return {"name": "English", "iso6391Name": "en", "confidenceScore": 0.99}


def _sentiment(document: dict[str, Any]) -> dict[str, Any]:
    text: str = document["text"]
    lowered = text.lower()
    if any(w in lowered for w in ("great", "happy", "love")):
        label, scores = "positive", {"positive": 0.96, "neutral": 0.03, "negative": 0.01}
    elif any(w in lowered for w in ("awful", "terrible", "flooded")):
        label, scores = "negative", {"positive": 0.01, "neutral": 0.04, "negative": 0.95}
    else:
        label, scores = "neutral", {"positive": 0.1, "neutral": 0.85, "negative": 0.05}
    sentence = {"text": text, "sentiment": label, "confidenceScores": scores, "offset": 0, "length": len(text)}
    return {
        "id": document["id"],
        "sentiment": label,
        "confidenceScores": scores,
        "sentences": [sentence],
        "warnings": [],
    }


def _phrases(text: str) -> list[str]:
    words = [w.strip(".,!?") for w in text.split()]
    return [w for w in words if len(w) > 5][:8]


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    # a scripted Content-Type header (an HTML error page, say) replaces the JSON one
    content_type = None if any(k.lower() == "content-type" for k in headers or {}) else "application/json"
    if isinstance(body, bytes):
        return web.Response(status=status, body=body, headers=headers, content_type=content_type)
    return web.Response(status=status, text=json.dumps(body), headers=headers, content_type=content_type)


@asynccontextmanager
async def fake_providers() -> AsyncIterator[FakeProviders]:
    fake = FakeProviders()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
