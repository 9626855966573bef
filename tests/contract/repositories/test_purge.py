"""``purge_deleted`` (issue 10, the retention job): records soft-deleted before the cut-off are
removed for good; live records and younger deletions stay."""

from __future__ import annotations

from datetime import timedelta

from domain.ports import UnitOfWork
from tests.contract.repositories.builders import Builders


async def test_purge_removes_only_records_deleted_before_the_cutoff(uow: UnitOfWork, build: Builders) -> None:
    now = build.clock.now()
    old_project, young_project, live_project = build.project(), build.project(), build.project()
    for project in (old_project, young_project, live_project):
        await uow.projects.add(project)
    old_task, young_task, live_task = (
        build.task(old_project.id),
        build.task(live_project.id),
        build.task(live_project.id),
    )
    for task in (old_task, young_task, live_task):
        await uow.tasks.add(task)

    for record, at in ((old_project, now - timedelta(days=40)), (young_project, now - timedelta(days=5))):
        record.deleted_at = at
        await uow.projects.update(record, record.version)
    for task_record, at in ((old_task, now - timedelta(days=40)), (young_task, now - timedelta(days=5))):
        task_record.deleted_at = at
        await uow.tasks.update(task_record, task_record.version)

    cutoff = now - timedelta(days=30)
    assert await uow.projects.purge_deleted(cutoff) == (old_project.id,)
    assert await uow.tasks.purge_deleted(cutoff) == 1
    assert await uow.projects.purge_deleted(cutoff) == ()  # idempotent
    assert await uow.tasks.purge_deleted(cutoff) == 0
    assert await uow.projects.get(live_project.id) is not None
    assert await uow.tasks.get(live_task.id) is not None
    # the younger deletions are still there, to be purged once they are old enough
    assert await uow.projects.purge_deleted(now) == (young_project.id,)
    assert await uow.tasks.purge_deleted(now) == 1
