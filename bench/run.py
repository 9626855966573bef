"""Load benchmark (issue 12): Trellis against the framework ceiling and a FastAPI peer, in one run.

    ./dev bench                                   # the recipe: installs wrk/redis-server if missing
    uv run --group bench python bench/run.py --duration 5 --rounds 2 --connections 32 --threads 2

Starts on 127.0.0.1 (free ports): Trellis on embedded defaults, Trellis with ``REDIS_URL`` to a
``redis-server`` started here, the bare Litestar ceiling and the FastAPI peer
(``bench/peers/``, not part of the product). Seeds a user, projects and tasks through the API,
then drives every target with ``wrk`` (a Lua script adds the bearer token), interleaving the
targets per scenario and round (A B C D A B C D …), and prints req/s, p50/p99 and the ratios to
the ceiling and to the peer. Every figure worth quoting is a ratio measured in this run.
Results go to ``bench/results/<timestamp>.json``. Everything started is stopped at the end,
on error and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
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
import time
import urllib.error
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
SERVICE_ENV = {
    "APP_ENV": "development",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "1024",
    "RATE_LIMIT_DEFAULT": "1000000/minute",
    "RATE_LIMIT_AUTH": "1000/minute",
    "LOG_LEVEL": "WARNING",
}
SCENARIOS = {
    "get_project": "GET /api/v1/projects/{id} (cached)",
    "list_tasks": "GET /api/v1/projects/{id}/tasks?page=1&size=20",
    "create_task": "POST /api/v1/projects/{id}/tasks",
}
CEILING, PEER = "bare-litestar", "fastapi-peer"

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


# --- processes -----------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

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


STARTED: list[Proc] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
        return True
    return False


def start(name: str, argv: list[str], port: int, env: dict[str, str], logdir: Path, timeout: float = 60) -> Proc:
    log = logdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "PORT": str(port), "HOST": LOOPBACK},
            cwd=ROOT,
            start_new_session=True,
        )
    proc = Proc(name, process, log)
    STARTED.append(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if port_open(port):
            return proc
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f}s")


def stop_all() -> None:
    for proc in reversed(STARTED):
        proc.stop()
    STARTED.clear()


# --- HTTP setup (stdlib only: no client library in the way) --------------------------------


def call(method: str, url: str, body: Any = None, token: str = "") -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback URL built here
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def must(method: str, url: str, body: Any = None, token: str = "", expect: int = 200) -> bytes:
    status, payload = call(method, url, body, token)
    if status != expect:
        raise RuntimeError(f"{method} {url} -> {status} (expected {expect}): {payload[:300]!r}")
    return payload


def seed(target: Target, tasks: int) -> None:
    api = f"{target.url}/api/v1"
    must("POST", f"{api}/auth/signup", {"email": EMAIL, "password": PASSWORD, "display_name": "Bench"}, expect=201)
    login = json.loads(must("POST", f"{api}/auth/login", {"email": EMAIL, "password": PASSWORD}))
    target.token = login["data"]["access_token"]
    project = {"title": "Bench board", "description": "seeded by bench/run.py", "visibility": "personal"}
    target.project_id = json.loads(must("POST", f"{api}/projects", project, target.token, expect=201))["data"]["id"]
    post_project = {**project, "title": "Bench writes"}
    created = must("POST", f"{api}/projects", post_project, target.token, expect=201)
    target.post_project_id = json.loads(created)["data"]["id"]
    for i in range(tasks):
        task = {"title": f"Task {i:05d}", "description": "seeded", "tag": f"tag{i % 5}", "progress": (i * 7) % 100}
        last = must("POST", f"{api}/projects/{target.project_id}/tasks", task, target.token, expect=201)
    target.extra["created_body"] = last.decode()
    # warm the read cache and keep the exact bytes the references must answer
    target.extra["project_body"] = must("GET", f"{api}/projects/{target.project_id}", token=target.token).decode()
    tasks_url = f"{api}/projects/{target.project_id}/tasks?page=1&size=20"
    target.extra["tasks_body"] = must("GET", tasks_url, token=target.token).decode()


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
    base = f"{target.url}/api/v1/projects"
    if scenario == "get_project":
        return f"{base}/{target.project_id}", "GET", ""
    if scenario == "list_tasks":
        return f"{base}/{target.project_id}/tasks?page=1&size=20", "GET", ""
    body = json.dumps({"title": "Bench write", "description": "from wrk", "tag": "bench", "progress": 5})
    return f"{base}/{target.post_project_id}/tasks", "POST", f"wrk.body = {json.dumps(body)}"


def run_wrk(target: Target, scenario: str, args: argparse.Namespace, workdir: Path, duration: float) -> dict[str, Any]:
    url, method, body = scenario_request(target, scenario)
    script = workdir / f"{target.name}-{scenario}.lua"
    script.write_text(LUA.format(method=method, token=target.token, body=body))
    argv = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
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


# --- report --------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def summarise(runs: dict[tuple[str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for (target, scenario), samples in runs.items():
        rows.append(
            {
                "target": target,
                "scenario": scenario,
                "rps": statistics.median(s["rps"] for s in samples),
                "rps_runs": [round(s["rps"], 1) for s in samples],
                "p50_ms": statistics.median(s["p50_us"] for s in samples) / 1000,
                "p99_ms": statistics.median(s["p99_us"] for s in samples) / 1000,
                "errors": sum(s["status_errors"] + s["socket_errors"] for s in samples),
            }
        )
    by_key = {(r["target"], r["scenario"]): r for r in rows}
    for row in rows:
        for ref, key in ((CEILING, "vs_ceiling"), (PEER, "vs_peer")):
            other = by_key.get((ref, row["scenario"]))
            row[key] = row["rps"] / other["rps"] if other and other["rps"] else None
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    def ratio(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}×"

    lines = [
        "| target | scenario | req/s | p50 ms | p99 ms | × bare Litestar | × FastAPI peer | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = {name: i for i, name in enumerate(SCENARIOS)}
    lines.extend(
        f"| {r['target']} | {r['scenario']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
        f"| {ratio(r['vs_ceiling'])} | {ratio(r['vs_peer'])} | {r['errors']} |"
        for r in sorted(rows, key=lambda r: (order[r["scenario"]], r["target"]))
    )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per scenario (default 2)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of unrecorded load per target first")
    parser.add_argument("--tasks", type=int, default=200, help="tasks seeded in the read project (default 200)")
    parser.add_argument("--no-redis", action="store_true", help="skip the Trellis+Redis target")
    parser.add_argument("--hold", type=float, default=0.0, help=argparse.SUPPRESS)  # keep servers up (profiling)
    return parser.parse_args()


def on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk; `./dev bench` does it)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_sigterm)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="trellis-bench-"))
    venv_bin = Path(sys.executable).parent
    trellis = str(venv_bin / "trellis") if (venv_bin / "trellis").exists() else "trellis"
    try:
        targets: list[Target] = []
        port = free_port()
        proc = start("trellis", [trellis, "serve"], port, SERVICE_ENV, workdir)
        targets.append(Target("trellis", f"http://{LOOPBACK}:{port}", proc))
        redis_bin = shutil.which("redis-server")
        if not args.no_redis and redis_bin is None:
            print("bench: redis-server not installed; skipping the Trellis+Redis target", file=sys.stderr)
        elif not args.no_redis and redis_bin is not None:
            rport = free_port()
            redis_argv = [redis_bin, "--port", str(rport), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
            redis_argv += ["--dir", str(workdir)]
            start("redis", redis_argv, rport, {}, workdir)
            port = free_port()
            env = {**SERVICE_ENV, "REDIS_URL": f"redis://{LOOPBACK}:{rport}/0"}
            proc = start("trellis-redis", [trellis, "serve"], port, env, workdir)
            targets.append(Target("trellis+redis", f"http://{LOOPBACK}:{port}", proc))

        for target in targets:
            t0 = time.monotonic()
            seed(target, args.tasks)
            print(f"seeded {target.name}: {args.tasks} tasks in {time.monotonic() - t0:.1f}s", file=sys.stderr)

        base = targets[0]
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
        for name, module, scenarios in (
            (CEILING, "bench/peers/bare_litestar.py", tuple(SCENARIOS)),
            (PEER, "bench/peers/fastapi_peer.py", ("get_project",)),
        ):
            port = free_port()
            proc = start(name, [sys.executable, module], port, peer_env, workdir)
            ref = Target(name, f"http://{LOOPBACK}:{port}", proc, scenarios=scenarios)
            ref.project_id, ref.post_project_id = base.project_id, base.post_project_id
            ref.token = peer_token(user_id, secret, kid) if name == PEER else base.token
            targets.append(ref)

        # the references must answer what Trellis answers
        same_bytes: dict[str, bool] = {}
        for ref in targets[-2:]:
            status, body = call("GET", f"{ref.url}/api/v1/projects/{ref.project_id}", token=ref.token)
            same_bytes[ref.name] = status == 200 and body.decode() == base.extra["project_body"]
            if not same_bytes[ref.name]:
                print(f"bench: WARNING {ref.name} GET differs: {status} {body[:200]!r}", file=sys.stderr)

        if args.hold:
            print(json.dumps({t.name: {"url": t.url, "token": t.token, "project": t.project_id} for t in targets}))
            sys.stdout.flush()
            time.sleep(args.hold)
            return 0

        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for scenario in SCENARIOS:
            chosen = [t for t in targets if scenario in t.scenarios]
            if args.warmup > 0:
                for target in chosen:
                    run_wrk(target, scenario, args, workdir, args.warmup)
            for round_no in range(args.rounds):
                for target in chosen:
                    stats = run_wrk(target, scenario, args, workdir, args.duration)
                    runs.setdefault((target.name, scenario), []).append(stats)
                    print(
                        f"round {round_no + 1} {scenario:12} {target.name:14} {stats['rps']:9.0f} req/s "
                        f"p50 {stats['p50_us'] / 1000:6.2f} ms p99 {stats['p99_us'] / 1000:7.2f} ms",
                        file=sys.stderr,
                    )

        rows = summarise(runs)
        machine = {"nproc": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version()}
        get_row = {r["target"]: r for r in rows if r["scenario"] == "get_project"}
        ours = get_row.get("trellis+redis") or get_row["trellis"]
        targets_met = {
            "target": ours["target"],
            "vs_ceiling": ours["vs_ceiling"],
            "ceiling_met": (ours["vs_ceiling"] or 0) >= 0.6,
            "vs_peer": ours["vs_peer"],
            "peer_met": (ours["vs_peer"] or 0) >= 2.0,
        }
        print()
        print(f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']} python={machine['python']}")
        print(
            f"load: wrk -t{args.threads} -c{args.connections}, {args.rounds} interleaved rounds of {args.duration:g}s "
            "(req/s and latencies: median of the rounds)"
        )
        print()
        print(table(rows))
        print()
        print(
            f"issue 12 targets on the cached GET ({targets_met['target']}): "
            f"≥ 0.6× bare Litestar: {targets_met['vs_ceiling']:.2f}× "
            f"{'MET' if targets_met['ceiling_met'] else 'NOT MET'}; "
            f"≥ 2× FastAPI peer: {targets_met['vs_peer']:.2f}× {'MET' if targets_met['peer_met'] else 'NOT MET'}"
        )
        for name, same in same_bytes.items():
            print(f"{name} answers the same GET body as Trellis: {'yes' if same else 'NO'}")

        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"bench-{stamp}.json"
        settings = {k: getattr(args, k) for k in ("duration", "rounds", "connections", "threads", "warmup", "tasks")}
        report = {
            "when": stamp,
            "machine": machine,
            "settings": settings,
            "rows": rows,
            "targets": targets_met,
            "same_bytes": same_bytes,
            "raw": {f"{t}|{s}": v for (t, s), v in runs.items()},
        }
        out.write_text(json.dumps(report, indent=2))
        print(f"\nresults: {out.relative_to(ROOT)}  (total {time.monotonic() - began:.0f}s)")
        return 0
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping what it started", file=sys.stderr)
        return 130
    finally:
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
