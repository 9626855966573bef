"""PostRepository contract: records, conditional writes, and lists that show only what the
viewer may see (posts follow their project's visibility), with totals to match."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.board import Project, Visibility
from domain.content import AnalysisStatus, Post, PostAnalysis
from domain.errors import NotFound, VersionConflict
from domain.paging import PageRequest, Sort
from domain.ports import PostQuery, UnitOfWork
from tests.contract.repositories.builders import EVERYTHING, Builders


def new_post(build: Builders, author_id: str = "author-1", **overrides: Any) -> Post:
    now = build.clock.now()
    build.clock.advance(timedelta(seconds=1))
    post = Post(
        id=build.new_id(),
        author_id=author_id,
        title="Deck boards delivered",
        body="All forty, dry.",
        created_at=now,
        updated_at=now,
        analysis=PostAnalysis(status=AnalysisStatus.PENDING),
    )
    return dataclasses.replace(post, **overrides)


async def ids(uow: UnitOfWork, query: PostQuery, page: PageRequest = EVERYTHING) -> tuple[list[str], int]:
    found = await uow.posts.list(query, page)
    return [p.id for p in found.items], found.total


async def test_a_post_round_trips_with_its_analysis_and_is_stored_as_a_copy(uow: UnitOfWork, build: Builders) -> None:
    analysed = PostAnalysis(
        status=AnalysisStatus.DONE,
        sentiment="positive",
        positive=0.9,
        neutral=0.08,
        negative=0.02,
        language="en",
        key_phrases=("deck boards", "delivery"),
        analyzer="local",
        analyzed_at=datetime(2025, 3, 1, 9, 0, 1, tzinfo=UTC),
    )
    post = new_post(build, project_id="p1", analysis=analysed)
    await uow.posts.add(post)
    post.title = "changed after add"

    stored = await uow.posts.get(post.id)
    assert stored == dataclasses.replace(post, title="Deck boards delivered")
    assert stored is not None
    stored.title = "changed after get"
    assert (await uow.posts.get(post.id)) == dataclasses.replace(post, title="Deck boards delivered")

    bare = new_post(build, analysis=None, body="")
    await uow.posts.add(bare)
    assert await uow.posts.get(bare.id) == bare
    assert await uow.posts.get("missing") is None


async def test_update_is_conditional_on_the_version_and_deleted_posts_are_gone(
    uow: UnitOfWork, build: Builders
) -> None:
    post = new_post(build)
    await uow.posts.add(post)
    post.title = "Second"
    saved = await uow.posts.update(post, 1)
    assert saved.version == 2
    assert (await uow.posts.get(post.id)) == saved

    with pytest.raises(VersionConflict):
        await uow.posts.update(dataclasses.replace(saved, title="Stale"), 1)
    with pytest.raises(NotFound):
        await uow.posts.update(new_post(build), 1)

    saved.deleted_at = build.clock.now()
    await uow.posts.update(saved, 2)
    assert await uow.posts.get(post.id) is None
    assert await ids(uow, PostQuery(viewer_id=None)) == ([], 0)
    with pytest.raises(NotFound):
        await uow.posts.update(saved, 3)


async def seeded(uow: UnitOfWork, build: Builders) -> dict[str, Any]:
    """Alice's personal and public projects, Bob's personal one, and posts on each and on none."""
    projects = {
        "alice_personal": build.project("alice", visibility=Visibility.PERSONAL),
        "alice_public": build.project("alice", visibility=Visibility.PUBLIC),
        "bob_personal": build.project("bob", visibility=Visibility.PERSONAL),
    }
    for project in projects.values():
        await uow.projects.add(project)
    posts = {
        "loose": new_post(build, "bob", project_id=None, title="b"),
        "on_alice_personal": new_post(build, "alice", project_id=projects["alice_personal"].id, title="a"),
        "on_alice_public": new_post(build, "bob", project_id=projects["alice_public"].id, title="c"),
        "on_bob_personal": new_post(build, "bob", project_id=projects["bob_personal"].id, title="a"),
    }
    for post in posts.values():
        await uow.posts.add(post)
    return {"projects": projects, "posts": posts}


async def test_lists_show_what_the_viewer_may_see_and_count_only_that(uow: UnitOfWork, build: Builders) -> None:
    data = await seeded(uow, build)
    posts: dict[str, Post] = data["posts"]
    projects: dict[str, Project] = data["projects"]

    assert await ids(uow, PostQuery(viewer_id="alice")) == (
        [posts["loose"].id, posts["on_alice_personal"].id, posts["on_alice_public"].id],
        3,
    )
    assert await ids(uow, PostQuery(viewer_id="bob")) == (
        [posts["loose"].id, posts["on_alice_public"].id, posts["on_bob_personal"].id],
        3,
    )
    assert (await ids(uow, PostQuery(viewer_id=None)))[1] == 4  # an admin
    # the author of a post on a project that is not theirs sees it only while the project is public
    public = projects["alice_public"]
    public.visibility = Visibility.PERSONAL
    await uow.projects.update(public, 1)
    assert await ids(uow, PostQuery(viewer_id="bob")) == ([posts["loose"].id, posts["on_bob_personal"].id], 2)
    # a page holds only visible posts and the total counts only them
    page = PageRequest(page=2, size=1, sort=Sort("created_at"))
    assert await ids(uow, PostQuery(viewer_id="bob"), page) == ([posts["on_bob_personal"].id], 2)


async def test_filters_sorting_and_ids(uow: UnitOfWork, build: Builders) -> None:
    data = await seeded(uow, build)
    posts: dict[str, Post] = data["posts"]
    projects: dict[str, Project] = data["projects"]

    on_public = PostQuery(viewer_id="bob", project_id=projects["alice_public"].id)
    assert await ids(uow, on_public) == ([posts["on_alice_public"].id], 1)
    hidden = PostQuery(viewer_id="bob", project_id=projects["alice_personal"].id)
    assert await ids(uow, hidden) == ([], 0)
    assert (await ids(uow, PostQuery(viewer_id=None, author_id="alice")))[0] == [posts["on_alice_personal"].id]
    wanted = frozenset({posts["loose"].id, posts["on_alice_personal"].id, "missing"})
    assert await ids(uow, PostQuery(viewer_id="bob", ids=wanted)) == ([posts["loose"].id], 1)

    by_title = PageRequest(size=10, sort=Sort("title", descending=True))
    found, _ = await ids(uow, PostQuery(viewer_id=None), by_title)
    a_ids = sorted([posts["on_alice_personal"].id, posts["on_bob_personal"].id])
    assert found == [posts["on_alice_public"].id, posts["loose"].id, *a_ids]


async def test_deleting_a_project_soft_deletes_its_posts_all_or_nothing(uow: UnitOfWork, build: Builders) -> None:
    data = await seeded(uow, build)
    posts: dict[str, Post] = data["posts"]
    project: Project = data["projects"]["alice_public"]
    at = build.clock.now()

    class Boom(Exception):
        pass

    async def abandoned() -> None:
        async with uow.transaction():
            assert await uow.posts.soft_delete_for_project(project.id, at) == 1
            raise Boom

    with pytest.raises(Boom):
        await abandoned()
    assert await uow.posts.get(posts["on_alice_public"].id) is not None

    async with uow.transaction():
        project.deleted_at = at
        await uow.projects.update(project, 1)
        assert await uow.posts.soft_delete_for_project(project.id, at) == 1
    assert await uow.posts.get(posts["on_alice_public"].id) is None
    assert (await ids(uow, PostQuery(viewer_id=None)))[1] == 3
    assert await uow.posts.soft_delete_for_project(project.id, at) == 0
