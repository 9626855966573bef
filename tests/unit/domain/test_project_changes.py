"""Changing a project, the value checks clients' input goes through, and site locations."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import pytest

from domain.board import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    ProjectChanges,
    SiteLocation,
    Visibility,
    apply_project_changes,
    description_problems,
    progress_problems,
    raise_if_problems,
    tag_problems,
    title_problems,
)
from domain.errors import FieldProblem, ValidationFailed
from tests.unit.domain.builders import T1, project

# --- the value checks ----------------------------------------------------------------------


@pytest.mark.parametrize("title", ["", " ", "\t\n", "x" * (TITLE_MAX + 1)])
def test_bad_titles(title: str) -> None:
    assert [p.field for p in title_problems(title)] == ["body.title"]


@pytest.mark.parametrize("title", ["x", "x" * TITLE_MAX, "  padded  "])
def test_good_titles(title: str) -> None:
    assert title_problems(title) == []


def test_title_problems_use_the_given_field_name() -> None:
    assert title_problems("", "body.items[0].title") == [FieldProblem("body.items[0].title", "must not be empty")]


def test_description_limit() -> None:
    assert description_problems("x" * DESCRIPTION_MAX) == []
    assert description_problems("") == []
    assert [p.field for p in description_problems("x" * (DESCRIPTION_MAX + 1))] == ["body.description"]


@pytest.mark.parametrize(("tag", "ok"), [(None, True), ("a", True), ("x" * 50, True), ("", False), (" ", False)])
def test_tag_limits(tag: str | None, ok: bool) -> None:
    assert (tag_problems(tag) == []) is ok


@pytest.mark.parametrize(("progress", "ok"), [(-1, False), (0, True), (55, True), (100, True), (101, False)])
def test_progress_limits(progress: int, ok: bool) -> None:
    problems = progress_problems(progress)

    assert (problems == []) is ok
    assert all(p.field == "body.progress" for p in problems)


def test_raise_if_problems_raises_with_every_problem_and_is_silent_without() -> None:
    raise_if_problems([])
    problems = [FieldProblem("body.a", "bad"), FieldProblem("body.b", "worse")]

    with pytest.raises(ValidationFailed) as raised:
        raise_if_problems(problems)

    assert raised.value.problems == problems
    assert raised.value.code == "validation_error"
    assert raised.value.message == "body.a: bad; body.b: worse"


# --- site locations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "site",
    [
        SiteLocation(place="Oslo"),
        SiteLocation(lat=59.9, lon=10.7),
        SiteLocation(place="Oslo", lat=59.9, lon=10.7),
        SiteLocation(lat=-90.0, lon=-180.0),
        SiteLocation(lat=90.0, lon=180.0),
    ],
)
def test_valid_sites(site: SiteLocation) -> None:
    assert site.problems("body.site") == []


@pytest.mark.parametrize(
    ("site", "fields"),
    [
        (SiteLocation(), ["body.site"]),
        (SiteLocation(lat=10.0), ["body.site"]),
        (SiteLocation(lon=10.0), ["body.site"]),
        (SiteLocation(lat=90.1, lon=0.0), ["body.site.lat"]),
        (SiteLocation(lat=-90.1, lon=0.0), ["body.site.lat"]),
        (SiteLocation(lat=0.0, lon=180.1), ["body.site.lon"]),
        (SiteLocation(lat=0.0, lon=-180.1), ["body.site.lon"]),
        (SiteLocation(lat=math.nan, lon=math.inf), ["body.site.lat", "body.site.lon"]),
        (SiteLocation(place=""), ["body.site.place"]),
        (SiteLocation(place="   "), ["body.site.place"]),
        (SiteLocation(place="x" * 201), ["body.site.place"]),
        (SiteLocation(place="Oslo", lat=100.0), ["body.site", "body.site.lat"]),
    ],
)
def test_invalid_sites_name_each_bad_part(site: SiteLocation, fields: list[str]) -> None:
    assert [p.field for p in site.problems("body.site")] == fields


# --- project changes -------------------------------------------------------------------------


def test_applies_every_given_field() -> None:
    site = SiteLocation(place="Bergen")
    original = project(description="old", finish_date=date(2025, 2, 1))

    changed = apply_project_changes(
        original,
        ProjectChanges(
            title="  Renamed ",
            description="new",
            visibility=Visibility.PUBLIC,
            finish_date=date(2025, 9, 1),
            site=site,
        ),
        T1,
    )

    assert changed.title == "Renamed"
    assert changed.description == "new"
    assert changed.visibility is Visibility.PUBLIC
    assert changed.finish_date == date(2025, 9, 1)
    assert changed.site == site
    assert changed.updated_at == T1


def test_empty_changes_only_stamp_the_time() -> None:
    original = project(description="d", finish_date=date(2025, 2, 1), site=SiteLocation(place="Oslo"))
    before = dataclasses.replace(original)

    changed = apply_project_changes(original, ProjectChanges(), T1)

    assert dataclasses.replace(changed, updated_at=before.updated_at) == before
    assert changed.updated_at == T1


def test_clear_switches_win_over_new_values() -> None:
    original = project(finish_date=date(2025, 2, 1), site=SiteLocation(place="Oslo"))

    changed = apply_project_changes(
        original,
        ProjectChanges(
            finish_date=date(2025, 3, 1),
            clear_finish_date=True,
            site=SiteLocation(place="Bergen"),
            clear_site=True,
        ),
        T1,
    )

    assert changed.finish_date is None
    assert changed.site is None


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        (ProjectChanges(title=" "), ["body.title"]),
        (ProjectChanges(title="x" * 201), ["body.title"]),
        (ProjectChanges(description="x" * 10_001), ["body.description"]),
        (ProjectChanges(site=SiteLocation(lat=1.0)), ["body.site"]),
        (ProjectChanges(title="", site=SiteLocation(lat=0.0, lon=200.0)), ["body.title", "body.site.lon"]),
    ],
)
def test_invalid_project_changes_change_nothing(changes: ProjectChanges, fields: list[str]) -> None:
    original = project()
    before = dataclasses.replace(original)

    with pytest.raises(ValidationFailed) as raised:
        apply_project_changes(original, changes, T1)

    assert [p.field for p in raised.value.problems] == fields
    assert original == before
