"""Measure what the declared MongoDB indexes buy: the repositories' real queries, without and with.

    uv run python bench/indexes.py                      # mongoeco wire server (started here)
    MONGODB_URL=mongodb://localhost:27017 uv run python bench/indexes.py   # a real mongod
    uv run python bench/indexes.py --tasks 20000 --projects 500 --repeat 50

Seeds users, projects and tasks in a fresh database, runs the queries the API makes (through
the repositories, so filters and sorts are exactly the production ones) with only the ``_id``
index, then creates the declared indexes and runs them again, and prints per-query medians
and the ratio. On a real ``mongod`` it also prints each query's ``explain()`` winning plan
(COLLSCAN before, IXSCAN after). The database is dropped at the end. Results are printed,
not asserted; mongoeco's timings say little about MongoDB's (its planner and storage differ).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.mongo import MongoDatabase  # noqa: E402
from adapters.mongo.documents import ALL_DOCUMENTS, LIVE, ProjectDocument, TaskDocument, UserDocument  # noqa: E402
from adapters.mongo.repositories import project_filter, task_filter  # noqa: E402
from domain.board import Project, Task, Visibility  # noqa: E402
from domain.identity import Role, User  # noqa: E402
from domain.paging import PageRequest, Sort  # noqa: E402
from domain.ports import ProjectQuery, TaskQuery  # noqa: E402

TAGS = ["site", "supplies", "permits", "electrical", "plumbing", "paint", "inspection", "cleanup"]
START = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


@dataclass
class Query:
    name: str
    run: Callable[[], Awaitable[object]]
    collection: str
    explain_filter: Callable[[], dict[str, Any]]
    sort: list[tuple[str, int]]


def start_wire_server() -> tuple[subprocess.Popen[bytes], str]:
    python = ROOT / "tools" / "mongo" / ".venv" / "bin" / "python"
    if not python.exists():
        sys.exit("No MONGODB_URL and no wire server: run tools/mongo/install.sh first.")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    process = subprocess.Popen(
        [str(python), str(ROOT / "tools" / "mongo" / "serve.py"), "--port", str(port), "--exit-with-parent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"mongodb://127.0.0.1:{port}/?directConnection=true"
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("the wire server did not start")


async def seed(db: MongoDatabase, users: int, projects: int, tasks: int, rng: random.Random) -> dict[str, Any]:
    started = time.perf_counter()
    user_rows = [
        User(
            id=f"u{n:05d}",
            email=f"user{n}@example.com",
            display_name=f"User {n}",
            roles=frozenset({Role.MEMBER}),
            created_at=START + timedelta(minutes=n),
            updated_at=START + timedelta(minutes=n),
        )
        for n in range(users)
    ]
    project_rows = [
        Project(
            id=f"p{n:05d}",
            owner_id=user_rows[rng.randrange(users)].id,
            title=f"{rng.choice(['Bridge', 'Roof', 'School', 'Depot', 'Clinic'])} works {n}",
            created_at=START + timedelta(hours=n),
            updated_at=START + timedelta(hours=n),
            visibility=Visibility.PUBLIC if rng.random() < 0.3 else Visibility.PERSONAL,
            deleted_at=START if rng.random() < 0.05 else None,
        )
        for n in range(projects)
    ]
    task_rows = [
        Task(
            id=f"t{n:06d}",
            project_id=project_rows[rng.randrange(projects)].id,
            title=f"Task {n}",
            created_at=START + timedelta(minutes=n),
            updated_at=START + timedelta(minutes=n),
            tag=rng.choice([*TAGS, None]),
            progress=rng.randrange(0, 101, 10),
            finish_date=date(2025, 1, 1) + timedelta(days=rng.randrange(365)),
            deleted_at=START if rng.random() < 0.05 else None,
        )
        for n in range(tasks)
    ]
    for document, rows in (
        (UserDocument, [UserDocument.from_domain(u).to_bson() for u in user_rows]),
        (ProjectDocument, [ProjectDocument.from_domain(p).to_bson() for p in project_rows]),
        (TaskDocument, [TaskDocument.from_domain(t).to_bson() for t in task_rows]),
    ):
        collection = db.database[document.collection_name]
        for offset in range(0, len(rows), 100):
            await collection.insert_many(rows[offset : offset + 100], ordered=False)
    print(f"seeded {users} users, {projects} projects, {tasks} tasks in {time.perf_counter() - started:.1f}s")
    return {"users": user_rows, "projects": project_rows}


def queries(db: MongoDatabase, data: dict[str, Any], rng: random.Random) -> list[Query]:
    uow = db.unit_of_work()
    users: list[User] = data["users"]
    projects: list[Project] = data["projects"]
    newest = PageRequest(page=1, size=20, sort=Sort("created_at", descending=True))
    oldest = PageRequest(page=1, size=20, sort=Sort("created_at"))
    by_due = PageRequest(page=1, size=20, sort=Sort("finish_date"))
    pick_user = lambda: rng.choice(users).id  # noqa: E731
    pick_project = lambda: rng.choice(projects).id  # noqa: E731
    created_desc = [("created_at", -1), ("_id", 1)]
    created_asc = [("created_at", 1), ("_id", 1)]
    return [
        Query(
            "tasks of a project (page 1)",
            lambda: uow.tasks.list(TaskQuery(pick_project()), oldest),
            "tasks",
            lambda: {**task_filter(TaskQuery(pick_project())), **LIVE},
            created_asc,
        ),
        Query(
            "tasks of a project ?tag=",
            lambda: uow.tasks.list(TaskQuery(pick_project(), tag=rng.choice(TAGS)), oldest),
            "tasks",
            lambda: {**task_filter(TaskQuery(pick_project(), tag=rng.choice(TAGS))), **LIVE},
            created_asc,
        ),
        Query(
            "tasks of a project by due date",
            lambda: uow.tasks.list(TaskQuery(pick_project()), by_due),
            "tasks",
            lambda: {**task_filter(TaskQuery(pick_project())), **LIVE},
            [("finish_date", 1), ("_id", 1)],
        ),
        Query(
            "project progress totals",
            lambda: uow.tasks.progress_totals(pick_project()),
            "tasks",
            lambda: {"project_id": pick_project(), **LIVE},
            [],
        ),
        Query(
            "projects a member sees",
            lambda: uow.projects.list(ProjectQuery(viewer_id=pick_user()), newest),
            "projects",
            lambda: {**project_filter(ProjectQuery(viewer_id=pick_user())), **LIVE},
            created_desc,
        ),
        Query(
            "my projects (owner_id)",
            lambda: uow.projects.list(ProjectQuery(viewer_id=None, owner_id=pick_user()), newest),
            "projects",
            lambda: {**project_filter(ProjectQuery(viewer_id=None, owner_id=pick_user())), **LIVE},
            created_desc,
        ),
        Query(
            "user by e-mail (login)",
            lambda: uow.users.get_by_email(f"user{rng.randrange(len(users))}@example.com"),
            "users",
            lambda: {"email": f"user{rng.randrange(len(users))}@example.com", **LIVE},
            [],
        ),
    ]


async def measure(query: Query, repeat: int) -> float:
    await query.run()  # warm up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await query.run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def plan_summary(plan: dict[str, Any]) -> str:
    stages: list[str] = []
    node: dict[str, Any] | None = plan
    while node:
        stage = str(node.get("stage", "?"))
        if stage == "IXSCAN":
            stage += f"({node.get('indexName')})"
        stages.append(stage)
        children = node.get("inputStages") or []
        node = node.get("inputStage") or (children[0] if children else None)
    return " <- ".join(stages)


async def explain(db: MongoDatabase, query: Query) -> str:
    cursor = db.database[query.collection].find(query.explain_filter())
    if query.sort:
        cursor = cursor.sort(query.sort)
    result = await cursor.limit(20).explain()
    planner = result.get("queryPlanner", {})
    winning = planner.get("winningPlan", {})
    return plan_summary(winning.get("queryPlan", winning))


async def main() -> None:
    parser = argparse.ArgumentParser(description="MongoDB index benchmark (prints, never asserts)")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--projects", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    url = os.environ.get("MONGODB_URL")
    server = None
    if not url:
        server, url = start_wire_server()
    name = f"trellis_bench_{uuid.uuid4().hex[:8]}"
    # generous timeouts: the wire server is single-threaded, and a busy one misses heartbeats
    db = await MongoDatabase.connect(
        url, name, server_selection_timeout_ms=30_000, socket_timeout_ms=300_000, connect_timeout_ms=60_000
    )
    try:
        build = await db.database.command("buildInfo")
        real = build.get("gitVersion") != "mongoeco"
        print(f"server: {'MongoDB' if real else 'mongoeco wire server'} {build.get('version')} at {url.split('?')[0]}")
        rng = random.Random(args.seed)
        data = await seed(db, args.users, args.projects, args.tasks, rng)
        for document in ALL_DOCUMENTS:
            await db.database[document.collection_name].drop_indexes()  # keeps _id only
        selected = queries(db, data, rng)

        without: dict[str, float] = {}
        plans_without: dict[str, str] = {}
        for query in selected:
            without[query.name] = await measure(query, args.repeat)
            if real:
                plans_without[query.name] = await explain(db, query)

        started = time.perf_counter()
        for document in ALL_DOCUMENTS:
            models = document.Settings.indexes  # type: ignore[attr-defined]
            await db.database[document.collection_name].create_indexes(models)
        print(f"created the declared indexes in {time.perf_counter() - started:.2f}s")

        print(f"\n{'query':34} {'no index ms':>12} {'indexed ms':>11} {'ratio':>7}   (median of {args.repeat})")
        for query in selected:
            with_index = await measure(query, args.repeat)
            ratio = without[query.name] / with_index if with_index else float("inf")
            print(f"{query.name:34} {without[query.name]:12.2f} {with_index:11.2f} {ratio:6.1f}x")
            if real:
                print(f"    before: {plans_without[query.name]}")
                print(f"    after:  {await explain(db, query)}")
        if not real:
            print("\n(explain() winning plans are printed on a real mongod: set MONGODB_URL)")
    finally:
        await db.drop()
        await db.close()
        if server is not None:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
