"""The scheduled maintenance use cases on embedded defaults: purge after the retention period,
progress repair, the overdue digest through the Notifier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from adapters.memory.clock import FixedClock
from adapters.memory.jobs import LogNotifier
from application.collections import NewCollection
from application.posts import NewPost
from application.projects import NewProject
from application.tasks import NewTask
from domain.identity import Principal, Role, User
from entrypoints.bootstrap import Container, bootstrap
from tests.integration.http.helpers import make_settings

OWNER = Principal(user_id="owner-1", roles=frozenset({Role.MEMBER}))


@pytest.fixture
async def container() -> AsyncIterator[Container]:
    built = await bootstrap(make_settings(RETENTION_DAYS="30"), clock=FixedClock())
    try:
        yield built
    finally:
        await built.close()


def clock_of(container: Container) -> FixedClock:
    clock = container.ports.clock
    assert isinstance(clock, FixedClock)
    return clock


async def test_purge_removes_only_what_was_deleted_before_the_retention_period(container: Container) -> None:
    assert container.jobs is not None
    clock = clock_of(container)
    old = await container.projects.create(OWNER, NewProject(title="Old"))
    await container.tasks.create(OWNER, old.id, NewTask(title="old task"))
    await container.posts.create(OWNER, NewPost(title="old post", project_id=old.id))
    old_list = (await container.collections.create(OWNER, NewCollection(name="old list"))).collection
    await container.collections.delete(OWNER, old_list.id)
    await container.projects.delete(OWNER, old.id)
    clock.advance(timedelta(days=20))
    recent = await container.projects.create(OWNER, NewProject(title="Recent"))
    await container.projects.delete(OWNER, recent.id)
    kept = await container.projects.create(OWNER, NewProject(title="Live"))
    clock.advance(timedelta(days=11))
    result = await container.jobs.maintenance.purge_deleted()
    assert result["projects"] == 1
    assert result["tasks"] == 1
    assert result["posts"] == 1  # soft-deleted with its project
    assert result["collections"] == 1
    assert (result["files"], result["blob_failures"]) == (0, 0)
    store = container.ports.uow
    assert await store.projects.purge_deleted(clock.now()) == (recent.id,)  # the younger one was still kept
    assert (await store.projects.get(kept.id)) is not None


async def test_recompute_repairs_drifted_progress(container: Container) -> None:
    assert container.jobs is not None
    project = await container.projects.create(OWNER, NewProject(title="Drift"))
    await container.tasks.create(OWNER, project.id, NewTask(title="a", progress=50))
    stored = await container.ports.uow.projects.get(project.id)
    assert stored is not None
    assert stored.progress == 50.0
    stored.progress = 3.0  # drift, as a crash between two writes would leave it
    await container.ports.uow.projects.update(stored, stored.version)
    assert await container.jobs.maintenance.recompute_progress() == {"projects": 1, "repaired": 1}
    repaired = await container.ports.uow.projects.get(project.id)
    assert repaired is not None
    assert repaired.progress == 50.0
    assert await container.jobs.maintenance.recompute_progress() == {"projects": 1, "repaired": 0}


async def test_overdue_digest_goes_to_each_owner(container: Container) -> None:
    assert container.jobs is not None
    now = clock_of(container).now()
    today = now.date()
    owner = User(
        id=OWNER.user_id,
        email="owner@example.com",
        display_name="Owner",
        roles=OWNER.roles,
        created_at=now,
        updated_at=now,
    )
    await container.ports.uow.users.add(owner)
    project = await container.projects.create(OWNER, NewProject(title="Site"))
    await container.tasks.create(OWNER, project.id, NewTask(title="late", finish_date=today - timedelta(days=1)))
    await container.tasks.create(OWNER, project.id, NewTask(title="future", finish_date=today + timedelta(days=1)))
    await container.tasks.create(OWNER, project.id, NewTask(title="done", progress=100, finish_date=date(2000, 1, 1)))
    result = await container.jobs.maintenance.overdue_digest()
    assert result == {"owners": 1, "tasks": 1, "sent": 1, "skipped": 0, "failed": 0}
    notifier = container.jobs.notifier
    assert isinstance(notifier, LogNotifier)
    [(user_id, subject, body)] = notifier.sent
    assert user_id == OWNER.user_id
    assert "1 overdue" in subject
    assert "late" in body
    assert "future" not in body


async def test_overdue_digest_skips_owners_who_are_deactivated_or_gone(container: Container) -> None:
    assert container.jobs is not None
    now = clock_of(container).now()
    gone = Principal(user_id="no-such-user", roles=frozenset({Role.MEMBER}))
    inactive = User(
        id="owner-off", email="off@example.com", display_name="Off", roles=OWNER.roles, created_at=now, updated_at=now
    )
    inactive.active = False
    await container.ports.uow.users.add(inactive)
    for principal in (gone, inactive.principal):
        project = await container.projects.create(principal, NewProject(title="Site"))
        late = now.date() - timedelta(days=1)
        await container.tasks.create(principal, project.id, NewTask(title="late", finish_date=late))
    result = await container.jobs.maintenance.overdue_digest()
    assert result == {"owners": 2, "tasks": 2, "sent": 0, "skipped": 2, "failed": 0}
    notifier = container.jobs.notifier
    assert isinstance(notifier, LogNotifier)
    assert notifier.sent == []
