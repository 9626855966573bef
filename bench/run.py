"""Load benchmark (issue 12): Trellis against the framework ceiling and a FastAPI peer, in one run.

    ./dev bench                                   # the recipe: installs wrk/redis-server if missing
    just bench --quick                            # a smoke run: short durations, small data (~2 min)
    just bench --only get_project,get_uncached --targets trellis,bare-litestar
    uv run --group bench python bench/run.py --duration 5 --rounds 2 --connections 32 --threads 2

Starts on 127.0.0.1 (free ports) what the chosen scenarios need:

- ``trellis``: embedded defaults (memory stores, in-process cache, queue and channels);
- ``trellis+redis``: ``REDIS_URL`` to a ``redis-server`` started here (cache, limits, channels);
- ``trellis+mongo``: ``REDIS_URL`` and ``MONGODB_URL`` to the MongoDB-wire server of
  ``tools/mongo`` (mongoeco, a Python stand-in for MongoDB: its timings say little about a real
  ``mongod``; it slows as collections grow, so its data stays small);
- ``…/nocache``: the same with ``CACHE_TTL_SECONDS=0`` (no read cache: every read goes to the
  store) — the uncached GET and the 100,000-task list pages run there (``trellis+mongo/nocache``
  shares the MongoDB database and Redis of ``trellis+mongo``);
- the bare Litestar ceiling and the FastAPI peer (``bench/peers/``, not part of the product);
- ``trellis-import``: a fresh embedded Trellis for the CSV import (its peak RSS is the import's).

HTTP scenarios are driven with ``wrk`` (a Lua script adds the bearer token), interleaving the
targets per scenario and round (A B C A B C …); the table gives req/s, p50/p99, and the ratios
to the ceiling and the peer (for the uncached and list rows: to the ceiling's same route shape).
The websocket fan-out (1,000 subscribers in ``bench/fanout.py`` processes) and the 1,000,000-row
import are measured by this script. Every figure worth quoting is a ratio measured in this run.
Results go to ``bench/results/bench-<timestamp>.json``. Everything started is stopped at the
end, on error and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jose import jwt

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOOPBACK = "127.0.0.1"
EMAIL = "runner@bench.example"
PASSWORD = "load-harness-secret-2026"  # noqa: S105 - a throwaway account on a throwaway server
MONGO_PYTHON = ROOT / "tools" / "mongo" / ".venv" / "bin" / "python"
MONGO_SERVE = ROOT / "tools" / "mongo" / "serve.py"
SERVICE_ENV = {
    "APP_ENV": "development",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "1024",
    "RATE_LIMIT_DEFAULT": "1000000/minute",
    "RATE_LIMIT_AUTH": "1000/minute",
    "LOG_LEVEL": "WARNING",
    "IMPORT_MAX_BYTES": str(1024**3),
}
NOCACHE = {"CACHE_TTL_SECONDS": "0"}
#: HTTP scenarios (driven by wrk), in table order
SCENARIOS = {
    "get_project": "GET /projects/{id} (cached)",
    "get_uncached": "GET /projects/{id} (uncached)",
    "list_tasks": "GET …/tasks?page=1&size=20 (200 tasks)",
    "list_page1": "GET …/tasks?page=1&size=20 (100k tasks)",
    "list_page1000": "GET …/tasks?page=1000&size=20 (100k tasks)",
    "list_cursor1": "GET …/tasks?cursor=&size=20 (100k tasks)",
    "list_cursor1000": "GET …/tasks?cursor=<page 1000>&size=20 (100k tasks)",
    "create_task": "POST /projects/{id}/tasks",
}
#: measured by this script, not wrk
OTHER_SCENARIOS = {"fanout": "websocket fan-out", "import": "CSV import"}
ALL_SCENARIOS = (*SCENARIOS, *OTHER_SCENARIOS)
#: the ceiling's row a scenario's "× bare Litestar" is taken from (the same route shape and bytes)
CEILING_SHAPE = {
    "get_uncached": "get_project",
    "list_page1": "list_tasks",
    "list_page1000": "list_tasks",
    "list_cursor1": "list_tasks",
    "list_cursor1000": "list_tasks",
}
BIG_LISTS = ("list_page1", "list_page1000", "list_cursor1", "list_cursor1000")
CEILING, PEER = "bare-litestar", "fastapi-peer"
TRELLIS, REDIS, MONGO = "trellis", "trellis+redis", "trellis+mongo"
TRELLIS_NC, MONGO_NC = "trellis/nocache", "trellis+mongo/nocache"
#: every target and the scenarios it runs
TARGET_SCENARIOS: dict[str, tuple[str, ...]] = {
    TRELLIS: ("get_project", "list_tasks", "create_task", "fanout", "import"),
    REDIS: ("get_project", "list_tasks", "create_task", "fanout"),
    MONGO: ("get_project", "list_tasks", "create_task"),
    TRELLIS_NC: ("get_uncached", *BIG_LISTS),
    MONGO_NC: ("get_uncached",),
    CEILING: ("get_project", "list_tasks", "create_task"),
    PEER: ("get_project",),
}
QUICK = {
    "duration": 2.0,
    "rounds": 1,
    "warmup": 1.0,
    "tasks": 40,
    "big_tasks": 20_100,
    "import_rows": 20_000,
    "ws_clients": 100,
    "ws_writes": 5,
}
FULL = {
    "duration": 5.0,
    "rounds": 2,
    "warmup": 1.0,
    "tasks": 200,
    "big_tasks": 100_000,
    "import_rows": 1_000_000,
    "ws_clients": 1000,
    "ws_writes": 20,
}

LUA = """
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
{body}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"status_errors":%d,"socket_errors":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- processes -----------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Target:
    name: str
    url: str
    proc: Proc
    token: str = ""
    project_id: str = ""
    post_project_id: str = ""
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    extra: dict[str, Any] = field(default_factory=dict)
    #: scenario -> (url, method, lua body line); filled by seeding
    requests: dict[str, tuple[str, str, str]] = field(default_factory=dict)


STARTED: list[Proc] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
        return True
    return False


def spawn(name: str, argv: list[str], port: int, env: dict[str, str], logdir: Path) -> Proc:
    """Start a process (its own session, output to a log); ``listening`` waits for its port."""
    log = logdir / f"{name.replace('/', '-')}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "PORT": str(port), "HOST": LOOPBACK},
            cwd=ROOT,
            start_new_session=True,
        )
    proc = Proc(name, process, log, port)
    STARTED.append(proc)
    return proc


def listening(proc: Proc, timeout: float = 120) -> Proc:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            tail = proc.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n{tail}")
        if port_open(proc.port):
            return proc
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on {proc.port} within {timeout:.0f}s")


def start(name: str, argv: list[str], port: int, env: dict[str, str], logdir: Path, timeout: float = 120) -> Proc:
    return listening(spawn(name, argv, port, env, logdir), timeout)


def stop_all() -> None:
    for proc in reversed(STARTED):
        proc.stop()
    STARTED.clear()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in KiB, from /proc."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


# --- HTTP setup (stdlib only: no client library in the way) --------------------------------


def call(method: str, url: str, body: Any = None, token: str = "") -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback URL built here
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def must(method: str, url: str, body: Any = None, token: str = "", expect: int = 200) -> bytes:
    status, payload = call(method, url, body, token)
    if status != expect:
        raise RuntimeError(f"{method} {url} -> {status} (expected {expect}): {payload[:300]!r}")
    return payload


def login(target: Target, *, signup: bool) -> None:
    api = f"{target.url}/api/v1"
    if signup:
        body = {"email": EMAIL, "password": PASSWORD, "display_name": "Bench"}
        must("POST", f"{api}/auth/signup", body, expect=201)
    answer = json.loads(must("POST", f"{api}/auth/login", {"email": EMAIL, "password": PASSWORD}))
    target.token = answer["data"]["access_token"]


def new_project(target: Target, title: str) -> str:
    project = {"title": title, "description": "seeded by bench/run.py", "visibility": "personal"}
    created = must("POST", f"{target.url}/api/v1/projects", project, target.token, expect=201)
    return str(json.loads(created)["data"]["id"])


def post_body() -> str:
    return json.dumps({"title": "Bench write", "description": "from wrk", "tag": "bench", "progress": 5})


def seed(target: Target, tasks: int) -> None:
    """The cached targets: a read project with ``tasks`` tasks (by POST) and a project for writes."""
    api = f"{target.url}/api/v1"
    login(target, signup=True)
    target.project_id = new_project(target, "Bench board")
    target.post_project_id = new_project(target, "Bench writes")
    last = b""
    for i in range(tasks):
        task = {"title": f"Task {i:05d}", "description": "seeded", "tag": f"tag{i % 5}", "progress": (i * 7) % 100}
        last = must("POST", f"{api}/projects/{target.project_id}/tasks", task, target.token, expect=201)
    target.extra["created_body"] = last.decode()
    # warm the read cache and keep the exact bytes the references must answer
    target.extra["project_body"] = must("GET", f"{api}/projects/{target.project_id}", token=target.token).decode()
    tasks_url = f"{api}/projects/{target.project_id}/tasks?page=1&size=20"
    target.extra["tasks_body"] = must("GET", tasks_url, token=target.token).decode()
    target.requests.update(basic_requests(target))


def basic_requests(target: Target) -> dict[str, tuple[str, str, str]]:
    base = f"{target.url}/api/v1/projects"
    return {
        "get_project": (f"{base}/{target.project_id}", "GET", ""),
        "get_uncached": (f"{base}/{target.project_id}", "GET", ""),
        "list_tasks": (f"{base}/{target.project_id}/tasks?page=1&size=20", "GET", ""),
        "create_task": (f"{base}/{target.post_project_id}/tasks", "POST", f"wrk.body = {json.dumps(post_body())}"),
    }


def write_csv(path: Path, rows: int) -> int:
    """A CSV the import accepts (header ``title,description,tag,progress,finish_date``); its size."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("title,description,tag,progress,finish_date\n")
        chunk: list[str] = []
        for i in range(rows):
            chunk.append(f"Imported task {i:07d},row {i} of the bench file,tag{i % 7},{i % 100},\n")
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return path.stat().st_size


def upload_import(target: Target, project_id: str, csv: Path, mode: str = "atomic") -> str:
    """POST the file as multipart (streamed from disk); the job id."""
    boundary = f"bench-{uuid.uuid4().hex}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{csv.name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + csv.stat().st_size + len(tail)

    def body() -> Any:
        yield head
        with csv.open("rb") as source:
            while block := source.read(1 << 20):
                yield block
        yield tail

    parts = urllib.parse.urlsplit(target.url)
    connection = http.client.HTTPConnection(parts.hostname or LOOPBACK, parts.port, timeout=600)
    try:
        connection.putrequest("POST", f"/api/v1/projects/{project_id}/import?mode={mode}")
        connection.putheader("Authorization", f"Bearer {target.token}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        for block in body():
            connection.send(block)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if response.status != 202:
        raise RuntimeError(f"import -> {response.status}: {payload[:300]!r}")
    return str(json.loads(payload)["data"]["id"])


def wait_job(target: Target, job_id: str, timeout: float, on_poll: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = json.loads(must("GET", f"{target.url}/api/v1/jobs/{job_id}", token=target.token))["data"]
        if on_poll is not None:
            on_poll()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.25)
    raise RuntimeError(f"job {job_id} did not finish within {timeout:.0f}s")


def seed_big(target: Target, rows: int, workdir: Path) -> None:
    """A project of ``rows`` tasks through the import endpoint (one CSV, one job), and its list URLs."""
    started = time.monotonic()
    project_id = new_project(target, "Bench big board")
    csv = workdir / f"seed-{rows}.csv"
    if not csv.exists():
        write_csv(csv, rows)
    job = wait_job(target, upload_import(target, project_id, csv), timeout=1800)
    if job["state"] != "succeeded":
        raise RuntimeError(f"seeding {rows} tasks failed: {job}")
    base = f"{target.url}/api/v1/projects/{project_id}/tasks"
    target.extra["big_project_id"] = project_id
    target.requests["list_page1"] = (f"{base}?page=1&size=20", "GET", "")
    target.requests["list_page1000"] = (f"{base}?page=1000&size=20", "GET", "")
    say(f"seeded {target.name}: {rows:,} tasks by one import in {time.monotonic() - started:.1f}s")
    status, payload = call("GET", f"{base}?cursor=&size=20", token=target.token)
    if status != 200 or "next_cursor" not in json.loads(payload).get("meta", {}):
        target.extra["cursor"] = f"not available (GET ?cursor= answered {status}): cursor rows skipped"
        say(f"bench: {target.name} has no cursor paging yet; the cursor rows are skipped")
        return
    walked = time.monotonic()
    cursor = ""
    for _ in range(999):  # page 1 is cursor=""; the 999th next_cursor opens page 1,000
        page = json.loads(must("GET", f"{base}?cursor={urllib.parse.quote(cursor)}&size=20", token=target.token))
        cursor = page["meta"]["next_cursor"]
        if not cursor:
            raise RuntimeError("the cursor walk ended before page 1,000")
    target.requests["list_cursor1"] = (f"{base}?cursor=&size=20", "GET", "")
    target.requests["list_cursor1000"] = (f"{base}?cursor={urllib.parse.quote(cursor)}&size=20", "GET", "")
    target.extra["cursor"] = f"walked 999 next_cursor links in {time.monotonic() - walked:.1f}s"
    say(f"{target.name}: {target.extra['cursor']}")


def peer_token(user_id: str, secret: str, kid: str) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": "trellis",
        "aud": "trellis-api",
        "sub": user_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "jti": uuid.uuid4().hex,
        "roles": ["member"],
    }
    return str(jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid}))


# --- load ----------------------------------------------------------------------------------


def scenario_request(target: Target, scenario: str) -> tuple[str, str, str]:
    """(url, method, lua body line) for a scenario on a target."""
    return target.requests.get(scenario) or basic_requests(target)[scenario]


def run_wrk(target: Target, scenario: str, args: argparse.Namespace, workdir: Path, duration: float) -> dict[str, Any]:
    url, method, body = scenario_request(target, scenario)
    script = workdir / f"{target.name.replace('/', '-')}-{scenario}.lua"
    script.write_text(LUA.format(method=method, token=target.token, body=body))
    connections = args.list_connections if scenario in BIG_LISTS else args.connections
    argv = [
        "wrk",
        f"-t{min(args.threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",  # wrk takes whole seconds
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed on {target.name} {scenario}: {done.stdout[-800:]} {done.stderr[-800:]}")
    stats: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


# --- websocket fan-out ---------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_fanout(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """``ws_clients`` subscribers (in ``ws_procs`` processes) on one project channel; ``ws_writes`` POSTs."""
    project_id = target.post_project_id
    ws_url = target.url.replace("http://", "ws://") + "/api/v1/ws"
    procs = max(1, min(args.ws_procs, args.ws_clients))
    shares = [args.ws_clients // procs + (1 if i < args.ws_clients % procs else 0) for i in range(procs)]
    timeout = 60 + args.ws_writes * (args.ws_interval + 5)
    children: list[subprocess.Popen[str]] = []
    began = time.monotonic()
    try:
        for share in shares:
            argv = [sys.executable, str(ROOT / "bench" / "fanout.py"), "--url", ws_url, "--token", target.token]
            argv += ["--channel", f"project:{project_id}", "--clients", str(share), "--writes", str(args.ws_writes)]
            argv += ["--timeout", str(timeout)]
            children.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT))
        ready = 0
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if not line.startswith("READY "):
                raise RuntimeError(f"fan-out subscribers did not start: {line!r}")
            ready += int(line.split()[1])
        connect_s = time.monotonic() - began
        say(f"fanout {target.name}: {ready} subscribers ready in {connect_s:.1f}s")
        writes: list[tuple[str, float, float]] = []
        url = f"{target.url}/api/v1/projects/{project_id}/tasks"
        for i in range(args.ws_writes):
            time.sleep(args.ws_interval)
            body = {"title": f"Fan-out {i}", "description": "bench", "tag": "fanout", "progress": 1}
            sent = time.monotonic()
            created = must("POST", url, body, target.token, expect=201)
            answered = time.monotonic()
            writes.append((json.loads(created)["data"]["id"], sent, answered))
        receipts: dict[str, list[float]] = {}
        failed = closed = 0
        for child in children:
            out, _ = child.communicate(timeout=timeout + 30)
            found = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
            if found is None:
                raise RuntimeError("a fan-out subscriber process gave no result")
            result = json.loads(found.removeprefix("RESULT "))
            failed, closed = failed + result["failed"], closed + result["closed"]
            for task_id, times in result["receipts"].items():
                receipts.setdefault(task_id, []).extend(times)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    last_resp: list[float] = []
    all_resp: list[float] = []
    last_sent: list[float] = []
    all_sent: list[float] = []
    missing = 0
    for task_id, sent, answered in writes:
        times = receipts.get(task_id, [])
        missing += ready - len(times)
        if not times:
            continue
        last_resp.append((max(times) - answered) * 1000)
        last_sent.append((max(times) - sent) * 1000)
        all_resp.extend((t - answered) * 1000 for t in times)
        all_sent.extend((t - sent) * 1000 for t in times)
    before_response = len([v for v in all_resp if v < 0])
    return {
        "target": target.name,
        "subscribers": ready,
        "subscriber_processes": procs,
        "subscribe_failures": failed,
        "closed_early": closed,
        "writes": len(writes),
        "write_interval_s": args.ws_interval,
        "connect_s": round(connect_s, 2),
        "missing_receipts": missing,
        "last_receipt_ms": {"p50": percentile(last_resp, 50), "p99": percentile(last_resp, 99)},
        "all_receipts_ms": {"p50": percentile(all_resp, 50), "p99": percentile(all_resp, 99)},
        "last_receipt_from_request_ms": {"p50": percentile(last_sent, 50), "p99": percentile(last_sent, 99)},
        "all_receipts_from_request_ms": {"p50": percentile(all_sent, 50), "p99": percentile(all_sent, 99)},
        "receipts_before_response": before_response,
        "receipts": len(all_resp),
    }


# --- import --------------------------------------------------------------------------------


def run_import(args: argparse.Namespace, trellis: str, workdir: Path) -> dict[str, Any]:
    """A fresh embedded Trellis (in-process job queue); one CSV of ``import_rows`` rows; rows/s and peak RSS."""
    csv = workdir / f"import-{args.import_rows}.csv"
    t0 = time.monotonic()
    size = write_csv(csv, args.import_rows)
    say(f"import: wrote {args.import_rows:,} rows ({size / 2**20:.1f} MiB) in {time.monotonic() - t0:.1f}s")
    port = free_port()
    env = {**SERVICE_ENV, "FILE_STORAGE_ROOT": str(workdir / "blobs-import")}
    proc = start("trellis-import", [trellis, "serve"], port, env, workdir)
    target = Target("trellis-import", f"http://{LOOPBACK}:{port}", proc)
    try:
        login(target, signup=True)
        project_id = new_project(target, "Bench import")
        before = memory_kib(proc.process.pid)
        samples: list[int] = []

        def sample() -> None:
            samples.append(memory_kib(proc.process.pid).get("VmRSS", 0))

        started = time.monotonic()
        job_id = upload_import(target, project_id, csv, args.import_mode)
        uploaded = time.monotonic() - started
        job = wait_job(target, job_id, timeout=3600, on_poll=sample)
        elapsed = time.monotonic() - started
        after = memory_kib(proc.process.pid)
    finally:
        proc.stop()
        STARTED.remove(proc)
        csv.unlink(missing_ok=True)
    accepted = (job.get("result") or {}).get("accepted", 0)
    return {
        "target": "trellis-import (embedded, in-process job queue: the server process is the worker)",
        "rows": args.import_rows,
        "mode": args.import_mode,
        "file_bytes": size,
        "state": job["state"],
        "accepted": accepted,
        "upload_s": round(uploaded, 2),
        "total_s": round(elapsed, 2),
        "rows_per_s": accepted / elapsed if elapsed else 0.0,
        "rss_before_kib": before.get("VmRSS", 0),
        "peak_rss_kib": after.get("VmHWM", 0),
        "rss_after_kib": after.get("VmRSS", 0),
        "max_sampled_rss_kib": max(samples, default=0),
    }


# --- report --------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def latency(samples: list[dict[str, Any]], key: str) -> float | None:
    """Median over the rounds that completed a request (wrk reports 0 when none did)."""
    done = [s[key] / 1000 for s in samples if s["requests"]]
    return statistics.median(done) if done else None


def summarise(runs: dict[tuple[str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for (target, scenario), samples in runs.items():
        rows.append(
            {
                "target": target,
                "scenario": scenario,
                "rps": statistics.median(s["rps"] for s in samples),
                "rps_runs": [round(s["rps"], 1) for s in samples],
                "p50_ms": latency(samples, "p50_us"),
                "p99_ms": latency(samples, "p99_us"),
                "requests": sum(s["requests"] for s in samples),
                "errors": sum(s["status_errors"] + s["socket_errors"] for s in samples),
            }
        )
    by_key = {(r["target"], r["scenario"]): r for r in rows}
    for row in rows:
        shape = CEILING_SHAPE.get(row["scenario"], row["scenario"])
        for ref, key in ((CEILING, "vs_ceiling"), (PEER, "vs_peer")):
            other = by_key.get((ref, shape))
            row[key] = row["rps"] / other["rps"] if other and other["rps"] and row["target"] != ref else None
            if row["target"] == ref and row["scenario"] == shape:
                row[key] = 1.0
    return rows


def derived_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratios between rows of this run: uncached/cached, page 1,000/page 1, MongoDB/embedded."""
    by_key = {(r["target"], r["scenario"]): r for r in rows}
    found: list[dict[str, Any]] = []

    def add(what: str, a: tuple[str, str], b: tuple[str, str], key: str, target: float | None = None) -> None:
        if a in by_key and b in by_key and by_key[a][key] is not None and by_key[b][key]:
            value = by_key[a][key] / by_key[b][key]
            met = None if target is None else value <= target
            found.append({"ratio": what, "value": value, "of": key, "target": target, "met": met})

    add("uncached / cached GET req/s (embedded)", (TRELLIS_NC, "get_uncached"), (TRELLIS, "get_project"), "rps")
    add("uncached / cached GET req/s (MongoDB)", (MONGO_NC, "get_uncached"), (MONGO, "get_project"), "rps")
    add("page 1,000 / page 1 p99 (page/size)", (TRELLIS_NC, "list_page1000"), (TRELLIS_NC, "list_page1"), "p99_ms")
    add("page 1,000 / page 1 req/s (page/size)", (TRELLIS_NC, "list_page1000"), (TRELLIS_NC, "list_page1"), "rps")
    add(
        "page 1,000 / page 1 p99 (cursor)",
        (TRELLIS_NC, "list_cursor1000"),
        (TRELLIS_NC, "list_cursor1"),
        "p99_ms",
        target=1.5,
    )
    add("page 1,000 / page 1 req/s (cursor)", (TRELLIS_NC, "list_cursor1000"), (TRELLIS_NC, "list_cursor1"), "rps")
    for scenario in ("get_project", "list_tasks", "create_task"):
        add(f"MongoDB / embedded req/s ({scenario})", (MONGO, scenario), (TRELLIS, scenario), "rps")
    return found


def rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def ms(value: float | None) -> str:
    return "none done" if value is None else f"{value:.2f}"


def label(scenario: str, big_tasks: int) -> str:
    return SCENARIOS[scenario].replace("100k tasks", f"{big_tasks:,} tasks")


def table(rows: list[dict[str, Any]], big_tasks: int) -> str:
    def ratio(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}×"

    lines = [
        "| target | scenario | req/s | p50 ms | p99 ms | × bare Litestar | × FastAPI peer | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = {name: i for i, name in enumerate(SCENARIOS)}
    torder = {name: i for i, name in enumerate(TARGET_SCENARIOS)}
    lines.extend(
        f"| {r['target']} | {label(r['scenario'], big_tasks)} | {rate(r['rps'])} | {ms(r['p50_ms'])} "
        f"| {ms(r['p99_ms'])} "
        f"| {ratio(r['vs_ceiling'])} | {ratio(r['vs_peer'])} | {r['errors']} |"
        for r in sorted(rows, key=lambda r: (order[r["scenario"]], torder.get(r["target"], 99)))
    )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def csv_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: short durations, small data")
    parser.add_argument(
        "--only",
        type=csv_list,
        action="extend",
        default=[],
        metavar="SCENARIO[,…]",
        help=f"run only these scenarios ({', '.join(ALL_SCENARIOS)}); repeatable",
    )
    parser.add_argument(
        "--targets",
        type=csv_list,
        action="extend",
        default=[],
        metavar="TARGET[,…]",
        help=f"run only these targets ({', '.join(TARGET_SCENARIOS)}; a name also selects its /nocache twin)",
    )
    parser.add_argument("--duration", type=float, help="seconds per wrk run, whole (default 5; --quick 2)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per scenario (default 2; --quick 1)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--list-connections",
        type=int,
        default=1,
        help="wrk connections for the big-list rows (default 1: a page/size page of the memory store scans and "
        "sorts every task, about a second at 100,000, so more connections only queue)",
    )
    parser.add_argument("--warmup", type=float, help="seconds of unrecorded load per target first (default 1)")
    parser.add_argument("--tasks", type=int, help="tasks seeded by POST in the cached read project (default 200)")
    parser.add_argument("--mongo-tasks", type=int, default=40, help="at most this many in MongoDB (default 40)")
    parser.add_argument("--big-tasks", type=int, help="tasks in the list project, by import (default 100,000)")
    parser.add_argument("--import-rows", type=int, help="rows in the imported CSV (default 1,000,000)")
    parser.add_argument("--import-mode", choices=("atomic", "partial"), default="atomic")
    parser.add_argument("--ws-clients", type=int, help="websocket subscribers (default 1,000)")
    parser.add_argument("--ws-writes", type=int, help="writes observed by the subscribers (default 20)")
    parser.add_argument(
        "--fanout-targets",
        type=csv_list,
        default=[TRELLIS],
        metavar="TARGET[,…]",
        help="where the fan-out runs: trellis (in-process channels; the default) and/or trellis+redis (Redis "
        "streams; 1,000 subscribers take about two minutes to connect there)",
    )
    parser.add_argument("--ws-procs", type=int, default=2, help="processes holding the subscribers (default 2)")
    parser.add_argument("--ws-interval", type=float, default=0.25, help="seconds between fan-out writes")
    parser.add_argument("--no-redis", action="store_true", help="skip the targets that need Redis")
    parser.add_argument("--no-mongo", action="store_true", help="skip the MongoDB-wire targets")
    parser.add_argument("--json", type=Path, help="write the results here (default bench/results/bench-<time>.json)")
    parser.add_argument("--hold", type=float, default=0.0, help=argparse.SUPPRESS)  # keep servers up (profiling)
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = [s for s in args.only if s not in ALL_SCENARIOS]
    unknown += [t for t in (*args.targets, *args.fanout_targets) if t not in TARGET_SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario or target: {', '.join(unknown)}")
    if args.big_tasks < 19_981 and any(s in BIG_LISTS for s in (args.only or ALL_SCENARIOS)):
        parser.error("--big-tasks must reach page 1,000 of size 20 (at least 19,981)")
    return args


def chosen_targets(args: argparse.Namespace, redis_ok: bool, mongo_ok: bool) -> dict[str, tuple[str, ...]]:
    """Target -> the chosen scenarios it runs (targets with none are not started)."""
    scenarios = set(args.only or ALL_SCENARIOS)
    picked: dict[str, tuple[str, ...]] = {}
    for name, runs in TARGET_SCENARIOS.items():
        if args.targets and name not in args.targets and name.split("/")[0] not in args.targets:
            continue
        if name in (REDIS, MONGO, MONGO_NC) and not redis_ok:
            continue
        if name in (MONGO, MONGO_NC) and not mongo_ok:
            continue
        mine = tuple(s for s in runs if s in scenarios and (s != "fanout" or name in args.fanout_targets))
        if mine:
            picked[name] = mine
    # the peers answer the bytes Trellis answered: they need the embedded target's seed
    if (CEILING in picked or PEER in picked) and TRELLIS not in picked:
        picked = {TRELLIS: (), **picked}
    if MONGO_NC in picked and MONGO not in picked:
        picked = {**picked, MONGO: ()}  # it seeds the shared database
    return picked


def on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def fmt_ms(value: float) -> str:
    return f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    http_scenarios = [s for s in SCENARIOS if not args.only or s in args.only]
    if http_scenarios and shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk; `./dev bench` does it)", file=sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="trellis-bench-"))
    venv_bin = Path(sys.executable).parent
    trellis = str(venv_bin / "trellis") if (venv_bin / "trellis").exists() else "trellis"
    notes: list[str] = []
    try:
        redis_bin = shutil.which("redis-server")
        redis_ok = not args.no_redis and redis_bin is not None
        if not args.no_redis and redis_bin is None:
            notes.append("redis-server not installed: the Redis and MongoDB targets were skipped")
        mongo_ok = redis_ok and not args.no_mongo and MONGO_PYTHON.exists()
        if redis_ok and not args.no_mongo and not MONGO_PYTHON.exists():
            notes.append(f"the MongoDB-wire server is not installed ({MONGO_PYTHON}; tools/mongo/install.sh)")
        picked = chosen_targets(args, redis_ok, mongo_ok)
        redis_urls: dict[str, str] = {}
        if any(name in picked for name in (REDIS, MONGO, MONGO_NC)):
            assert redis_bin is not None
            rport = free_port()
            redis_argv = [redis_bin, "--port", str(rport), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
            redis_argv += ["--dir", str(workdir)]
            start("redis", redis_argv, rport, {}, workdir)
            redis_urls = {REDIS: f"redis://{LOOPBACK}:{rport}/0", MONGO: f"redis://{LOOPBACK}:{rport}/1"}
        mongo_env: dict[str, str] = {}
        if MONGO in picked:
            mport = free_port()
            argv = [str(MONGO_PYTHON), str(MONGO_SERVE), "--port", str(mport), "--host", LOOPBACK]
            start("mongoeco", argv, mport, {}, workdir)
            mongo_env = {
                "REDIS_URL": redis_urls[MONGO],
                "MONGODB_URL": f"mongodb://{LOOPBACK}:{mport}/?directConnection=true",
                "MONGODB_DATABASE": "trellis_bench",
            }
            notes.append(
                "trellis+mongo talks to mongoeco, a Python stand-in speaking the MongoDB wire protocol "
                "(tools/mongo): its timings say little about a real mongod"
            )
        envs = {
            TRELLIS: {},
            REDIS: {"REDIS_URL": redis_urls.get(REDIS, "")},
            MONGO: mongo_env,
            TRELLIS_NC: NOCACHE,
            MONGO_NC: {**mongo_env, **NOCACHE},
        }
        targets: dict[str, Target] = {}
        t0 = time.monotonic()
        for name in (TRELLIS, REDIS, MONGO, TRELLIS_NC, MONGO_NC):  # started together, then awaited
            if name in picked:
                port = free_port()
                env = {**SERVICE_ENV, **envs[name], "FILE_STORAGE_ROOT": str(workdir / f"blobs-{port}")}
                proc = spawn(name, [trellis, "serve"], port, env, workdir)
                targets[name] = Target(name, f"http://{LOOPBACK}:{port}", proc, scenarios=picked[name])
        for target in targets.values():
            listening(target.proc)
        say(f"started {', '.join(targets)} in {time.monotonic() - t0:.1f}s")

        for name, target in targets.items():
            t0 = time.monotonic()
            if name == MONGO_NC:  # shares MONGO's database: log in and read the same projects
                login(target, signup=False)
                target.project_id, target.post_project_id = targets[MONGO].project_id, targets[MONGO].post_project_id
                continue
            if name == TRELLIS_NC:
                login(target, signup=True)
                target.project_id = target.post_project_id = new_project(target, "Bench board")
                if any(s in BIG_LISTS for s in target.scenarios):
                    seed_big(target, args.big_tasks, workdir)
                continue
            tasks = args.tasks if any(s in ("list_tasks", "get_project") for s in target.scenarios) else 0
            if name == MONGO:  # mongoeco writes slowly (a transaction per task)
                tasks = min(tasks, args.mongo_tasks)
            seed(target, tasks)
            say(f"seeded {name}: {tasks} tasks by POST in {time.monotonic() - t0:.1f}s")

        same_bytes: dict[str, bool] = {}
        if CEILING in picked or PEER in picked:
            base = targets[TRELLIS]
            secret, kid = secrets.token_urlsafe(48), "bench-peer-1"
            user_id = json.loads(base.extra["project_body"])["data"]["owner_id"]
            fixture = {
                **{k: base.extra[k] for k in ("project_body", "tasks_body", "created_body")},
                "project_id": base.project_id,
                "peer_secret": secret,
                "peer_kid": kid,
                "peer_issuer": "trellis",
                "peer_audience": "trellis-api",
                "peer_user_id": user_id,
            }
            fixture_path = workdir / "fixture.json"
            fixture_path.write_text(json.dumps(fixture))
            peer_env = {"BENCH_FIXTURE": str(fixture_path)}
            for name, module in ((CEILING, "bench/peers/bare_litestar.py"), (PEER, "bench/peers/fastapi_peer.py")):
                if name not in picked:
                    continue
                port = free_port()
                proc = start(name, [sys.executable, module], port, peer_env, workdir)
                ref = Target(name, f"http://{LOOPBACK}:{port}", proc, scenarios=picked[name])
                ref.project_id, ref.post_project_id = base.project_id, base.post_project_id
                ref.token = peer_token(user_id, secret, kid) if name == PEER else base.token
                targets[name] = ref
                # the references must answer what Trellis answers
                status, body = call("GET", f"{ref.url}/api/v1/projects/{ref.project_id}", token=ref.token)
                same_bytes[name] = status == 200 and body.decode() == base.extra["project_body"]
                if not same_bytes[name]:
                    say(f"bench: WARNING {name} GET differs: {status} {body[:200]!r}")

        if args.hold:
            held = {t.name: {"url": t.url, "token": t.token, "project": t.project_id} for t in targets.values()}
            print(json.dumps(held))
            sys.stdout.flush()
            time.sleep(args.hold)
            return 0

        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for scenario in http_scenarios:
            chosen = [t for t in targets.values() if scenario in t.scenarios and scenario_ready(t, scenario)]
            if args.warmup > 0:
                for target in chosen:
                    run_wrk(target, scenario, args, workdir, args.warmup)
            for round_no in range(args.rounds):
                for target in chosen:
                    stats = run_wrk(target, scenario, args, workdir, args.duration)
                    runs.setdefault((target.name, scenario), []).append(stats)
                    say(
                        f"round {round_no + 1} {scenario:15} {target.name:22} {stats['rps']:9.0f} req/s "
                        f"p50 {stats['p50_us'] / 1000:7.2f} ms p99 {stats['p99_us'] / 1000:8.2f} ms"
                    )

        fanouts = [
            run_fanout(targets[name], args)
            for name in args.fanout_targets
            if name in targets and "fanout" in targets[name].scenarios
        ]
        imported = None
        if TRELLIS in targets and "import" in targets[TRELLIS].scenarios:
            imported = run_import(args, trellis, workdir)

        rows = summarise(runs)
        derived = derived_ratios(rows)
        notes.extend(f"{t.name} cursor: {t.extra['cursor']}" for t in targets.values() if "cursor" in t.extra)
        if TRELLIS_NC in targets and any(s in BIG_LISTS for s in targets[TRELLIS_NC].scenarios):
            notes.append(
                f"list pages: a project of {args.big_tasks:,} tasks seeded by one CSV import, on trellis/nocache "
                "(CACHE_TTL_SECONDS=0: the cached targets would answer every page from the read cache); "
                "not on MongoDB: mongoeco cannot hold 100,000 tasks in the time budget"
            )
        if MONGO in targets and "list_tasks" in targets[MONGO].scenarios:
            mongo_held = min(args.tasks, args.mongo_tasks)
            notes.append(f"trellis+mongo's read project holds {mongo_held} tasks (mongoeco writes slowly)")
        if MONGO_NC in targets or TRELLIS_NC in targets:
            notes.append("uncached = CACHE_TTL_SECONDS=0 (the read cache off) on a twin of the cached target")
        loadavg = os.getloadavg()
        machine: dict[str, Any] = {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "loadavg": [round(v, 2) for v in loadavg],
        }
        get_row = {r["target"]: r for r in rows if r["scenario"] == "get_project"}
        ours = get_row.get(REDIS) or get_row.get(TRELLIS)
        targets_met = None
        if ours is not None and ours["vs_ceiling"] is not None and ours["vs_peer"] is not None:
            targets_met = {
                "target": ours["target"],
                "vs_ceiling": ours["vs_ceiling"],
                "ceiling_met": ours["vs_ceiling"] >= 0.6,
                "vs_peer": ours["vs_peer"],
                "peer_met": ours["vs_peer"] >= 2.0,
            }
        total_s = time.monotonic() - began
        print()
        print(
            f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']} python={machine['python']} "
            f"loadavg(1/5/15 min, at the end)={' '.join(f'{v:.1f}' for v in loadavg)}"
        )
        print(
            f"load: wrk -t{args.threads} -c{args.connections} (big lists -c{args.list_connections}), "
            f"{args.rounds} interleaved rounds of {args.duration:g}s "
            f"after {args.warmup:g}s warm-up (req/s and latencies: median of the rounds)"
            + ("  [--quick]" if args.quick else "")
        )
        if rows:
            print()
            print(table(rows, args.big_tasks))
        if derived:
            print()
            print("| ratio (this run) | value | target |")
            print("|---|---:|---|")
            for d in derived:
                goal = "—" if d["target"] is None else f"≤ {d['target']} {'MET' if d['met'] else 'NOT MET'}"
                print(f"| {d['ratio']} | {d['value']:.2f}× | {goal} |")
        if targets_met is not None:
            print()
            print(
                f"issue 12 targets on the cached GET ({targets_met['target']}): "
                f"≥ 0.6× bare Litestar: {targets_met['vs_ceiling']:.2f}× "
                f"{'MET' if targets_met['ceiling_met'] else 'NOT MET'}; "
                f"≥ 2× FastAPI peer: {targets_met['vs_peer']:.2f}× {'MET' if targets_met['peer_met'] else 'NOT MET'}"
            )
        for name, same in same_bytes.items():
            print(f"{name} answers the same GET body as Trellis: {'yes' if same else 'NO'}")
        for f in fanouts:
            print()
            print(
                f"websocket fan-out ({f['target']}): {f['subscribers']} subscribers in {f['subscriber_processes']} "
                f"processes on one project channel (connected in {f['connect_s']:.1f}s), {f['writes']} POSTs "
                f"{f['write_interval_s']:g}s apart; from each write's response: last receipt p50 "
                f"{fmt_ms(f['last_receipt_ms']['p50'])} ms p99 {fmt_ms(f['last_receipt_ms']['p99'])} ms; all "
                f"receipts p50 {fmt_ms(f['all_receipts_ms']['p50'])} ms p99 {fmt_ms(f['all_receipts_ms']['p99'])} ms "
                f"(from the write's request: last p50 {fmt_ms(f['last_receipt_from_request_ms']['p50'])} ms p99 "
                f"{fmt_ms(f['last_receipt_from_request_ms']['p99'])} ms, all p50 "
                f"{fmt_ms(f['all_receipts_from_request_ms']['p50'])} ms p99 "
                f"{fmt_ms(f['all_receipts_from_request_ms']['p99'])} ms); "
                f"{f['receipts_before_response']} of {f['receipts']} receipts came before the response (negative); "
                f"missing {f['missing_receipts']}, subscribe failures {f['subscribe_failures']}, "
                f"closed early {f['closed_early']}"
            )
        if imported is not None:
            print()
            print(
                f"import ({imported['target']}): {imported['rows']:,} rows, "
                f"{imported['file_bytes'] / 2**20:.1f} MiB CSV, mode={imported['mode']}: {imported['state']}, "
                f"{imported['accepted']:,} accepted in {imported['total_s']:.1f}s "
                f"= {imported['rows_per_s']:,.0f} rows/s; "
                f"server RSS {imported['rss_before_kib'] / 1024:.0f} MiB before, "
                f"peak {imported['peak_rss_kib'] / 1024:.0f} MiB (VmHWM), {imported['rss_after_kib'] / 1024:.0f} MiB "
                "after (the embedded store keeps the imported tasks in this process: peak minus after is the "
                "import's own overhead)"
            )
        for note in notes:
            print(f"note: {note}")

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = args.json or RESULTS / f"bench-{stamp}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        keys: tuple[str, ...] = ("duration", "rounds", "connections", "list_connections", "threads", "warmup")
        keys += ("tasks", "big_tasks", "import_rows")
        settings = {k: getattr(args, k) for k in (*keys, "import_mode", "ws_clients", "ws_writes", "ws_procs")}
        settings |= {"quick": args.quick, "only": args.only, "targets": args.targets}
        report = {
            "when": stamp,
            "machine": machine,
            "settings": settings,
            "rows": rows,
            "derived": derived,
            "targets": targets_met,
            "same_bytes": same_bytes,
            "fanout": fanouts,
            "import": imported,
            "notes": notes,
            "total_s": round(total_s, 1),
            "raw": {f"{t}|{s}": v for (t, s), v in runs.items()},
        }
        out.write_text(json.dumps(report, indent=2))
        shown = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out
        print(f"\nresults: {shown}  (total {total_s:.0f}s)")
        return 0
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping what it started", file=sys.stderr)
        return 130
    finally:
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def scenario_ready(target: Target, scenario: str) -> bool:
    """A cursor row needs the cursor walk to have happened (cursor paging may not exist yet)."""
    return scenario not in ("list_cursor1", "list_cursor1000") or scenario in target.requests


if __name__ == "__main__":
    sys.exit(main())
