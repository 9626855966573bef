"""``/api/v1/posts``: status posts, optionally on a project whose visibility they follow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.posts import NewPost
from domain.content import POST_BODY_MAX, POST_SORT_FIELDS, POST_TITLE_MAX, Post, PostChanges
from domain.identity import Principal
from domain.paging import Sort, page_request
from entrypoints.http.conditional import PRIVATE_NO_CACHE, etag, expected_version, not_modified
from entrypoints.http.controllers.paging import (
    SORT_DESCRIPTION,
    CursorQuery,
    PageQuery,
    SizeQuery,
    cursor_list_response,
    cursor_paging,
    list_response,
    sort_pattern,
)
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import CursorListEnvelope, Envelope, ListEnvelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import NOT_BLANK, Strict

PostTitle = Annotated[
    str, msgspec.Meta(min_length=1, max_length=POST_TITLE_MAX, pattern=NOT_BLANK, description="1–200 characters")
]
PostBody = Annotated[str, msgspec.Meta(max_length=POST_BODY_MAX, description="At most 20 000 characters")]
PostSort = Annotated[
    str | None,
    QueryParameter(
        description=SORT_DESCRIPTION.format(fields=", ".join(sorted(POST_SORT_FIELDS))),
        max_length=40,
        schema_extra=sort_pattern(POST_SORT_FIELDS),
    ),
]
ProjectFilter = Annotated[
    str | None, QueryParameter(description="Only posts on this project (one the caller may see).", max_length=100)
]


class PostCreateIn(Strict):
    title: PostTitle
    body: PostBody = ""
    project_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class PostPatchIn(Strict):
    """Only the fields present change. A post's project never changes."""

    title: PostTitle | msgspec.UnsetType = msgspec.UNSET
    body: PostBody | msgspec.UnsetType = msgspec.UNSET


class AnalysisOut(msgspec.Struct, kw_only=True):
    status: str
    sentiment: str | None
    scores: dict[str, float] | None
    key_phrases: list[str]
    language: str | None
    analyzer: str | None
    analyzed_at: datetime | None


class PostOut(msgspec.Struct, kw_only=True):
    id: str
    author_id: str
    project_id: str | None
    title: str
    body: str
    analysis: AnalysisOut | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, post: Post) -> PostOut:
        a = post.analysis
        analysis = None
        if a is not None:
            scores = None
            if a.positive is not None and a.neutral is not None and a.negative is not None:
                scores = {"positive": a.positive, "neutral": a.neutral, "negative": a.negative}
            analysis = AnalysisOut(
                status=a.status.value,
                sentiment=a.sentiment,
                scores=scores,
                key_phrases=list(a.key_phrases),
                language=a.language,
                analyzer=a.analyzer,
                analyzed_at=a.analyzed_at,
            )
        return cls(
            id=post.id,
            author_id=post.author_id,
            project_id=post.project_id,
            title=post.title,
            body=post.body,
            analysis=analysis,
            version=post.version,
            created_at=post.created_at,
            updated_at=post.updated_at,
        )


def post_response(item: Post, status_code: int = 200, location: bool = False) -> Response[Envelope[PostOut]]:
    headers = {"ETag": etag(item.version), "Cache-Control": PRIVATE_NO_CACHE}
    if location:
        headers["Location"] = f"/api/v1/posts/{item.id}"
    return Response(ok(PostOut.of(item)), status_code=status_code, headers=headers)


def _given(value: Any) -> Any:
    return None if isinstance(value, msgspec.UnsetType) else value


class PostController(Controller):
    path = "/posts"
    tags = ["posts"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/",
        summary="List posts",
        description="Posts the caller may see: those without a project, and those on projects the caller may "
        "see (a personal project's posts only to its owner; admins see all). `project_id` filters (an invisible "
        "project is a 404). `total` counts only visible posts. Paging in `meta` and the `Link` header: `page`/`size`, "
        "or `cursor` (keyset: `cursor=` for the first page, then `meta.next_cursor`; no total).",
        responses=error_responses(401, 404, 422),
    )
    async def list_posts(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        page: PageQuery = 1,
        size: SizeQuery = 20,
        sort: PostSort = None,
        project_id: ProjectFilter = None,
        cursor: CursorQuery = None,
    ) -> Response[ListEnvelope[PostOut] | CursorListEnvelope[PostOut]]:
        default = Sort("created_at", descending=True)
        if cursor is not None:
            keyset = cursor_paging(request, cursor, size, sort, POST_SORT_FIELDS, default, "posts", project_id)
            listed = await container_of(request).posts.list_keyset(principal, keyset.page, project_id=project_id)
            return cursor_list_response(request, keyset, listed, [PostOut.of(p) for p in listed.items])
        paging = page_request(page, size, sort, POST_SORT_FIELDS, default)
        found = await container_of(request).posts.list(principal, paging, project_id=project_id)
        paged: Response[Any] = list_response(request, found, [PostOut.of(p) for p in found.items])
        return paged

    @post(
        "/",
        summary="Create a post",
        description="Members and admins (guests get 403). With `project_id` the post goes on a project the caller "
        "may see and follows its visibility. `analysis.status` starts `pending`; text analysis fills it later.",
        responses=error_responses(400, 401, 403, 404, 422),
    )
    async def create_post(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: JSONBody[PostCreateIn]
    ) -> Response[Envelope[PostOut]]:
        new = NewPost(title=data.title, body=data.body, project_id=data.project_id)
        created = await container_of(request).posts.create(principal, new)
        return post_response(created, status_code=201, location=True)

    @get(
        "/{post_id:str}",
        summary="Read a post",
        description="A post the caller may see (one on someone else's personal project is a 404). Strong `ETag`; "
        "`If-None-Match` answers 304.",
        responses=error_responses(401, 404),
    )
    async def get_post(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], post_id: FromPath[str]
    ) -> Response[Any]:
        found = await container_of(request).posts.get(principal, post_id)
        if not_modified(request, found.version):
            return Response(None, status_code=304, headers={"ETag": etag(found.version)})
        return post_response(found)

    @patch(
        "/{post_id:str}",
        summary="Change a post",
        description="Changes `title` and/or `body`; the author or an admin only (403 otherwise). A changed text "
        "is analysed again (`analysis.status` back to `pending`). `If-Match` answers 412 when stale.",
        responses=error_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def patch_post(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        post_id: FromPath[str],
        data: JSONBody[PostPatchIn],
    ) -> Response[Envelope[PostOut]]:
        changes = PostChanges(title=_given(data.title), body=_given(data.body))
        saved = await container_of(request).posts.update(principal, post_id, changes, expected_version(request))
        return post_response(saved)

    @delete(
        "/{post_id:str}",
        summary="Delete a post",
        description="Soft-deletes the post; the author or an admin only. Collections holding it stop showing it "
        "(and count it as hidden). Answers 200 with `data: null`.",
        responses=error_responses(401, 403, 404, 409, 412),
        status_code=200,
    )
    async def delete_post(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], post_id: FromPath[str]
    ) -> Envelope[None]:
        await container_of(request).posts.delete(principal, post_id, expected_version(request))
        return ok(None)
