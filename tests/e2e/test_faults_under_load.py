"""Faults under load: a real server process, concurrent clients for ``FAULTS_SECONDS`` (default 30)
per scenario, and a dependency broken part-way through. Each scenario prints its counts by
route and status and asserts them.

1. Redis killed and restarted: reads keep answering (the cache is bypassed), rate limiting
   fails open, a websocket subscriber gets events again once Redis is back, and no response is
   anything but 2xx/4xx/503.
2. The MongoDB-wire server frozen (SIGSTOP: a hung database) and later killed and restarted:
   ``/health/ready`` says 503 within 2 s each time, requests answer 503 ``dependency_unavailable``
   with ``Retry-After``, nothing is half-written (every task whose create got 201 exists, each
   project's progress is the mean of its tasks'), and the same API process recovers. The wire
   server keeps its data in memory, so the kill loses it (a real ``mongod`` would not): the
   consistency check runs on the data written around the freeze, and again on the data written
   after the restart.
3. The weather provider, Azure AI Language and an OpenID provider's discovery hanging: each
   weather call is bounded by the adapter's timeout and retries, each text analysis by its
   budget, each sign-in by the OpenID client's timeout; all three circuits open (later calls
   fail fast with 503); an unrelated route's p95 latency stays low.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from websockets.asyncio.client import connect

from domain.board import project_progress
from tests.e2e.faults import Load, Readiness, User, new_user, p95, scenario_seconds, serve, show
from tests.support.fake_providers import AZURE_KEY, OWM_KEY, FakeProviders, Reply
from tests.support.mongo import mongo_url, start_wire_server, wire_url
from tests.support.redis import private_redis_server, redis_url

pytestmark = [pytest.mark.e2e, pytest.mark.real_service]

CLIENTS = 6
ALLOWED = {"2", "4"}  # status classes allowed besides 503


def _unexpected(load: Load) -> dict[str, int]:
    return {status: n for status, n in load.counts().items() if status != "503" and status[0] not in ALLOWED}


def _metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def _sleep_until(load: Load, moment: float) -> None:
    time.sleep(max(0.0, moment - load.now()))


# --- 1. Redis ------------------------------------------------------------------------------------


class Subscriber(threading.Thread):
    """A websocket client on ``channel`` that reconnects (and re-subscribes) when its socket dies,
    as a real client would; records when each event arrived (monotonic)."""

    def __init__(self, base_url: str, who: User, channel: str) -> None:
        super().__init__(daemon=True)
        self.url = base_url.replace("http://", "ws://") + "/api/v1/ws"
        self.who = who
        self.channel = channel
        self.events: list[float] = []
        self.connections = 0
        self.drops = 0
        self.stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        while not self.stop.is_set():
            try:
                async with connect(self.url, open_timeout=5, close_timeout=1) as ws:
                    await ws.send(json.dumps({"type": "auth", "token": self.who.token}))
                    await ws.send(json.dumps({"type": "subscribe", "channels": [self.channel]}))
                    self.connections += 1
                    while not self.stop.is_set():
                        try:
                            message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                        except TimeoutError:
                            continue
                        if message.get("type") == "event":
                            self.events.append(time.monotonic())
                        elif message.get("type") == "error":
                            break  # e.g. the subscription failed while Redis was down: start again
            except Exception:  # a dead socket or a refused connection: reconnect
                self.drops += 1
            await asyncio.sleep(0.3)


@pytest.mark.timeout(300)
def test_redis_killed_and_restarted_under_load(capsys: pytest.CaptureFixture[str]) -> None:
    seconds = scenario_seconds()
    kill_at, restart_at = seconds * 0.3, seconds * 0.55
    with (
        private_redis_server() as redis,
        serve(
            {
                "REDIS_URL": redis.url,
                "MONGODB_URL": mongo_url(),
                "MONGODB_DATABASE": f"faults_redis_{uuid.uuid4().hex[:10]}",
            }
        ) as served,
    ):
        base_url = served.base_url
        with httpx.Client(base_url=base_url, timeout=10) as client:
            owner = new_user(client)
            projects = [
                client.post(
                    "/api/v1/projects", json={"title": f"R{n}", "visibility": "public"}, headers=owner.headers
                ).json()["data"]["id"]
                for n in range(3)
            ]
            tasks = [
                client.post(f"/api/v1/projects/{pid}/tasks", json={"title": "T"}, headers=owner.headers).json()["data"][
                    "id"
                ]
                for pid in projects
            ]
        bypass_before = _metric(base_url, 'trellis_cache_events_total{result="bypass"}')
        open_before = _metric(base_url, "trellis_rate_limit_bypass_total")
        subscriber = Subscriber(base_url, owner, f"project:{projects[0]}")
        load = Load(base_url, CLIENTS, seconds, timeout=15)

        def step(client: httpx.Client, n: int) -> None:
            i = random.randrange(len(projects))
            if n % 3 == 0:
                progress = random.randrange(0, 100)
                load.call(client, "PATCH task", "PATCH", f"/api/v1/tasks/{tasks[i]}", json={"progress": progress},
                          headers=owner.headers)  # fmt: skip
            elif n % 3 == 1:
                load.call(client, "GET project", "GET", f"/api/v1/projects/{projects[i]}", headers=owner.headers)
            else:
                load.call(client, "GET tasks", "GET", f"/api/v1/projects/{projects[i]}/tasks", headers=owner.headers)
            time.sleep(0.01)

        settled_log = 0

        def controller() -> None:
            nonlocal settled_log
            _sleep_until(load, kill_at)
            redis.kill()
            _sleep_until(load, restart_at)
            redis.restart()
            _sleep_until(load, restart_at + 3)  # the consumer's next turn after its 1 s back-off
            settled_log = len(served.log())

        subscriber.start()
        try:
            load.run(step, controller)
        finally:
            subscriber.stop.set()
            subscriber.join(timeout=10)
        show(capsys, load.report("redis"))
        events = [at - load.started for at in subscriber.events]
        show(
            capsys,
            f"  websocket: {len(events)} events ({sum(1 for at in events if at < kill_at)} before the kill, "
            f"{sum(1 for at in events if at >= restart_at)} after the restart), "
            f"{subscriber.connections} connection(s), {subscriber.drops} dropped",
        )
        assert _unexpected(load) == {}, load.counts()
        outage = (kill_at, restart_at)
        for reads in ("GET project", "GET tasks"):
            during = load.counts(reads, outage)
            assert during["200"] > 0, (reads, during)
            assert set(during) == {"200"}, (reads, during)  # reads keep answering: the cache is bypassed
        assert load.counts()["429"] == 0  # nothing was rate limited: the limiter failed open
        assert _metric(base_url, "trellis_rate_limit_bypass_total") > open_before
        assert _metric(base_url, 'trellis_cache_events_total{result="bypass"}') > bypass_before
        assert any(at < kill_at for at in events), "the websocket got nothing even before the outage"
        assert any(at >= restart_at for at in events), "the websocket got no event after Redis came back"
        after = load.counts(between=(restart_at + 2, seconds))
        assert after["200"] > 0
        assert set(after) <= {"200"}, after  # fully back
        # a write whose cache generations could not be bumped is an ERROR by design (stale reads
        # are possible until the TTL); nothing else may be
        unexpected = [line for line in served.error_lines() if "cache_invalidation_failed" not in line]
        assert unexpected == [], unexpected[:10]
        # the analytics consumer is back too (it used to fail NOGROUP until the API restarted)
        assert "analytics_log_unavailable" not in served.log()[settled_log:], served.log()[settled_log:][-2000:]


# --- 2. MongoDB ----------------------------------------------------------------------------------


@dataclass
class World:
    """What one generation of clients writes to: a user, projects, and the tasks created with 201."""

    owner: User
    projects: list[str]
    created: dict[str, list[str]] = field(default_factory=dict)


def _make_world(client: httpx.Client, projects: int = 3) -> World:
    owner = new_user(client)
    ids = []
    for n in range(projects):
        response = client.post("/api/v1/projects", json={"title": f"M{n}"}, headers=owner.headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["data"]["id"])
    return World(owner, ids, {pid: [] for pid in ids})


def _consistency_problems(client: httpx.Client, world: World) -> list[str]:
    problems: list[str] = []
    for pid in world.projects:
        listed: dict[str, int] = {}
        page = 1
        while True:
            response = client.get(f"/api/v1/projects/{pid}/tasks", params={"page": page, "size": 100},
                                  headers=world.owner.headers)  # fmt: skip
            assert response.status_code == 200, response.text
            body = response.json()
            listed.update({t["id"]: t["progress"] for t in body["data"]})
            if page >= body["meta"]["pages"]:
                break
            page += 1
        missing = [t for t in world.created[pid] if t not in listed]
        if missing:
            problems.append(f"project {pid}: {len(missing)} task(s) answered 201 but absent")
        project = client.get(f"/api/v1/projects/{pid}", headers=world.owner.headers).json()["data"]
        expected = project_progress(listed.values())
        if project["progress"] != expected:
            problems.append(f"project {pid}: progress {project['progress']} but its tasks' mean is {expected}")
    return problems


@pytest.mark.timeout(300)
def test_mongo_frozen_then_killed_and_restarted_under_load(capsys: pytest.CaptureFixture[str]) -> None:
    seconds = scenario_seconds()
    # frozen longer than the driver's socket timeout (5 s), so requests do time out into 503s
    freeze_at, thaw_at = seconds * 0.08, seconds * 0.08 + max(6.5, seconds * 0.2)
    check_at = thaw_at + 2
    kill_at, restart_at = check_at + 2, check_at + 4
    wire = start_wire_server()
    servers = [wire]
    try:
        with serve(
            {"MONGODB_URL": wire_url(wire.port), "MONGODB_DATABASE": "faults", "REDIS_URL": redis_url()}
        ) as served:
            base_url = served.base_url
            with httpx.Client(base_url=base_url, timeout=10) as client:
                worlds = [_make_world(client)]
            lock = threading.Lock()
            writes = threading.Event()
            writes.set()
            in_flight = [0]
            load = Load(base_url, CLIENTS, seconds, timeout=20)

            def step(client: httpx.Client, n: int) -> None:
                world = worlds[-1]
                pid = random.choice(world.projects)
                if n % 2 == 0 and writes.is_set():
                    with lock:
                        in_flight[0] += 1
                    try:
                        response = load.call(client, "POST task", "POST", f"/api/v1/projects/{pid}/tasks",
                                             json={"title": "load", "progress": random.randrange(0, 100)},
                                             headers=world.owner.headers)  # fmt: skip
                        if response is not None and response.status_code == 201:
                            with lock:
                                world.created[pid].append(response.json()["data"]["id"])
                    finally:
                        with lock:
                            in_flight[0] -= 1
                else:
                    load.call(client, "GET project", "GET", f"/api/v1/projects/{pid}", headers=world.owner.headers)
                time.sleep(0.01)

            checked: list[str] = []
            timeline: list[tuple[str, float]] = []

            def controller() -> None:
                _sleep_until(load, freeze_at)
                wire.process.send_signal(signal.SIGSTOP)  # hung: connections open, nothing answers
                _sleep_until(load, thaw_at)
                wire.process.send_signal(signal.SIGCONT)
                _sleep_until(load, check_at)
                writes.clear()  # quiesce the writers for a consistent look at what the freeze left
                while in_flight[0]:
                    time.sleep(0.05)
                with httpx.Client(base_url=base_url, timeout=10) as client:
                    checked.extend(_consistency_problems(client, worlds[0]))
                writes.set()
                timeline.append(("checked", load.now()))
                _sleep_until(load, kill_at)
                servers[0].kill()
                _sleep_until(load, restart_at)
                load.hold()  # the wire server can take a while to start on a busy machine
                servers[0] = start_wire_server(servers[0].port)  # same address; the API is not restarted
                timeline.append(("restarted", load.now()))
                with httpx.Client(base_url=base_url, timeout=10) as client:
                    deadline = time.monotonic() + 30
                    while (answer := client.get("/health/ready")).status_code != 200:
                        assert time.monotonic() < deadline, f"not ready 30 s after the restart: {answer.text}"
                        time.sleep(0.1)
                    timeline.append(("ready", load.now()))
                    worlds.append(_make_world(client))  # the restarted wire server is empty
                    timeline.append(("new world", load.now()))
                load.end_in(6.0)  # time to write to the new world, however slow the restart was

            with Readiness(base_url) as ready:
                load.run(step, controller)
            with httpx.Client(base_url=base_url, timeout=10) as client:
                final = _consistency_problems(client, worlds[-1])
            show(capsys, load.report("mongo"))
            created = [sum(len(v) for v in w.created.values()) for w in worlds]
            show(capsys, f"  tasks created with 201: {created[0]} before the kill, {created[1]} after the restart")
            delays = [
                None if (at := ready.first(503, load.started + moment)) is None else at - load.started - moment
                for moment in (freeze_at, kill_at)
            ]
            rounded = [None if d is None else round(d, 2) for d in delays]
            show(capsys, f"  /health/ready answered 503 {rounded} s after the freeze and the kill")
            show(capsys, f"  timeline: {[(name, round(at, 1)) for name, at in timeline]}")

            assert _unexpected(load) == {}, load.counts()
            assert served.error_lines() == [], served.error_lines()[:10]
            assert load.improper_503s() == [], load.improper_503s()[:3]
            assert checked == [], checked
            assert final == [], final
            for delay in delays:
                assert delay is not None, "/health/ready never said 503"
                assert delay <= 2.0, f"/health/ready took {delay:.2f} s to say 503"
            # (by the moment a request was sent: those sent before a fault may answer during it)
            assert load.counts(between=(freeze_at - 1, thaw_at))["503"] > 0
            assert load.counts(between=(thaw_at + 1, check_at))["200"] > 0  # the thaw needed no restart
            restarted = dict(timeline)["ready"]
            assert load.counts(between=(kill_at - 1, restarted))["503"] > 0
            assert created[1] > 0  # writes work again after the restart, with no restart of the API
            tail = load.counts(between=(load.elapsed() - 3, load.elapsed()))
            assert tail["503"] == 0, tail
    finally:
        for server in servers:
            server.kill()


# --- 3. a hanging provider ---------------------------------------------------------------------


WEATHER_TIMEOUT, WEATHER_ATTEMPTS = 5.0, 3  # the adapter's read timeout and 1 + retries
WEATHER_CLIENTS = 5
OIDC_BOUND = 5.0 + 2.0  # the OpenID client's read timeout plus slack
LANGUAGE_BUDGET = 4  # LANGUAGE_BUDGET_SECONDS: one analysis, all its requests and retries
BREAKER_THRESHOLD = 3  # low enough that the one sign-in client opens its circuit within 30 s
WEATHER_BOUND = WEATHER_TIMEOUT * WEATHER_ATTEMPTS + 3.0  # plus backoff and slack


@pytest.mark.timeout(300)
def test_a_hanging_weather_provider_is_bounded_and_does_not_slow_other_routes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seconds = scenario_seconds()
    fake = FakeProviders()
    asyncio.run(fake.start())
    fake.script("geo", *[Reply(hang=True) for _ in range(10_000)])
    fake.script("discovery", *[Reply(hang=True) for _ in range(10_000)])
    fake.script("language", *[Reply(hang=True) for _ in range(10_000)])
    try:
        with serve(
            {
                "REDIS_URL": redis_url(),
                "MONGODB_URL": mongo_url(),
                "MONGODB_DATABASE": f"faults_weather_{uuid.uuid4().hex[:10]}",
                "OPENWEATHER_API_KEY": OWM_KEY,
                "OPENWEATHER_BASE_URL": fake.base_url,
                "PROVIDER_RETRY_BACKOFF_MS": "200",
                "OIDC_FAKE_ISSUER": fake.base_url,
                "OIDC_FAKE_CLIENT_ID": "trellis-faults",
                "OIDC_FAKE_CLIENT_SECRET": "faults-secret",
                "AZURE_LANGUAGE_ENDPOINT": fake.base_url,
                "AZURE_LANGUAGE_KEY": AZURE_KEY,
                "LANGUAGE_BUDGET_SECONDS": str(LANGUAGE_BUDGET),
                "PROVIDER_BREAKER_THRESHOLD": str(BREAKER_THRESHOLD),
            }
        ) as served:
            base_url = served.base_url
            with httpx.Client(base_url=base_url, timeout=10) as client:
                owner = new_user(client)
                for n in range(5):
                    client.post("/api/v1/projects", json={"title": f"W{n}"}, headers=owner.headers)
            load = Load(base_url, WEATHER_CLIENTS + 5, seconds, timeout=WEATHER_BOUND + 10)
            load.codes_503 = frozenset(
                {"weather_unavailable", "identity_provider_unavailable", "text_analysis_unavailable"}
            )

            def step(client: httpx.Client, n: int) -> None:
                if n == WEATHER_CLIENTS:  # a sign-in whose provider's discovery never answers
                    load.call(client, "GET oidc login", "GET", "/api/v1/auth/oidc/fake/login")
                    time.sleep(0.1)
                elif n == WEATHER_CLIENTS + 1:  # a text analysis whose Azure service never answers
                    load.call(client, "POST analysis", "POST", "/api/v1/analysis/text",
                              json={"text": "The roof is done."}, headers=owner.headers)  # fmt: skip
                    time.sleep(0.1)
                elif n < WEATHER_CLIENTS:  # enough hung calls at once to reach the breaker's threshold (5)
                    place = f"p{random.randrange(10**6)}"
                    load.call(client, "GET weather", "GET", "/api/v1/weather", params={"place": place},
                              headers=owner.headers)  # fmt: skip
                else:
                    load.call(client, "GET projects", "GET", "/api/v1/projects", headers=owner.headers)
                time.sleep(0.02)

            load.run(step, lambda: None)
            show(capsys, load.report("weather"))
            weather = [s for s in load.samples if s.label == "GET weather"]
            slowest = max(s.seconds for s in weather)
            fast_fails = sum(1 for s in weather if s.status == "503" and s.seconds < 0.5)
            other = p95(load.latencies("GET projects"))
            oidc = [s for s in load.samples if s.label == "GET oidc login"]
            analyses = [s for s in load.samples if s.label == "POST analysis"]
            show(
                capsys,
                f"  weather: slowest {slowest:.2f} s, {fast_fails} fast 503s (circuit open); "
                f"GET projects p95 {other * 1000:.0f} ms; provider saw {fake.count('geo')} calls; "
                f"sign-in slowest {max((s.seconds for s in oidc), default=0.0):.2f} s; "
                f"analysis slowest {max((s.seconds for s in analyses), default=0.0):.2f} s, "
                f"Azure saw {fake.count('language')} calls",
            )
            assert _unexpected(load) == {}, load.counts()
            assert served.error_lines() == [], served.error_lines()[:10]
            assert {s.status for s in weather} == {"503"}, load.counts("GET weather")
            assert load.improper_503s() == []
            assert slowest <= WEATHER_BOUND, slowest  # bounded by the timeout and the retries
            assert fast_fails > 0  # the circuit opened: later calls did not wait for the provider
            assert oidc, "no sign-in was tried"
            assert {s.status for s in oidc} == {"503"}, load.counts("GET oidc login")
            assert max(s.seconds for s in oidc) <= OIDC_BOUND  # its HTTP client's timeout
            assert any(s.seconds < 0.5 for s in oidc), "the OpenID circuit never opened"
            assert analyses, "no text analysis was tried"
            assert {s.status for s in analyses} == {"503"}, load.counts("POST analysis")
            assert max(s.seconds for s in analyses) <= LANGUAGE_BUDGET + 2.0  # the budget, not 4 x 11 s
            assert any(s.seconds < 0.5 for s in analyses), "the text analysis circuit never opened"
            assert load.counts("GET projects")["200"] > 100
            assert set(load.counts("GET projects")) == {"200"}
            assert other < 1.0, f"GET /projects p95 {other:.3f} s while the weather hangs"
    finally:
        asyncio.run(fake.stop())
