"""Changing a task: validation, the clear_* switches, and the completion lock."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from domain.board import TaskChanges, apply_task_changes, ensure_task_deletable
from domain.errors import TaskCompleted, ValidationFailed
from tests.unit.domain.builders import T0, T1, task


def test_applies_every_given_field_and_stamps_updated_at() -> None:
    original = task(description="old", tag="old", progress=10, finish_date=date(2025, 3, 1))

    changed = apply_task_changes(
        original,
        TaskChanges(
            title="  New title  ", description="new", tag="  site  ", progress=40, finish_date=date(2025, 4, 1)
        ),
        T1,
    )

    assert changed.title == "New title"
    assert changed.description == "new"
    assert changed.tag == "site"
    assert changed.progress == 40
    assert changed.finish_date == date(2025, 4, 1)
    assert changed.updated_at == T1
    assert changed.created_at == T0


def test_fields_left_as_none_are_unchanged() -> None:
    original = task(description="keep", tag="keep", progress=30, finish_date=date(2025, 3, 1))

    changed = apply_task_changes(original, TaskChanges(), T1)

    assert (changed.title, changed.description, changed.tag, changed.progress, changed.finish_date) == (
        "Pour the slab",
        "keep",
        "keep",
        30,
        date(2025, 3, 1),
    )


def test_clear_tag_removes_the_tag_and_wins_over_a_new_tag() -> None:
    changed = apply_task_changes(task(tag="old"), TaskChanges(tag="new", clear_tag=True), T1)

    assert changed.tag is None


def test_clear_finish_date_removes_it_and_wins_over_a_new_date() -> None:
    changed = apply_task_changes(
        task(finish_date=date(2025, 3, 1)),
        TaskChanges(finish_date=date(2025, 5, 1), clear_finish_date=True),
        T1,
    )

    assert changed.finish_date is None


def test_reaching_100_completes_the_task() -> None:
    changed = apply_task_changes(task(progress=90), TaskChanges(progress=100), T1)

    assert changed.completed is True


@pytest.mark.parametrize(
    "changes",
    [
        TaskChanges(),
        TaskChanges(title="Another"),
        TaskChanges(description="more"),
        TaskChanges(tag="x"),
        TaskChanges(clear_tag=True),
        TaskChanges(progress=50),
        TaskChanges(progress=100),
        TaskChanges(finish_date=date(2025, 6, 1)),
        TaskChanges(clear_finish_date=True),
        TaskChanges(title=""),  # even an invalid change is refused as completed, not as invalid
    ],
)
def test_a_completed_task_refuses_every_change(changes: TaskChanges) -> None:
    completed = task(progress=100, tag="t", finish_date=date(2025, 3, 1))
    before = dataclasses.replace(completed)

    with pytest.raises(TaskCompleted) as raised:
        apply_task_changes(completed, changes, T1)

    assert raised.value.code == "task_completed"
    assert completed == before


def test_a_completed_task_cannot_be_deleted() -> None:
    with pytest.raises(TaskCompleted):
        ensure_task_deletable(task(progress=100))


def test_an_open_task_can_be_deleted() -> None:
    ensure_task_deletable(task(progress=99))


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        (TaskChanges(title=""), "body.title"),
        (TaskChanges(title="   "), "body.title"),
        (TaskChanges(title="x" * 201), "body.title"),
        (TaskChanges(description="x" * 10_001), "body.description"),
        (TaskChanges(tag=""), "body.tag"),
        (TaskChanges(tag="  "), "body.tag"),
        (TaskChanges(tag="x" * 51), "body.tag"),
        (TaskChanges(progress=-1), "body.progress"),
        (TaskChanges(progress=101), "body.progress"),
    ],
)
def test_invalid_changes_name_the_field_and_change_nothing(changes: TaskChanges, field_name: str) -> None:
    original = task(progress=10)
    before = dataclasses.replace(original)

    with pytest.raises(ValidationFailed) as raised:
        apply_task_changes(original, changes, T1)

    assert [p.field for p in raised.value.problems] == [field_name]
    assert original == before


def test_every_problem_is_reported_at_once() -> None:
    changes = TaskChanges(title="", description="x" * 10_001, tag="", progress=101)

    assert [p.field for p in changes.problems()] == ["body.title", "body.description", "body.tag", "body.progress"]
