"""Beanie documents: how users, projects and tasks are laid out in MongoDB.

These are persistence models only. Each translates to and from its domain dataclass
(``from_domain`` / ``to_domain``) and declares the indexes its repository's queries need;
no domain rule lives here.

Layout notes:
- ``_id`` is the domain's opaque string id (no ObjectId), so references (``owner_id``,
  ``project_id``) are plain strings and joins are ``$lookup`` on ``_id``.
- ``deleted_at`` is always written (``null`` when live) so that the soft-delete filter
  ``{"deleted_at": None}`` and the partial indexes see the same thing on every server.
- BSON dates have millisecond precision: datetimes come back truncated to the millisecond
  and timezone-aware UTC (the client is created with ``tz_aware=True``). ``finish_date``
  (a ``date``) is stored as midnight UTC and read back as a ``date``.
- Indexes name every query the repositories make. The unique e-mail index is *partial* on
  ``deleted_at: null`` (an equality on null is an allowed partial-filter expression on
  MongoDB and on the mongoeco test server), so a deleted account frees its e-mail and a
  re-signup with it is allowed; two live accounts can never share one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, Self

from beanie import Document
from pydantic import BaseModel, Field, field_validator
from pymongo import ASCENDING, DESCENDING, IndexModel

from domain.board import Project, SiteLocation, Task, Visibility
from domain.identity import ExternalIdentity, Role, User, normalise_email

LIVE: dict[str, Any] = {"deleted_at": None}
"""The soft-delete marker as a filter and a partial-index expression: live documents only."""


def _utc(value: datetime | None) -> datetime | None:
    """BSON keeps UTC milliseconds; normalise so a round trip compares equal."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _required_utc(value: datetime) -> datetime:
    result = _utc(value)
    assert result is not None
    return result


def _date_to_bson(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time.min, tzinfo=UTC)


def _date_from_bson(value: datetime | date | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


class _TrellisDocument(Document):
    """Common to every Trellis document: string ids, a version and the soft-delete marker."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    created_at: datetime
    updated_at: datetime
    version: int
    deleted_at: datetime | None = None

    collection_name: ClassVar[str]

    @field_validator("created_at", "updated_at", "deleted_at", mode="after")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    def to_bson(self) -> dict[str, Any]:
        """The document as stored: ``_id`` first, every field present (nulls included)."""
        raw: dict[str, Any] = self.model_dump(by_alias=True, exclude={"revision_id"})
        for key, value in raw.items():
            if isinstance(value, date) and not isinstance(value, datetime):
                raw[key] = _date_to_bson(value)
        return raw

    @classmethod
    def from_bson(cls, raw: dict[str, Any]) -> Self:
        document: Self = cls.model_validate(raw)
        return document


# --- users ------------------------------------------------------------------------------


class IdentityEmbed(BaseModel):
    issuer: str
    subject: str


class UserDocument(_TrellisDocument):
    email: str
    display_name: str
    roles: list[str]
    active: bool = True
    password_hash: str | None = None
    identities: list[IdentityEmbed] = Field(default_factory=list)
    tokens_valid_after: datetime | None = None  # absent in documents written before it existed

    collection_name: ClassVar[str] = "users"

    class Settings:
        name = "users"
        keep_nulls = True
        indexes: ClassVar[list[IndexModel]] = [
            # get_by_email and the live-uniqueness rule (stored lower-case by from_domain).
            IndexModel(
                [("email", ASCENDING)],
                name="email_live_unique",
                unique=True,
                partialFilterExpression=LIVE,
            ),
            # get_by_identity: OIDC users are linked by issuer + subject.
            IndexModel(
                [("identities.issuer", ASCENDING), ("identities.subject", ASCENDING)],
                name="identity_issuer_subject",
            ),
            # the admin user list, newest/oldest first with the id tie-break.
            IndexModel([("deleted_at", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)], name="live_created"),
        ]

    @classmethod
    def from_domain(cls, user: User) -> UserDocument:
        return cls(
            _id=user.id,
            email=normalise_email(user.email),
            display_name=user.display_name,
            roles=sorted(role.value for role in user.roles),
            active=user.active,
            password_hash=user.password_hash,
            identities=[IdentityEmbed(issuer=i.issuer, subject=i.subject) for i in user.identities],
            created_at=_required_utc(user.created_at),
            updated_at=_required_utc(user.updated_at),
            version=user.version,
            deleted_at=_utc(user.deleted_at),
            tokens_valid_after=_utc(user.tokens_valid_after),
        )

    def to_domain(self) -> User:
        return User(
            id=self.id,
            email=self.email,
            display_name=self.display_name,
            roles=frozenset(Role(role) for role in self.roles),
            created_at=self.created_at,
            updated_at=self.updated_at,
            active=self.active,
            password_hash=self.password_hash,
            identities=tuple(ExternalIdentity(issuer=i.issuer, subject=i.subject) for i in self.identities),
            version=self.version,
            deleted_at=self.deleted_at,
            tokens_valid_after=_utc(self.tokens_valid_after),
        )


# --- projects ---------------------------------------------------------------------------


class SiteEmbed(BaseModel):
    place: str | None = None
    lat: float | None = None
    lon: float | None = None


class ProjectDocument(_TrellisDocument):
    owner_id: str
    title: str
    description: str = ""
    visibility: str = Visibility.PERSONAL.value
    finish_date: date | None = None
    site: SiteEmbed | None = None
    progress: float = 0.0

    collection_name: ClassVar[str] = "projects"

    @field_validator("finish_date", mode="before")
    @classmethod
    def _finish_date(cls, value: datetime | date | None) -> date | None:
        return _date_from_bson(value)

    class Settings:
        name = "projects"
        keep_nulls = True
        indexes: ClassVar[list[IndexModel]] = [
            # "my projects" (owner_id filter, and the owner branch of a member's $or) by the
            # default sort.
            IndexModel(
                [("owner_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                name="owner_live_created",
            ),
            # the public branch of a member's list and ?visibility=, by the default sort.
            IndexModel(
                [("visibility", ASCENDING), ("deleted_at", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                name="visibility_live_created",
            ),
            # an admin's unrestricted list.
            IndexModel(
                [("deleted_at", ASCENDING), ("created_at", DESCENDING), ("_id", ASCENDING)], name="live_created"
            ),
        ]

    @classmethod
    def from_domain(cls, project: Project) -> ProjectDocument:
        site = project.site
        return cls(
            _id=project.id,
            owner_id=project.owner_id,
            title=project.title,
            description=project.description,
            visibility=project.visibility.value,
            finish_date=project.finish_date,
            site=None if site is None else SiteEmbed(place=site.place, lat=site.lat, lon=site.lon),
            progress=project.progress,
            created_at=_required_utc(project.created_at),
            updated_at=_required_utc(project.updated_at),
            version=project.version,
            deleted_at=_utc(project.deleted_at),
        )

    def to_domain(self) -> Project:
        site = self.site
        return Project(
            id=self.id,
            owner_id=self.owner_id,
            title=self.title,
            created_at=self.created_at,
            updated_at=self.updated_at,
            description=self.description,
            visibility=Visibility(self.visibility),
            finish_date=self.finish_date,
            site=None if site is None else SiteLocation(place=site.place, lat=site.lat, lon=site.lon),
            progress=self.progress,
            version=self.version,
            deleted_at=self.deleted_at,
        )


# --- tasks ------------------------------------------------------------------------------


class TaskDocument(_TrellisDocument):
    project_id: str
    title: str
    description: str = ""
    tag: str | None = None
    progress: int = 0
    finish_date: date | None = None

    collection_name: ClassVar[str] = "tasks"

    @field_validator("finish_date", mode="before")
    @classmethod
    def _finish_date(cls, value: datetime | date | None) -> date | None:
        return _date_from_bson(value)

    class Settings:
        name = "tasks"
        keep_nulls = True
        indexes: ClassVar[list[IndexModel]] = [
            # a project's task list by the default sort; also serves progress_totals and
            # soft_delete_for_project (prefix project_id + deleted_at).
            IndexModel(
                [("project_id", ASCENDING), ("deleted_at", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                name="project_live_created",
            ),
            # ?tag= on a project's tasks, by the default sort.
            IndexModel(
                [
                    ("project_id", ASCENDING),
                    ("deleted_at", ASCENDING),
                    ("tag", ASCENDING),
                    ("created_at", ASCENDING),
                    ("_id", ASCENDING),
                ],
                name="project_live_tag_created",
            ),
            # sorting a project's tasks by due date or progress (the board's other views).
            IndexModel(
                [("project_id", ASCENDING), ("deleted_at", ASCENDING), ("finish_date", ASCENDING), ("_id", ASCENDING)],
                name="project_live_finish",
            ),
            IndexModel(
                [("project_id", ASCENDING), ("deleted_at", ASCENDING), ("progress", ASCENDING), ("_id", ASCENDING)],
                name="project_live_progress",
            ),
        ]

    @classmethod
    def from_domain(cls, task: Task) -> TaskDocument:
        return cls(
            _id=task.id,
            project_id=task.project_id,
            title=task.title,
            description=task.description,
            tag=task.tag,
            progress=task.progress,
            finish_date=task.finish_date,
            created_at=_required_utc(task.created_at),
            updated_at=_required_utc(task.updated_at),
            version=task.version,
            deleted_at=_utc(task.deleted_at),
        )

    def to_domain(self) -> Task:
        return Task(
            id=self.id,
            project_id=self.project_id,
            title=self.title,
            created_at=self.created_at,
            updated_at=self.updated_at,
            description=self.description,
            tag=self.tag,
            progress=self.progress,
            finish_date=self.finish_date,
            version=self.version,
            deleted_at=self.deleted_at,
        )


ALL_DOCUMENTS: tuple[type[_TrellisDocument], ...] = (UserDocument, ProjectDocument, TaskDocument)

# issue 9: posts and collections (their module imports this one, hence the late import)
from adapters.mongo.content import CollectionDocument, PostDocument  # noqa: E402

ALL_DOCUMENTS = (*ALL_DOCUMENTS, PostDocument, CollectionDocument)

# issue 8: the files collection (its module imports this one, hence the late import)
from adapters.mongo.files import FileDocument  # noqa: E402

ALL_DOCUMENTS = (*ALL_DOCUMENTS, FileDocument)
