"""Time page/size task lists on the memory adapter: 100,000 tasks in one project.

    uv run python bench/memory_pages.py

Prints the mean time per page (after a warm-up that builds the sorted index) for a few
sorts, deep pages and a tag filter. Printed, not asserted.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from adapters.memory.unit_of_work import MemoryUnitOfWork
from domain.board import Task
from domain.paging import PageRequest, Sort
from domain.ports import TaskQuery

TASKS = 100_000
RUNS = 5
CASES = [
    ("created_at", None, 1),
    ("-created_at", None, 1),
    ("-created_at", None, 2500),
    ("progress", None, 2500),
    ("-progress", None, 2500),
    ("title", "a", 1),
    ("-title", "a", 800),
]


async def main() -> None:
    uow = MemoryUnitOfWork()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(1)
    for i in range(TASKS):
        at = start + timedelta(seconds=i)
        task = Task(
            id=f"{i:08x}",
            project_id="p",
            title=f"t{rng.randrange(TASKS)}",
            progress=rng.randrange(100),
            tag=rng.choice(["a", "b", None]),
            created_at=at,
            updated_at=at,
        )
        await uow.tasks.add(task)
    for sort, tag, number in CASES:
        request = PageRequest(page=number, size=20, sort=Sort(sort.lstrip("-"), sort.startswith("-")))
        query = TaskQuery(project_id="p", tag=tag)
        await uow.tasks.list(query, request)
        began = time.perf_counter()
        for _ in range(RUNS):
            found = await uow.tasks.list(query, request)
        per_page = (time.perf_counter() - began) / RUNS * 1000
        print(f"sort={sort:12} tag={tag!s:4} page={number:5}: {per_page:8.1f} ms/page  total={found.total}")


if __name__ == "__main__":
    asyncio.run(main())
