"""Posts: create, read, list, change and delete, following their project's visibility.

Text analysis happens elsewhere (the analytics engineer's worker): a post is created and
changed with ``analysis.status = pending`` and ``post.created`` / ``post.updated`` events;
whoever analyses it calls :meth:`PostService.record_analysis`, which stores the result and
publishes ``post.analyzed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.common import EventBuffer, Ports, check_if_match
from domain import events as ev
from domain.analysis import TextAnalysis
from domain.board import Project, raise_if_problems
from domain.content import (
    AnalysisStatus,
    Post,
    PostAnalysis,
    PostChanges,
    apply_post_changes,
    ensure_can_create_content,
    ensure_can_post_on,
    ensure_post_changeable,
    ensure_post_visible,
    post_problems,
)
from domain.errors import NotFound, VersionConflict
from domain.identity import Principal
from domain.paging import KeysetPage, KeysetRequest, Page, PageRequest
from domain.ports import PostQuery

#: how often ``record_analysis`` re-reads a post that changed under it
ANALYSIS_WRITE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class NewPost:
    title: str
    body: str = ""
    project_id: str | None = None


def analysis_done(result: TextAnalysis, at: datetime) -> PostAnalysis:
    """A TextAnalyzer's result as a post's finished analysis."""
    return PostAnalysis(
        status=AnalysisStatus.DONE,
        sentiment=result.sentiment.value,
        positive=result.scores.positive,
        neutral=result.scores.neutral,
        negative=result.scores.negative,
        language=result.language,
        key_phrases=tuple(result.key_phrases),
        analyzer=result.analyzer,
        analyzed_at=at,
    )


def post_summary(post: Post) -> dict[str, object]:
    """The minimum a subscriber needs after a change (the text itself is fetched by id)."""
    return {
        "post_id": post.id,
        "author_id": post.author_id,
        "project_id": post.project_id,
        "title": post.title,
        "version": post.version,
    }


class PostService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    async def _project_of(self, post: Post | None) -> Project | None:
        if post is None or post.project_id is None:
            return None
        return await self._ports.uow.projects.get(post.project_id)

    async def create(self, principal: Principal, new: NewPost) -> Post:
        ensure_can_create_content(principal)
        raise_if_problems(post_problems(new.title, new.body))
        if new.project_id is not None:
            ensure_can_post_on(principal, await self._ports.uow.projects.get(new.project_id))
        now = self._ports.clock.now()
        post = Post(
            id=self._ports.ids.new_id(),
            author_id=principal.user_id,
            project_id=new.project_id,
            title=new.title.strip(),
            body=new.body,
            analysis=PostAnalysis(status=AnalysisStatus.PENDING),
            created_at=now,
            updated_at=now,
        )
        await self._ports.uow.posts.add(post)
        await self._announce(principal.user_id, ev.POST_CREATED, post)
        return post

    async def get(self, principal: Principal, post_id: str) -> Post:
        post = await self._ports.uow.posts.get(post_id)
        return ensure_post_visible(principal, post, await self._project_of(post))

    async def list(self, principal: Principal, page: PageRequest, project_id: str | None = None) -> Page[Post]:
        """Only posts the caller may see; ``project_id`` of an invisible project is a 404."""
        if project_id is not None:
            project = await self._ports.uow.projects.get(project_id)
            ensure_can_post_on(principal, project)  # same rule: visible project, else NotFound
        query = PostQuery(viewer_id=None if principal.is_admin else principal.user_id, project_id=project_id)
        return await self._ports.uow.posts.list(query, page)

    async def list_keyset(
        self, principal: Principal, page: KeysetRequest, project_id: str | None = None
    ) -> KeysetPage[Post]:
        """``list`` from a position instead of a page number, without a total."""
        if project_id is not None:
            project = await self._ports.uow.projects.get(project_id)
            ensure_can_post_on(principal, project)
        query = PostQuery(viewer_id=None if principal.is_admin else principal.user_id, project_id=project_id)
        return await self._ports.uow.posts.list_keyset(query, page)

    async def update(
        self, principal: Principal, post_id: str, changes: PostChanges, expected_version: int | None = None
    ) -> Post:
        post = await self._ports.uow.posts.get(post_id)
        post = ensure_post_changeable(principal, post, await self._project_of(post))
        check_if_match(post.version, expected_version)
        read_version = post.version
        apply_post_changes(post, changes, self._ports.clock.now())
        saved = await self._ports.uow.posts.update(post, read_version)
        await self._announce(principal.user_id, ev.POST_UPDATED, saved)
        return saved

    async def delete(self, principal: Principal, post_id: str, expected_version: int | None = None) -> None:
        post = await self._ports.uow.posts.get(post_id)
        post = ensure_post_changeable(principal, post, await self._project_of(post))
        check_if_match(post.version, expected_version)
        now = self._ports.clock.now()
        read_version = post.version
        post.deleted_at = now
        post.updated_at = now
        await self._ports.uow.posts.update(post, read_version)
        await self._announce(principal.user_id, ev.POST_DELETED, post)

    async def record_analysis(self, post_id: str, result: PostAnalysis | TextAnalysis) -> Post | None:
        """Store what the analyser said about a post and publish ``post.analyzed``.

        For the analysis worker (no caller to authorise). Returns None when the post is gone
        (deleted meanwhile: nothing to store). A concurrent edit is retried on a fresh read;
        a result for text that changed since is still stored — the edit set ``pending`` and
        published ``post.updated``, so a newer analysis follows and overwrites it.
        """
        analysis = result if isinstance(result, PostAnalysis) else analysis_done(result, self._ports.clock.now())
        for remaining in range(ANALYSIS_WRITE_ATTEMPTS - 1, -1, -1):
            post = await self._ports.uow.posts.get(post_id)
            if post is None:
                return None
            read_version = post.version
            post.analysis = analysis
            try:
                saved = await self._ports.uow.posts.update(post, read_version)
            except NotFound:
                return None
            except VersionConflict:
                if remaining == 0:
                    raise
                continue
            buffer = EventBuffer(self._ports, None)
            data = post_summary(saved) | {
                "status": analysis.status.value,
                "sentiment": analysis.sentiment,
                "language": analysis.language,
                "analyzer": analysis.analyzer,
            }
            buffer.record(ev.POST_ANALYZED, data, project_id=saved.project_id, user_id=saved.author_id)
            await buffer.publish()
            return saved
        raise AssertionError("unreachable")  # pragma: no cover

    async def _announce(self, actor_id: str, name: str, post: Post) -> None:
        buffer = EventBuffer(self._ports, actor_id)
        buffer.record(name, post_summary(post), project_id=post.project_id, user_id=post.author_id)
        await buffer.publish()
