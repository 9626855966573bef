"""List filters (projects, tasks), progress totals and soft-deleting a project's tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.board import Project, Visibility
from domain.errors import NotFound
from domain.ports import ProjectQuery, TaskQuery, UnitOfWork
from tests.contract.repositories.builders import EVERYTHING, Builders

ADA, GRACE, ALAN = "user-ada", "user-grace", "user-alan"

# --- projects ------------------------------------------------------------------------------


@pytest.fixture
async def projects(uow: UnitOfWork, build: Builders) -> dict[str, Project]:
    """A small board: three owners, both visibilities, one deleted project."""
    made = {
        "ada personal": build.project(ADA, title="Roof Repair", visibility=Visibility.PERSONAL),
        "ada public": build.project(ADA, title="Community garden", visibility=Visibility.PUBLIC),
        "grace personal": build.project(GRACE, title="Garden shed", visibility=Visibility.PERSONAL),
        "grace public": build.project(GRACE, title="Bridge REPAIR", visibility=Visibility.PUBLIC),
        "alan personal": build.project(ALAN, title="Compiler", visibility=Visibility.PERSONAL),
        "alan deleted": build.project(ALAN, title="Old repair", visibility=Visibility.PUBLIC),
    }
    for project in made.values():
        await uow.projects.add(project)
    deleted = made.pop("alan deleted")
    deleted.deleted_at = build.clock.now()
    await uow.projects.update(deleted, 1)
    return made


async def listed(uow: UnitOfWork, query: ProjectQuery) -> set[str]:
    page = await uow.projects.list(query, EVERYTHING)
    assert page.total == len(page.items)
    return {project.title for project in page.items}


async def test_a_viewer_sees_their_own_projects_and_public_ones(uow: UnitOfWork, projects: dict[str, Project]) -> None:
    assert await listed(uow, ProjectQuery(viewer_id=ADA)) == {"Roof Repair", "Community garden", "Bridge REPAIR"}
    assert await listed(uow, ProjectQuery(viewer_id=GRACE)) == {"Garden shed", "Community garden", "Bridge REPAIR"}
    assert await listed(uow, ProjectQuery(viewer_id="stranger")) == {"Community garden", "Bridge REPAIR"}


async def test_no_viewer_means_no_restriction_but_deleted_stay_hidden(
    uow: UnitOfWork, projects: dict[str, Project]
) -> None:
    assert await listed(uow, ProjectQuery(viewer_id=None)) == {project.title for project in projects.values()}


async def test_visibility_filter(uow: UnitOfWork, projects: dict[str, Project]) -> None:
    assert await listed(uow, ProjectQuery(viewer_id=None, visibility=Visibility.PERSONAL)) == {
        "Roof Repair",
        "Garden shed",
        "Compiler",
    }
    assert await listed(uow, ProjectQuery(viewer_id=None, visibility=Visibility.PUBLIC)) == {
        "Community garden",
        "Bridge REPAIR",
    }
    assert await listed(uow, ProjectQuery(viewer_id=GRACE, visibility=Visibility.PERSONAL)) == {"Garden shed"}


@pytest.mark.parametrize(
    ("q", "titles"),
    [
        ("repair", {"Roof Repair", "Bridge REPAIR"}),
        ("REPAIR", {"Roof Repair", "Bridge REPAIR"}),
        ("Garden", {"Community garden", "Garden shed"}),
        ("n s", {"Garden shed"}),
        ("f r", {"Roof Repair"}),
        ("zzz", set()),
        (".*", set()),  # a substring, never a pattern
    ],
)
async def test_q_is_a_case_insensitive_substring_of_the_title(
    uow: UnitOfWork, projects: dict[str, Project], q: str, titles: set[str]
) -> None:
    assert await listed(uow, ProjectQuery(viewer_id=None, q=q)) == titles


async def test_owner_filter_and_combinations(uow: UnitOfWork, projects: dict[str, Project]) -> None:
    assert await listed(uow, ProjectQuery(viewer_id=None, owner_id=GRACE)) == {"Garden shed", "Bridge REPAIR"}
    # Ada looking at Grace's projects sees only the public one.
    assert await listed(uow, ProjectQuery(viewer_id=ADA, owner_id=GRACE)) == {"Bridge REPAIR"}
    assert await listed(uow, ProjectQuery(viewer_id=ADA, q="repair")) == {"Roof Repair", "Bridge REPAIR"}
    assert await listed(uow, ProjectQuery(viewer_id=GRACE, q="repair", visibility=Visibility.PUBLIC)) == {
        "Bridge REPAIR"
    }
    assert await listed(uow, ProjectQuery(viewer_id=None, owner_id=ALAN, q="repair")) == set()
    assert await listed(uow, ProjectQuery(viewer_id=None, owner_id="nobody")) == set()


async def test_a_project_made_public_by_update_becomes_visible_to_others(
    uow: UnitOfWork, projects: dict[str, Project]
) -> None:
    compiler = projects["alan personal"]
    compiler.visibility = Visibility.PUBLIC
    await uow.projects.update(compiler, 1)

    assert "Compiler" in await listed(uow, ProjectQuery(viewer_id=ADA))


# --- tasks ---------------------------------------------------------------------------------


async def test_tasks_are_listed_per_project_and_by_exact_tag(uow: UnitOfWork, build: Builders) -> None:
    tasks = [
        build.task("p1", title="a", tag="red"),
        build.task("p1", title="b", tag="Red"),
        build.task("p1", title="c", tag="redder"),
        build.task("p1", title="d", tag=None),
        build.task("p1", title="e", tag="red"),
        build.task("p2", title="f", tag="red"),
    ]
    for task in tasks:
        await uow.tasks.add(task)

    async def titles(query: TaskQuery) -> list[str]:
        page = await uow.tasks.list(query, EVERYTHING)
        assert page.total == len(page.items)
        return [task.title for task in page.items]

    assert await titles(TaskQuery(project_id="p1")) == ["a", "b", "c", "d", "e"]
    assert await titles(TaskQuery(project_id="p1", tag="red")) == ["a", "e"]
    assert await titles(TaskQuery(project_id="p1", tag="Red")) == ["b"]
    assert await titles(TaskQuery(project_id="p2", tag="red")) == ["f"]
    assert await titles(TaskQuery(project_id="p1", tag="re")) == []
    assert await titles(TaskQuery(project_id="p3")) == []


async def test_progress_totals_count_and_sum_live_tasks_of_the_project(uow: UnitOfWork, build: Builders) -> None:
    assert await uow.tasks.progress_totals("p1") == (0, 0)
    mine = [build.task("p1", progress=progress) for progress in (0, 25, 100, 40)]
    for task in [*mine, build.task("p2", progress=90)]:
        await uow.tasks.add(task)

    assert await uow.tasks.progress_totals("p1") == (4, 165)
    assert await uow.tasks.progress_totals("p2") == (1, 90)

    mine[1].deleted_at = build.clock.now()
    await uow.tasks.update(mine[1], 1)
    mine[0].progress = 10
    await uow.tasks.update(mine[0], 1)

    assert await uow.tasks.progress_totals("p1") == (3, 150)


async def test_soft_delete_for_project_hides_every_live_task_of_that_project_only(
    uow: UnitOfWork, build: Builders
) -> None:
    doomed = [build.task("p1", progress=progress) for progress in (10, 20, 30)]
    already_deleted = build.task("p1")
    survivor = build.task("p2", progress=50)
    for task in [*doomed, already_deleted, survivor]:
        await uow.tasks.add(task)
    already_deleted.deleted_at = build.clock.now()
    await uow.tasks.update(already_deleted, 1)

    removed = await uow.tasks.soft_delete_for_project("p1", build.clock.now() + timedelta(hours=1))

    assert removed == 3
    assert await uow.tasks.progress_totals("p1") == (0, 0)
    assert (await uow.tasks.list(TaskQuery(project_id="p1"), EVERYTHING)).total == 0
    for task in doomed:
        assert await uow.tasks.get(task.id) is None
    assert await uow.tasks.get(survivor.id) == survivor
    assert await uow.tasks.progress_totals("p2") == (1, 50)
    assert await uow.tasks.soft_delete_for_project("p1", build.clock.now()) == 0
    assert await uow.tasks.soft_delete_for_project("no-such-project", build.clock.now()) == 0


async def test_a_task_deleted_with_its_project_cannot_be_updated(uow: UnitOfWork, build: Builders) -> None:
    task = build.task("p1")
    await uow.tasks.add(task)
    await uow.tasks.soft_delete_for_project("p1", build.clock.now())

    with pytest.raises(NotFound):
        await uow.tasks.update(task, 1)
    with pytest.raises(NotFound):
        await uow.tasks.update(task, 2)  # the delete bumped the version; still gone
