"""Helpers for the faults-under-load harness (tests/e2e/test_faults_under_load.py).

- ``serve(env)``: a real ``./dev run`` process on a free loopback port (as tests/e2e does),
  with its log at hand (``error_lines``: what it logged at ERROR).
- ``Load``: a bounded loop of concurrent httpx clients (threads), each calling ``step`` until
  the deadline; every request goes through ``Load.call`` which records its label, status (or
  transport error), latency and the moment it was sent, and checks each 503 for the envelope
  code ``dependency_unavailable`` and a ``Retry-After`` header.
- ``Readiness``: polls ``/health/ready`` in a thread and keeps (moment, status).
- ``report``/``show``: counts by label and status, printed past pytest's capture.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.services import RunningServer, free_port, start_server

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery 42"


def scenario_seconds() -> float:
    """How long each scenario keeps its load up: ``FAULTS_SECONDS`` (default 30, at least 30 in CI)."""
    return float(os.environ.get("FAULTS_SECONDS", "30"))


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    server: RunningServer

    def log(self) -> str:
        return self.server.log_path.read_text(errors="replace")

    def error_lines(self) -> list[str]:
        """Lines the server logged at ERROR or above (console format, as ``./dev run`` logs), but
        the access lines of 503 answers (logged at ERROR by design; the harness counts those)."""
        return [
            line
            for line in self.log().splitlines()
            if ("[error" in line or "[critical" in line) and not ("[trellis.access]" in line and "status=503" in line)
        ]


@contextlib.contextmanager
def serve(env: dict[str, str]) -> Iterator[Served]:
    """``./dev run`` with ``env`` on a free port; stopped afterwards."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server: RunningServer = start_server(
        "trellis-faults",
        [str(ROOT / "dev"), "run"],
        port,
        env={
            "APP_ENV": "development",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_KIB": "1024",
            "RATE_LIMIT_DEFAULT": "100000/minute",
            "RATE_LIMIT_AUTH": "100000/minute",
            "LOG_LEVEL": "WARNING",
            **env,
            "PORT": str(port),
        },
        cwd=ROOT,
        ready=lambda: _healthy(base_url),
        timeout=120,
    )
    try:
        yield Served(base_url, server)
        assert server.process.poll() is None, f"the server died:\n{server.log_tail(60)}"
    finally:
        server.stop()


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def new_user(client: httpx.Client, prefix: str = "faults") -> User:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@faults.example"
    signup = client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "display_name": "F"})
    assert signup.status_code == 201, signup.text
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return User(user_id=signup.json()["data"]["id"], token=login.json()["data"]["access_token"])


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # seconds since the load started, when the request was sent
    label: str
    status: str  # "200", "503", … or "error:<TransportError subclass>"
    seconds: float
    proper_503: bool = True  # for a 503: dependency_unavailable envelope with Retry-After


@dataclass
class Load:
    base_url: str
    clients: int
    seconds: float
    timeout: float = 30.0
    codes_503: frozenset[str] = frozenset({"dependency_unavailable"})  # what a 503's envelope may say
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    deadline: float = 0.0  # monotonic; ``hold``/``end_in`` may move it while the load runs
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def call(self, client: httpx.Client, label: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        sent = self.now()
        begun = time.monotonic()
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as error:
            self._record(Sample(sent, label, f"error:{type(error).__name__}", time.monotonic() - begun))
            return None
        proper = True
        if response.status_code == 503:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = None
            proper = code in self.codes_503 and "retry-after" in response.headers
        self._record(Sample(sent, label, str(response.status_code), time.monotonic() - begun, proper))
        return response

    def _record(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def run(self, step: Callable[[httpx.Client, int], None], controller: Callable[[], None]) -> None:
        """``clients`` threads calling ``step(client, n)`` until the deadline, while ``controller``
        (the fault injector) runs in this thread; then wait for the clients to finish."""
        self.started = time.monotonic()
        self.deadline = self.started + self.seconds

        def loop(n: int) -> None:
            with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
                while time.monotonic() < self.deadline:
                    step(client, n)

        threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        try:
            controller()
        finally:
            for thread in threads:
                thread.join(timeout=max(0.0, self.deadline - time.monotonic()) + self.timeout + 10)
        assert not any(t.is_alive() for t in threads), "a client loop did not finish"

    def hold(self) -> None:
        """Keep the clients going past the planned end (a fault recovery that may be slow) …"""
        self.deadline = max(self.deadline, time.monotonic() + 120)

    def end_in(self, seconds: float) -> None:
        """… then end ``seconds`` from now, or at the planned end if that is later."""
        self.deadline = max(self.started + self.seconds, time.monotonic() + seconds)

    def elapsed(self) -> float:
        return self.deadline - self.started

    def counts(self, label: str | None = None, between: tuple[float, float] | None = None) -> Counter[str]:
        with self._lock:
            chosen = [
                s
                for s in self.samples
                if (label is None or s.label == label) and (between is None or between[0] <= s.at < between[1])
            ]
        return Counter(s.status for s in chosen)

    def latencies(self, label: str) -> list[float]:
        with self._lock:
            return sorted(s.seconds for s in self.samples if s.label == label and s.status.startswith("2"))

    def improper_503s(self) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.status == "503" and not s.proper_503]

    def report(self, scenario: str) -> str:
        """Counts by label and status, one line per label."""
        by_label: dict[str, Counter[str]] = {}
        with self._lock:
            for s in self.samples:
                by_label.setdefault(s.label, Counter())[s.status] += 1
        total = sum(sum(c.values()) for c in by_label.values())
        lines = [f"\n[faults:{scenario}] {total} requests in {self.deadline - self.started:.0f} s"]
        lines += [f"  {label:<22} {dict(sorted(by_label[label].items()))}" for label in sorted(by_label)]
        return "\n".join(lines)


def show(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print past pytest's capture: the counts are the point of the harness, pass or fail."""
    with capsys.disabled():
        print(text, flush=True)  # noqa: T201


def p95(values: list[float]) -> float:
    assert values, "no successful requests to measure"
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


class Readiness:
    """``GET /health/ready`` every ``every`` seconds in a thread: (monotonic moment of the answer, status)."""

    def __init__(self, base_url: str, every: float = 0.1) -> None:
        self.base_url = base_url
        self.every = every
        self.seen: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while not self._stop.is_set():
                try:
                    status = client.get("/health/ready").status_code
                except httpx.TransportError:
                    status = 0
                self.seen.append((time.monotonic(), status))
                self._stop.wait(self.every)

    def __enter__(self) -> Readiness:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def first(self, status: int, after: float) -> float | None:
        """When ``status`` was first answered at or after ``after`` (monotonic)."""
        return next((at for at, seen in self.seen if at >= after and seen == status), None)
