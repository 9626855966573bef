"""Soak: ``just soak`` (not in CI): mixed traffic at a fixed rate against a real ``trellis serve``
process for ``--duration`` seconds (default 600), sampling the server's resident memory (RSS)
and open file descriptors from ``/proc`` every ``--sample-every`` seconds.

The service runs on embedded defaults, or on Redis and MongoDB when ``REDIS_URL`` /
``MONGODB_URL`` are set in the environment. Argon2 is made cheap and the rate limits high so
the traffic measures the service, not its brute-force protection.

The mix (open loop: a request starts every 1/rate seconds whatever the others do; when
``--max-in-flight`` are already waiting, that slot is counted as ``skipped`` rather than sent
late): reads of a project and of a task, list pages of projects and of tasks, task updates
(PATCH, so the number of records stays flat and any growth is not just new data), and a login
followed by its logout. Growth is the least-squares slope of RSS (and of the descriptor
count) against requests answered, over the samples after the warm-up, times 10,000: what the
process gains per 10,000 requests once steady. Descriptors are also counted without sockets:
the socket count follows how many client connections happen to be open. Counts by status are
printed and kept; any 5xx or transport failure makes the exit status 1.

Writes ``bench/results/soak-<UTC time>.json`` (git-ignored) and prints a summary. Linux only
(``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PASSWORD = "correct horse battery 42"  # noqa: S105 - throwaway accounts on a throwaway server
SERVICE_ENV = {
    "APP_ENV": "development",
    "HOST": "127.0.0.1",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "1024",
    "RATE_LIMIT_DEFAULT": "10000000/minute",
    "RATE_LIMIT_AUTH": "10000000/minute",
    "LOG_LEVEL": "WARNING",
}
#: (name, weight) of the request kinds
MIX = (
    ("get_project", 25),
    ("get_task", 20),
    ("list_projects", 15),
    ("list_tasks", 20),
    ("patch_task", 15),
    ("login_logout", 5),
)
MEMBERS, PROJECTS_PER_MEMBER, TASKS_PER_PROJECT = 5, 4, 30


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc status")


def open_fds(pid: int) -> tuple[int, int]:
    """(every open descriptor, those that are not sockets): the socket count follows how many
    client connections are open at that moment; files, pipes and the like should stay flat."""
    total = others = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:  # closed while we looked
            continue
        total += 1
        others += not target.startswith("socket:")
    return total, others


def sample(started: float, answered: int, pid: int) -> dict[str, float]:
    fds, non_socket = open_fds(pid)
    return {
        "t": round(time.monotonic() - started, 2),
        "requests": answered,
        "rss_bytes": rss_bytes(pid),
        "fds": fds,
        "non_socket_fds": non_socket,
    }


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys against xs; None with fewer than two distinct xs."""
    n = len(xs)
    if n < 2:
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


@dataclass(slots=True)
class Member:
    email: str
    token: str
    projects: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Tally:
    by_status: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    answered: int = 0
    skipped: int = 0
    latencies: list[float] = field(default_factory=list)


def start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **SERVICE_ENV, "PORT": str(port)}
    trellis = Path(sys.executable).parent / "trellis"
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(trellis), "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_server(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


async def wait_healthy(client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"soak: the server exited with {process.returncode}; see {log}")
        try:
            if (await client.get("/health", timeout=1)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("soak: the server was not ready within 120 s")


async def prepare(client: httpx.AsyncClient) -> list[Member]:
    members: list[Member] = []
    tag = os.urandom(3).hex()
    for n in range(MEMBERS):
        email = f"soak{n}-{tag}@example.com"
        signup = await client.post(
            "/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "display_name": f"Soak {n}"}
        )
        signup.raise_for_status()
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        member = Member(email, login.json()["data"]["access_token"])
        headers = {"Authorization": f"Bearer {member.token}"}
        for p in range(PROJECTS_PER_MEMBER):
            project = await client.post(
                "/api/v1/projects", json={"title": f"Soak {n}.{p}", "visibility": "public"}, headers=headers
            )
            project.raise_for_status()
            project_id = project.json()["data"]["id"]
            member.projects.append(project_id)
            for t in range(TASKS_PER_PROJECT):
                task = await client.post(
                    f"/api/v1/projects/{project_id}/tasks", json={"title": f"Task {t}"}, headers=headers
                )
                task.raise_for_status()
                member.tasks.append(task.json()["data"]["id"])
        members.append(member)
    return members


async def one_request(client: httpx.AsyncClient, kind: str, member: Member, rng: random.Random) -> list[int]:
    """The statuses of the request(s) of one ``kind``."""
    headers = {"Authorization": f"Bearer {member.token}"}
    if kind == "get_project":
        return [(await client.get(f"/api/v1/projects/{rng.choice(member.projects)}", headers=headers)).status_code]
    if kind == "get_task":
        return [(await client.get(f"/api/v1/tasks/{rng.choice(member.tasks)}", headers=headers)).status_code]
    if kind == "list_projects":
        page = rng.randint(1, 3)
        return [(await client.get(f"/api/v1/projects?page={page}&size=10", headers=headers)).status_code]
    if kind == "list_tasks":
        project, page = rng.choice(member.projects), rng.randint(1, 3)
        url = f"/api/v1/projects/{project}/tasks?page={page}&size=10"
        return [(await client.get(url, headers=headers)).status_code]
    if kind == "patch_task":
        body = {"progress": rng.randint(0, 99)}
        return [
            (await client.patch(f"/api/v1/tasks/{rng.choice(member.tasks)}", json=body, headers=headers)).status_code
        ]
    login = await client.post("/api/v1/auth/login", json={"email": member.email, "password": PASSWORD})
    statuses = [login.status_code]
    if login.status_code == 200:
        refresh = login.json()["data"]["refresh_token"]
        statuses.append((await client.post("/api/v1/auth/logout", json={"refresh_token": refresh})).status_code)
    return statuses


async def drive(
    client: httpx.AsyncClient, members: list[Member], args: argparse.Namespace, pid: int
) -> tuple[Tally, list[dict[str, float]]]:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible traffic mix, not a secret
    kinds, weights = zip(*MIX, strict=True)
    tally = Tally()
    samples: list[dict[str, float]] = []
    in_flight: set[asyncio.Task[None]] = set()
    started = time.monotonic()

    async def send(kind: str) -> None:
        begun = time.monotonic()
        statuses: list[int | str]
        try:
            statuses = list(await one_request(client, kind, rng.choice(members), rng))
        except httpx.HTTPError as error:
            statuses = [type(error).__name__]
        tally.latencies.append(time.monotonic() - begun)
        tally.by_kind[kind] += 1
        for status in statuses:
            tally.by_status[str(status)] += 1
            tally.answered += 1

    async def sampler() -> None:
        while True:
            samples.append(sample(started, tally.answered, pid))
            await asyncio.sleep(args.sample_every)

    sampling = asyncio.create_task(sampler())
    interval, n = 1.0 / args.rate, 0
    try:
        while (now := time.monotonic()) - started < args.duration:
            due = started + n * interval
            if due > now:
                await asyncio.sleep(due - now)
            n += 1
            if len(in_flight) >= args.max_in_flight:
                tally.skipped += 1
                continue
            task = asyncio.create_task(send(rng.choices(kinds, weights)[0]))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            if n % (args.rate * 30) == 0:
                elapsed = time.monotonic() - started
                print(
                    f"soak: {elapsed:5.0f} s, {tally.answered} answered, rss {rss_bytes(pid) / 2**20:.1f} MiB",
                    flush=True,
                )
        await asyncio.gather(*in_flight)
    finally:
        sampling.cancel()
    samples.append(sample(started, tally.answered, pid))
    return tally, samples


def growth(samples: list[dict[str, float]], warmup_seconds: float) -> dict[str, Any]:
    steady = [s for s in samples if s["t"] >= warmup_seconds]
    xs = [s["requests"] for s in steady]
    rss_slope = slope(xs, [s["rss_bytes"] for s in steady])
    fd_slope = slope(xs, [s["fds"] for s in steady])
    other_slope = slope(xs, [s["non_socket_fds"] for s in steady])
    return {
        "samples_used": len(steady),
        "rss_bytes_per_10k_requests": None if rss_slope is None else round(rss_slope * 10_000),
        "fds_per_10k_requests": None if fd_slope is None else round(fd_slope * 10_000, 2),
        "non_socket_fds_per_10k_requests": None if other_slope is None else round(other_slope * 10_000, 2),
        "rss_first_mib": round(steady[0]["rss_bytes"] / 2**20, 1) if steady else None,
        "rss_last_mib": round(steady[-1]["rss_bytes"] / 2**20, 1) if steady else None,
        "rss_max_mib": round(max(s["rss_bytes"] for s in steady) / 2**20, 1) if steady else None,
        "fds_first": steady[0]["fds"] if steady else None,
        "fds_last": steady[-1]["fds"] if steady else None,
        "fds_max": max(s["fds"] for s in steady) if steady else None,
        "non_socket_fds_first": steady[0]["non_socket_fds"] if steady else None,
        "non_socket_fds_last": steady[-1]["non_socket_fds"] if steady else None,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of traffic (default 600)")
    parser.add_argument("--rate", type=int, default=50, help="requests started per second (default 50)")
    parser.add_argument("--max-in-flight", type=int, default=64, help="slots beyond this are skipped (default 64)")
    parser.add_argument("--sample-every", type=float, default=5, help="seconds between RSS/fd samples (default 5)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds left out of the growth (default 10%%)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--out", type=Path, default=None, help="the JSON report (default bench/results/soak-*.json)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if not Path("/proc/self/status").exists():
        raise SystemExit("soak: needs Linux (/proc) to sample the server's RSS and descriptors")
    RESULTS.mkdir(parents=True, exist_ok=True)
    return asyncio.run(soak(args))


async def soak(args: argparse.Namespace) -> int:
    warmup = args.warmup if args.warmup is not None else args.duration * 0.1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log = RESULTS / f"soak-{stamp}.server.log"
    port = free_port()
    load_at_start = round(os.getloadavg()[0], 2)
    stores = {name: "set" for name in ("REDIS_URL", "MONGODB_URL") if os.environ.get(name)}
    print(
        f"soak: {args.duration:g} s at {args.rate}/s on {stores or 'embedded defaults'}; server log {log}", flush=True
    )
    process = start_server(port, log)
    limits = httpx.Limits(max_connections=args.max_in_flight, max_keepalive_connections=args.max_in_flight)
    timeout = httpx.Timeout(10.0, connect=5.0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=timeout) as client:
            await wait_healthy(client, process, log)
            members = await prepare(client)
            tally, samples = await drive(client, members, args, process.pid)
    finally:
        exit_code = stop_server(process)
    latencies = sorted(tally.latencies)
    report = {
        "started": stamp,
        "duration_seconds": args.duration,
        "rate_per_second": args.rate,
        "stores": {"redis": bool(os.environ.get("REDIS_URL")), "mongodb": bool(os.environ.get("MONGODB_URL"))},
        "mix": dict(MIX),
        "requests_answered": tally.answered,
        "skipped_slots": tally.skipped,
        "by_status": dict(sorted(tally.by_status.items())),
        "by_kind": dict(sorted(tally.by_kind.items())),
        "latency_ms": {
            "p50": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
            "p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
        },
        "warmup_seconds": warmup,
        "growth": growth(samples, warmup),
        "server_exit_code": exit_code,
        "load_average_1m": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
        "cpus": os.cpu_count(),
        "samples": samples,
    }
    out = args.out or RESULTS / f"soak-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    g = report["growth"]
    print(f"soak: {tally.answered} responses in {args.duration:g} s; by status {report['by_status']}")
    print(f"soak: {tally.skipped} slots skipped (more than --max-in-flight waiting)")
    print(f"soak: latency p50 {report['latency_ms']['p50']} ms, p99 {report['latency_ms']['p99']} ms")
    print(
        f"soak: after {warmup:g} s warm-up: RSS {g['rss_first_mib']} -> {g['rss_last_mib']} MiB "
        f"(max {g['rss_max_mib']}), growth {g['rss_bytes_per_10k_requests']} bytes per 10,000 requests; "
        f"fds {g['fds_first']} -> {g['fds_last']} (max {g['fds_max']}), {g['fds_per_10k_requests']} per 10,000 "
        f"requests; not sockets {g['non_socket_fds_first']} -> {g['non_socket_fds_last']}, "
        f"{g['non_socket_fds_per_10k_requests']} per 10,000 requests"
    )
    print(f"soak: load average {report['load_average_1m']} on {os.cpu_count()} CPUs")
    print(f"soak: report {out}; server exit code {exit_code}")
    failures = {status: n for status, n in tally.by_status.items() if not status.isdigit() or status.startswith("5")}
    if failures:
        print(f"soak: FAILED: server errors or transport failures {failures}")
    return 0 if exit_code == 0 and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
