"""Content: status posts (optionally on a project) and curated collections of them.

Visibility (DESIGN §2):
- A post follows its project: a post on a project is visible exactly to those who may see the
  project (its owner and admins for a personal one, every signed-in user for a public one).
  The author gets no extra right to see it: when a public project turns personal, the posts
  others wrote on it disappear for them too. A post without a project is visible to every
  signed-in user. Deleted posts are visible to nobody.
- Only the author (or an admin) changes or deletes a post; guests create nothing.
- A collection is visible to its owner and admins only; to anyone else it does not exist.
  It lists post ids in order; adding a present post and removing an absent one are no-ops.
  It never shows a post its *owner* cannot see (whoever reads it), and says how many it hid.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from domain.board import Project, can_view_project, raise_if_problems
from domain.errors import FieldProblem, Forbidden, NotFound
from domain.identity import Principal

POST_TITLE_MAX = 200
POST_BODY_MAX = 20_000
COLLECTION_NAME_MAX = 100
COLLECTION_DESCRIPTION_MAX = 2_000
#: the most posts one collection holds (its read resolves them all at once)
COLLECTION_POSTS_MAX = 500

POST_SORT_FIELDS = frozenset({"created_at", "updated_at", "title"})
COLLECTION_SORT_FIELDS = frozenset({"created_at", "updated_at", "name"})


class AnalysisStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PostAnalysis:
    """What the TextAnalyzer said about a post (or that it has not said it yet).

    ``pending``: not analysed yet (or being retried); ``done``: every field below is filled
    (``key_phrases`` may be empty); ``failed``: the analyser gave up on this text for good.
    Scores are confidences 0–1; ``analyzer`` names who produced them (``azure``, ``local``).
    """

    status: AnalysisStatus = AnalysisStatus.PENDING
    sentiment: str | None = None
    positive: float | None = None
    neutral: float | None = None
    negative: float | None = None
    language: str | None = None
    key_phrases: tuple[str, ...] = ()
    analyzer: str | None = None
    analyzed_at: datetime | None = None


@dataclass(slots=True)
class Post:
    id: str
    author_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    body: str = ""
    project_id: str | None = None
    analysis: PostAnalysis | None = None
    version: int = 1
    deleted_at: datetime | None = None


@dataclass(slots=True)
class Collection:
    id: str
    owner_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    post_ids: list[str] = field(default_factory=list)
    version: int = 1
    deleted_at: datetime | None = None


# --- who may see and change posts -----------------------------------------------------------


def can_view_post(principal: Principal | None, post: Post, project: Project | None) -> bool:
    """``project`` is the post's project as stored (None when the post has none, or it is gone)."""
    if principal is None or post.deleted_at is not None:
        return False
    if post.project_id is None:
        return True
    if project is None or project.id != post.project_id:
        return principal.is_admin  # its project is gone: only an admin may still look
    return can_view_project(principal, project)


def ensure_post_visible(principal: Principal | None, post: Post | None, project: Project | None) -> Post:
    if post is None or not can_view_post(principal, post, project):
        raise NotFound("The post does not exist.")
    return post


def ensure_post_changeable(principal: Principal, post: Post | None, project: Project | None) -> Post:
    visible = ensure_post_visible(principal, post, project)
    if not (principal.is_admin or visible.author_id == principal.user_id):
        raise Forbidden("Only the post's author or an admin may change or delete it.")
    return visible


def ensure_can_post_on(principal: Principal, project: Project | None) -> Project:
    """A post may go on a project its author can see (invisible -> 404, as everywhere)."""
    if project is None or not can_view_project(principal, project):
        raise NotFound("The project does not exist.")
    return project


def ensure_can_create_content(principal: Principal) -> None:
    if not principal.can_create:
        raise Forbidden("Guests can read public content but create nothing.")


# --- collections ------------------------------------------------------------------------------


def ensure_collection_visible(principal: Principal | None, collection: Collection | None) -> Collection:
    """Owner and admins only; to anyone else the collection does not exist."""
    if (
        collection is None
        or principal is None
        or collection.deleted_at is not None
        or not (principal.is_admin or collection.owner_id == principal.user_id)
    ):
        raise NotFound("The collection does not exist.")
    return collection


def add_post(collection: Collection, post_id: str, now: datetime) -> bool:
    """Append ``post_id``; False (and nothing changes) when it is already there."""
    if post_id in collection.post_ids:
        return False
    if len(collection.post_ids) >= COLLECTION_POSTS_MAX:
        raise_if_problems([FieldProblem("body.post_id", f"a collection holds at most {COLLECTION_POSTS_MAX} posts")])
    collection.post_ids.append(post_id)
    collection.updated_at = now
    return True


def remove_post(collection: Collection, post_id: str, now: datetime) -> bool:
    """Remove ``post_id``; False (and nothing changes) when it is not there."""
    if post_id not in collection.post_ids:
        return False
    collection.post_ids = [p for p in collection.post_ids if p != post_id]
    collection.updated_at = now
    return True


# --- validation and changes --------------------------------------------------------------------


def _text_problems(value: str, field_name: str, maximum: int, required: bool) -> list[FieldProblem]:
    if required and not value.strip():
        return [FieldProblem(field_name, "must not be empty")]
    if len(value) > maximum:
        return [FieldProblem(field_name, f"must be at most {maximum} characters")]
    return []


def post_problems(title: str | None, body: str | None) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    if title is not None:
        found += _text_problems(title, "body.title", POST_TITLE_MAX, required=True)
    if body is not None:
        found += _text_problems(body, "body.body", POST_BODY_MAX, required=False)
    return found


def collection_problems(name: str | None, description: str | None) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    if name is not None:
        found += _text_problems(name, "body.name", COLLECTION_NAME_MAX, required=True)
    if description is not None:
        found += _text_problems(description, "body.description", COLLECTION_DESCRIPTION_MAX, required=False)
    return found


@dataclass(frozen=True, slots=True)
class PostChanges:
    """PATCH of a post: None leaves a field as is. A post's project never changes."""

    title: str | None = None
    body: str | None = None


def apply_post_changes(post: Post, changes: PostChanges, now: datetime) -> bool:
    """Apply the change; True when the text changed (so it needs analysing again)."""
    raise_if_problems(post_problems(changes.title, changes.body))
    before = (post.title, post.body)
    if changes.title is not None:
        post.title = changes.title.strip()
    if changes.body is not None:
        post.body = changes.body
    post.updated_at = now
    changed = (post.title, post.body) != before
    if changed:
        post.analysis = PostAnalysis(status=AnalysisStatus.PENDING)
    return changed


@dataclass(frozen=True, slots=True)
class CollectionChanges:
    name: str | None = None
    description: str | None = None


def apply_collection_changes(collection: Collection, changes: CollectionChanges, now: datetime) -> None:
    raise_if_problems(collection_problems(changes.name, changes.description))
    if changes.name is not None:
        collection.name = changes.name.strip()
    if changes.description is not None:
        collection.description = changes.description
    collection.updated_at = now
