"""The board: projects and their tasks, who may see and change them, and derived progress.

Everything here is pure: functions take the caller and the records and either return the
outcome or raise a domain error. The application layer loads and stores; it never decides.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from domain.errors import FieldProblem, Forbidden, NotFound, TaskCompleted, ValidationFailed
from domain.identity import Principal

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
TAG_MAX = 50
PLACE_MAX = 200


class Visibility(enum.StrEnum):
    PERSONAL = "personal"
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class SiteLocation:
    """Where a project happens: a place name and/or coordinates (used for weather)."""

    place: str | None = None
    lat: float | None = None
    lon: float | None = None

    def problems(self, prefix: str) -> list[FieldProblem]:
        found: list[FieldProblem] = []
        if self.place is None and self.lat is None and self.lon is None:
            found.append(FieldProblem(prefix, "needs a place or lat and lon"))
        if (self.lat is None) != (self.lon is None):
            found.append(FieldProblem(prefix, "lat and lon must be given together"))
        if self.lat is not None and not (-90.0 <= self.lat <= 90.0 and math.isfinite(self.lat)):
            found.append(FieldProblem(f"{prefix}.lat", "must be between -90 and 90"))
        if self.lon is not None and not (-180.0 <= self.lon <= 180.0 and math.isfinite(self.lon)):
            found.append(FieldProblem(f"{prefix}.lon", "must be between -180 and 180"))
        if self.place is not None and not (1 <= len(self.place.strip()) <= PLACE_MAX):
            found.append(FieldProblem(f"{prefix}.place", f"must be 1 to {PLACE_MAX} characters"))
        return found


@dataclass(slots=True)
class Project:
    id: str
    owner_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    visibility: Visibility = Visibility.PERSONAL
    finish_date: date | None = None
    site: SiteLocation | None = None
    progress: float = 0.0
    version: int = 1
    deleted_at: datetime | None = None


@dataclass(slots=True)
class Task:
    id: str
    project_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    tag: str | None = None
    progress: int = 0
    finish_date: date | None = None
    version: int = 1
    deleted_at: datetime | None = None

    @property
    def completed(self) -> bool:
        return self.progress >= 100


# --- who may do what ------------------------------------------------------------------


def can_view_project(principal: Principal | None, project: Project) -> bool:
    """Personal: owner and admins. Public: every signed-in user. Deleted: nobody."""
    if principal is None or project.deleted_at is not None:
        return False
    if principal.is_admin or project.owner_id == principal.user_id:
        return True
    return project.visibility is Visibility.PUBLIC


def can_change_project(principal: Principal | None, project: Project) -> bool:
    if principal is None or project.deleted_at is not None:
        return False
    return principal.is_admin or project.owner_id == principal.user_id


def ensure_visible(principal: Principal | None, project: Project | None) -> Project:
    """The project, or NotFound: an invisible project does not exist for the caller."""
    if project is None or not can_view_project(principal, project):
        raise NotFound("The project does not exist.")
    return project


def ensure_changeable(principal: Principal | None, project: Project | None) -> Project:
    """Visible and changeable, else NotFound (invisible) or Forbidden (visible, not yours)."""
    visible = ensure_visible(principal, project)
    if not can_change_project(principal, visible):
        raise Forbidden("Only the project's owner or an admin may change it or its tasks.")
    return visible


def ensure_can_create(principal: Principal) -> None:
    if not principal.can_create:
        raise Forbidden("Guests can read public projects but create nothing.")


# --- validation of values clients send ---------------------------------------------------


def title_problems(title: str, field_name: str = "body.title") -> list[FieldProblem]:
    stripped = title.strip()
    if not stripped:
        return [FieldProblem(field_name, "must not be empty")]
    if len(title) > TITLE_MAX:
        return [FieldProblem(field_name, f"must be at most {TITLE_MAX} characters")]
    return []


def description_problems(description: str, field_name: str = "body.description") -> list[FieldProblem]:
    if len(description) > DESCRIPTION_MAX:
        return [FieldProblem(field_name, f"must be at most {DESCRIPTION_MAX} characters")]
    return []


def progress_problems(progress: int, field_name: str = "body.progress") -> list[FieldProblem]:
    if not 0 <= progress <= 100:
        return [FieldProblem(field_name, "must be between 0 and 100")]
    return []


def tag_problems(tag: str | None, field_name: str = "body.tag") -> list[FieldProblem]:
    if tag is not None and not (1 <= len(tag.strip()) <= TAG_MAX):
        return [FieldProblem(field_name, f"must be 1 to {TAG_MAX} characters")]
    return []


def raise_if_problems(problems: list[FieldProblem]) -> None:
    if problems:
        raise ValidationFailed(problems)


# --- derived progress -------------------------------------------------------------------


def progress_from_totals(count: int, total: int) -> float:
    """Mean task progress rounded to one decimal; 0 when there are no live tasks.

    Taking (count, sum) lets a store aggregate in place; rounding is half-up on the exact
    rational mean so every adapter and every order of summation agrees.
    """
    if count <= 0:
        return 0.0
    tenths_times_count = total * 10
    quotient, remainder = divmod(tenths_times_count, count)
    if remainder * 2 >= count:
        quotient += 1
    return quotient / 10


def project_progress(task_progress: Iterable[int]) -> float:
    values = list(task_progress)
    return progress_from_totals(len(values), sum(values))


# --- task changes -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskChanges:
    """What a client asked to change; None means "leave as is" except where ``clear_*`` says."""

    title: str | None = None
    description: str | None = None
    tag: str | None = None
    clear_tag: bool = False
    progress: int | None = None
    finish_date: date | None = None
    clear_finish_date: bool = False

    def problems(self) -> list[FieldProblem]:
        found: list[FieldProblem] = []
        if self.title is not None:
            found += title_problems(self.title)
        if self.description is not None:
            found += description_problems(self.description)
        found += tag_problems(self.tag)
        if self.progress is not None:
            found += progress_problems(self.progress)
        return found


def apply_task_changes(task: Task, changes: TaskChanges, now: datetime) -> Task:
    """Apply a change to a task, refusing any change once it is completed."""
    if task.completed:
        raise TaskCompleted()
    raise_if_problems(changes.problems())
    if changes.title is not None:
        task.title = changes.title.strip()
    if changes.description is not None:
        task.description = changes.description
    if changes.clear_tag:
        task.tag = None
    elif changes.tag is not None:
        task.tag = changes.tag.strip()
    if changes.progress is not None:
        task.progress = changes.progress
    if changes.clear_finish_date:
        task.finish_date = None
    elif changes.finish_date is not None:
        task.finish_date = changes.finish_date
    task.updated_at = now
    return task


def ensure_task_deletable(task: Task) -> None:
    if task.completed:
        raise TaskCompleted()


@dataclass(frozen=True, slots=True)
class ProjectChanges:
    title: str | None = None
    description: str | None = None
    visibility: Visibility | None = None
    finish_date: date | None = None
    clear_finish_date: bool = False
    site: SiteLocation | None = None
    clear_site: bool = False

    def problems(self) -> list[FieldProblem]:
        found: list[FieldProblem] = []
        if self.title is not None:
            found += title_problems(self.title)
        if self.description is not None:
            found += description_problems(self.description)
        if self.site is not None:
            found += self.site.problems("body.site")
        return found


def apply_project_changes(project: Project, changes: ProjectChanges, now: datetime) -> Project:
    raise_if_problems(changes.problems())
    if changes.title is not None:
        project.title = changes.title.strip()
    if changes.description is not None:
        project.description = changes.description
    if changes.visibility is not None:
        project.visibility = changes.visibility
    if changes.clear_finish_date:
        project.finish_date = None
    elif changes.finish_date is not None:
        project.finish_date = changes.finish_date
    if changes.clear_site:
        project.site = None
    elif changes.site is not None:
        project.site = changes.site
    project.updated_at = now
    return project
