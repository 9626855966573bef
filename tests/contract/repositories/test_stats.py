"""``TaskRepository.stats_for_projects``: per-project counts over live tasks, for a page at once."""

from __future__ import annotations

from domain.ports import ProjectStats, UnitOfWork
from tests.contract.repositories.builders import Builders


async def board(uow: UnitOfWork, build: Builders) -> tuple[str, str, str]:
    """Three projects: a tagged mix with one deleted task, a single untagged task, none at all."""
    mixed, plain, empty = (build.project(title=title) for title in ("Mixed", "Plain", "Empty"))
    for project in (mixed, plain, empty):
        await uow.projects.add(project)
    for tag, progress in [("field", 100), ("field", 40), ("office", 100), (None, 0), ("office", 10)]:
        await uow.tasks.add(build.task(mixed.id, tag=tag, progress=progress))
    deleted = build.task(mixed.id, tag="field", progress=100)
    await uow.tasks.add(deleted)
    deleted.deleted_at = build.clock.now()
    await uow.tasks.update(deleted, deleted.version)
    await uow.tasks.add(build.task(plain.id, tag=None, progress=100))
    return mixed.id, plain.id, empty.id


async def test_counts_live_tasks_completed_and_per_tag(uow: UnitOfWork, build: Builders) -> None:
    mixed, plain, empty = await board(uow, build)

    stats = await uow.tasks.stats_for_projects([mixed, plain, empty])

    assert stats == {
        mixed: ProjectStats(task_count=5, completed=2, by_tag={"field": 2, "office": 2}),
        plain: ProjectStats(task_count=1, completed=1, by_tag={}),
        empty: ProjectStats(),
    }


async def test_only_the_requested_projects_and_every_one_of_them(uow: UnitOfWork, build: Builders) -> None:
    mixed, plain, _ = await board(uow, build)

    assert set(await uow.tasks.stats_for_projects([plain, "no-such-project"])) == {plain, "no-such-project"}
    assert (await uow.tasks.stats_for_projects(["no-such-project"]))["no-such-project"] == ProjectStats()
    assert await uow.tasks.stats_for_projects([]) == {}
    assert set(await uow.tasks.stats_for_projects([mixed, mixed])) == {mixed}


async def test_a_soft_deleted_project_s_tasks_no_longer_count(uow: UnitOfWork, build: Builders) -> None:
    mixed, plain, _ = await board(uow, build)

    await uow.tasks.soft_delete_for_project(mixed, build.clock.now())

    stats = await uow.tasks.stats_for_projects([mixed, plain])
    assert stats[mixed] == ProjectStats()
    assert stats[plain].task_count == 1


async def test_inside_a_transaction_staged_tasks_count(uow: UnitOfWork, build: Builders) -> None:
    project = build.project()
    await uow.projects.add(project)
    async with uow.transaction():
        await uow.tasks.add(build.task(project.id, tag="x", progress=100))
        stats = await uow.tasks.stats_for_projects([project.id])
    assert stats[project.id] == ProjectStats(task_count=1, completed=1, by_tag={"x": 1})
