"""Wire models (msgspec Structs). Domain objects never go on the wire directly.

Request models forbid unknown fields, so a client can never set ``id``, ``owner_id``,
``progress`` of a project or anything else the server owns: such a body is a 422.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from domain.board import DESCRIPTION_MAX, PLACE_MAX, TAG_MAX, TITLE_MAX, Project, SiteLocation, Task, Visibility
from domain.identity import Role, User
from domain.ports import ProjectStats

#: "not blank": the domain strips before it counts, so a blank value is an empty one. Spelled as
#: a class, not ``\S``: Python's ``\s`` (the server, msgspec) also counts U+001C–U+001F and U+0085
#: as space, ECMA-262's (the OpenAPI document's clients) counts U+FEFF; this class means the same
#: in both dialects, so no client's validator accepts what the server refuses.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
Title = Annotated[
    str, msgspec.Meta(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK, description="1–200 characters")
]
Description = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_MAX, description="At most 10 000 characters")]
Tag = Annotated[
    str, msgspec.Meta(min_length=1, max_length=TAG_MAX, pattern=NOT_BLANK, description="A free, user-defined label")
]
Progress = Annotated[int, msgspec.Meta(ge=0, le=100, description="0–100; 100 completes and locks the task")]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, examples=["ada@example.com"])]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request model."""


# --- auth -------------------------------------------------------------------------------


class SignupIn(Strict):
    email: Email
    password: Password
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NOT_BLANK)]


class LoginIn(Strict):
    email: Email
    password: Password


class RefreshIn(Strict):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class TokenOut(msgspec.Struct, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int


class UserOut(msgspec.Struct, kw_only=True):
    id: str
    email: str
    display_name: str
    roles: list[Role]
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            roles=sorted(user.roles),
            active=user.active,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class TokenInfoOut(msgspec.Struct, kw_only=True):
    active: bool
    subject: str
    roles: list[Role]
    expires_at: datetime
    issued_at: datetime
    user: UserOut


# --- projects ---------------------------------------------------------------------------


class SiteIn(Strict):
    place: Annotated[str, msgspec.Meta(min_length=1, max_length=PLACE_MAX, pattern=NOT_BLANK)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None

    def to_domain(self) -> SiteLocation:
        return SiteLocation(place=self.place, lat=self.lat, lon=self.lon)


class SiteOut(msgspec.Struct, kw_only=True):
    place: str | None
    lat: float | None
    lon: float | None


class ProjectCreateIn(Strict):
    title: Title
    description: Description = ""
    visibility: Visibility = Visibility.PERSONAL
    finish_date: date | None = None
    site: SiteIn | None = None


class ProjectReplaceIn(Strict):
    """PUT: every client-writable field; an absent optional field is cleared."""

    title: Title
    description: Description = ""
    visibility: Visibility = Visibility.PERSONAL
    finish_date: date | None = None
    site: SiteIn | None = None


class ProjectPatchIn(Strict):
    """PATCH: only the fields present change; ``null`` clears an optional field."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    visibility: Visibility | msgspec.UnsetType = msgspec.UNSET
    finish_date: date | msgspec.UnsetType | None = msgspec.UNSET
    site: SiteIn | msgspec.UnsetType | None = msgspec.UNSET


class ProjectOut(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    title: str
    description: str
    visibility: Visibility
    finish_date: date | None
    site: SiteOut | None
    progress: float
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        site = project.site
        return cls(
            id=project.id,
            owner_id=project.owner_id,
            title=project.title,
            description=project.description,
            visibility=project.visibility,
            finish_date=project.finish_date,
            site=SiteOut(place=site.place, lat=site.lat, lon=site.lon) if site is not None else None,
            progress=project.progress,
            version=project.version,
            created_at=project.created_at,
            updated_at=project.updated_at,
        )


class ProjectStatsOut(msgspec.Struct, kw_only=True):
    """Counts over the project's live tasks."""

    task_count: Annotated[int, msgspec.Meta(ge=0, description="Live tasks")]
    completed: Annotated[int, msgspec.Meta(ge=0, description="Live tasks at progress 100")]
    by_tag: Annotated[dict[str, int], msgspec.Meta(description="Live tasks per tag (untagged ones are not listed)")]

    @classmethod
    def of(cls, stats: ProjectStats) -> ProjectStatsOut:
        return cls(task_count=stats.task_count, completed=stats.completed, by_tag=dict(sorted(stats.by_tag.items())))


class ProjectListItemOut(ProjectOut, kw_only=True):
    """A project in a list: ``stats`` is present only when the list was asked for ``include=stats``."""

    stats: ProjectStatsOut | msgspec.UnsetType = msgspec.UNSET

    @classmethod
    def listed(cls, project: Project, stats: ProjectStats | None = None) -> ProjectListItemOut:
        item = cls(**msgspec.structs.asdict(ProjectOut.of(project)))
        if stats is not None:
            item.stats = ProjectStatsOut.of(stats)
        return item


# --- tasks ------------------------------------------------------------------------------


class TaskCreateIn(Strict):
    title: Title
    description: Description = ""
    tag: Tag | None = None
    progress: Progress = 0
    finish_date: date | None = None


class TaskReplaceIn(Strict):
    title: Title
    description: Description = ""
    tag: Tag | None = None
    progress: Progress = 0
    finish_date: date | None = None


class TaskPatchIn(Strict):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    tag: Tag | msgspec.UnsetType | None = msgspec.UNSET
    progress: Progress | msgspec.UnsetType = msgspec.UNSET
    finish_date: date | msgspec.UnsetType | None = msgspec.UNSET


class TaskOut(msgspec.Struct, kw_only=True):
    id: str
    project_id: str
    title: str
    description: str
    tag: str | None
    progress: int
    completed: bool
    finish_date: date | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, task: Task) -> TaskOut:
        return cls(
            id=task.id,
            project_id=task.project_id,
            title=task.title,
            description=task.description,
            tag=task.tag,
            progress=task.progress,
            completed=task.completed,
            finish_date=task.finish_date,
            version=task.version,
            created_at=task.created_at,
            updated_at=task.updated_at,
        )


# --- health -----------------------------------------------------------------------------


class HealthOut(msgspec.Struct, kw_only=True):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = msgspec.field(default_factory=dict)
