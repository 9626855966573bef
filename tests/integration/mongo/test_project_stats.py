"""``?include=stats`` on MongoDB: one aggregation for the page, however many projects it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.memory.clock import FixedClock
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.ids import UuidGenerator
from adapters.mongo import MongoDatabase
from application.common import Ports
from application.projects import ProjectService
from domain.board import Project, Task, Visibility
from domain.identity import Principal, Role
from domain.paging import PageRequest, Sort
from domain.ports import ProjectStats
from tests.integration.mongo.conftest import CommandLog

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
OWNER = Principal(user_id="owner", roles=frozenset({Role.MEMBER}))
PAGE = PageRequest(page=1, size=50, sort=Sort("created_at"))


async def add_board(database: MongoDatabase, first: int, count: int) -> None:
    """``count`` public projects numbered from ``first``, each with two tasks (one done, tagged)."""
    uow = database.unit_of_work()
    for n in range(first, first + count):
        at = T0 + timedelta(minutes=n)
        await uow.projects.add(
            Project(
                id=f"p{n}",
                owner_id=OWNER.user_id,
                title=f"P{n}",
                created_at=at,
                updated_at=at,
                visibility=Visibility.PUBLIC,
            )
        )
        await uow.tasks.add(
            Task(id=f"t{n}a", project_id=f"p{n}", title="a", created_at=at, updated_at=at, tag="field", progress=100)
        )
        await uow.tasks.add(Task(id=f"t{n}b", project_id=f"p{n}", title="b", created_at=at, updated_at=at))


async def listed_with_stats(service: ProjectService, log: CommandLog, include_stats: bool) -> list[tuple[str, object]]:
    log.clear()
    listing = await service.list(OWNER, PAGE, include_stats=include_stats)
    if include_stats:
        assert listing.stats is not None
        assert set(listing.stats) == {p.id for p in listing.items}
        assert all(s == ProjectStats(task_count=2, completed=1, by_tag={"field": 1}) for s in listing.stats.values())
    else:
        assert listing.stats is None
    return log.queries()


async def test_stats_for_a_page_cost_one_aggregation_whatever_its_size(
    monitored: tuple[MongoDatabase, CommandLog],
) -> None:
    database, log = monitored
    ports = Ports(
        uow=database.unit_of_work(), clock=FixedClock(T0), ids=UuidGenerator(), publisher=InMemoryEventPublisher()
    )
    service = ProjectService(ports)

    await add_board(database, 0, 2)
    small = await listed_with_stats(service, log, include_stats=True)
    await add_board(database, 2, 10)
    large = await listed_with_stats(service, log, include_stats=True)
    plain = await listed_with_stats(service, log, include_stats=False)

    assert len(small) == len(large), (small, large)  # constant: not one query per project
    assert len(large) == len(plain) + 1, (large, plain)  # the stats are exactly one more command …
    task_commands = [command for command in large if command[1] == "tasks"]
    assert task_commands == [("aggregate", "tasks")]  # … one aggregation over the tasks
    assert len(large) <= 3  # count + page + stats
