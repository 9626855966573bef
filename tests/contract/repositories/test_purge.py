"""``purge_deleted`` (issue 10, the retention job): records soft-deleted before the cut-off are
removed for good; live records and younger deletions stay. Tasks, projects, posts, collections
(file records: ``test_files``)."""

from __future__ import annotations

from datetime import timedelta

from domain.ports import UnitOfWork
from tests.contract.repositories.builders import Builders
from tests.contract.repositories.test_collections import new_collection
from tests.contract.repositories.test_posts import new_post


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


async def test_posts_and_collections_are_purged_after_the_cutoff_only(uow: UnitOfWork, build: Builders) -> None:
    now = build.clock.now()
    old_post, young_post, live_post = new_post(build), new_post(build), new_post(build)
    old_list, young_list, live_list = new_collection(build), new_collection(build), new_collection(build)
    for post in (old_post, young_post, live_post):
        await uow.posts.add(post)
    for collection in (old_list, young_list, live_list):
        await uow.collections.add(collection)
    for post, at in ((old_post, now - timedelta(days=40)), (young_post, now - timedelta(days=5))):
        post.deleted_at = at
        await uow.posts.update(post, post.version)
    for collection, at in ((old_list, now - timedelta(days=40)), (young_list, now - timedelta(days=5))):
        collection.deleted_at = at
        await uow.collections.update(collection, collection.version)

    cutoff = now - timedelta(days=30)
    assert await uow.posts.purge_deleted(cutoff) == 1
    assert await uow.collections.purge_deleted(cutoff) == 1
    assert await uow.posts.purge_deleted(cutoff) == 0  # idempotent
    assert await uow.collections.purge_deleted(cutoff) == 0
    assert await uow.posts.get(live_post.id) is not None
    assert await uow.collections.get(live_list.id) is not None
    # the younger deletions are still stored: purged once they are old enough, and only then
    assert await uow.posts.purge_deleted(now) == 1
    assert await uow.collections.purge_deleted(now) == 1
    assert await uow.posts.get(live_post.id) is not None
    assert await uow.collections.get(live_list.id) is not None
