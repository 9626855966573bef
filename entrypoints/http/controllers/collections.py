"""``/api/v1/collections``: a member's ordered lists of posts, visible to the owner and admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.collections import CollectionView, NewCollection
from domain.content import (
    COLLECTION_DESCRIPTION_MAX,
    COLLECTION_NAME_MAX,
    COLLECTION_SORT_FIELDS,
    Collection,
    CollectionChanges,
)
from domain.identity import Principal
from domain.paging import Sort, page_request
from entrypoints.http.conditional import PRIVATE_NO_CACHE, etag, expected_version, not_modified
from entrypoints.http.controllers.paging import SORT_DESCRIPTION, PageQuery, SizeQuery, list_response, sort_pattern
from entrypoints.http.controllers.posts import PostOut
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope, ListEnvelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import NOT_BLANK, Strict

Name = Annotated[
    str, msgspec.Meta(min_length=1, max_length=COLLECTION_NAME_MAX, pattern=NOT_BLANK, description="1–100 characters")
]
CollectionDescription = Annotated[
    str, msgspec.Meta(max_length=COLLECTION_DESCRIPTION_MAX, description="At most 2 000 characters")
]
CollectionSort = Annotated[
    str | None,
    QueryParameter(
        description=SORT_DESCRIPTION.format(fields=", ".join(sorted(COLLECTION_SORT_FIELDS))),
        max_length=40,
        schema_extra=sort_pattern(COLLECTION_SORT_FIELDS),
    ),
]


class CollectionCreateIn(Strict):
    name: Name
    description: CollectionDescription = ""


class CollectionPatchIn(Strict):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: CollectionDescription | msgspec.UnsetType = msgspec.UNSET


class CollectionPostIn(Strict):
    post_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class CollectionSummaryOut(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    name: str
    description: str
    post_ids: list[str]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, collection: Collection) -> CollectionSummaryOut:
        return cls(
            id=collection.id,
            owner_id=collection.owner_id,
            name=collection.name,
            description=collection.description,
            post_ids=list(collection.post_ids),
            version=collection.version,
            created_at=collection.created_at,
            updated_at=collection.updated_at,
        )


class CollectionOut(CollectionSummaryOut, kw_only=True):
    """With the posts its owner may see, in order; ``hidden_count`` posts were left out (deleted, or on
    a project the owner can no longer see). ``post_ids`` lists only the shown posts."""

    posts: list[PostOut]
    hidden_count: int

    @classmethod
    def view(cls, view: CollectionView) -> CollectionOut:
        summary = msgspec.structs.asdict(CollectionSummaryOut.of(view.collection))
        summary["post_ids"] = [p.id for p in view.posts]  # never reveal the ids of hidden posts
        return cls(**summary, posts=[PostOut.of(p) for p in view.posts], hidden_count=view.hidden_count)


def collection_response(
    view: CollectionView, status_code: int = 200, location: bool = False
) -> Response[Envelope[CollectionOut]]:
    headers = {"ETag": etag(view.collection.version), "Cache-Control": PRIVATE_NO_CACHE}
    if location:
        headers["Location"] = f"/api/v1/collections/{view.collection.id}"
    return Response(ok(CollectionOut.view(view)), status_code=status_code, headers=headers)


def _given(value: Any) -> Any:
    return None if isinstance(value, msgspec.UnsetType) else value


class CollectionController(Controller):
    path = "/collections"
    tags = ["collections"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @get(
        "/",
        summary="List my collections",
        description="The caller's own collections (summaries: ids of the posts, not the posts). Paging in "
        "`meta` and the `Link` header.",
        responses=error_responses(401, 422),
    )
    async def list_collections(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        page: PageQuery = 1,
        size: SizeQuery = 20,
        sort: CollectionSort = None,
    ) -> Response[ListEnvelope[CollectionSummaryOut]]:
        paging = page_request(page, size, sort, COLLECTION_SORT_FIELDS, Sort("created_at", descending=True))
        found = await container_of(request).collections.list(principal, paging)
        return list_response(request, found, [CollectionSummaryOut.of(c) for c in found.items])

    @post(
        "/",
        summary="Create a collection",
        description="An empty collection owned by the caller (members and admins; guests get 403).",
        responses=error_responses(400, 401, 403, 422),
    )
    async def create_collection(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: JSONBody[CollectionCreateIn]
    ) -> Response[Envelope[CollectionOut]]:
        new = NewCollection(name=data.name, description=data.description)
        view = await container_of(request).collections.create(principal, new)
        return collection_response(view, status_code=201, location=True)

    @get(
        "/{collection_id:str}",
        summary="Read a collection",
        description="The owner's (or, for admins, anyone's) collection with the posts its owner may see, in "
        "order, and `hidden_count`. Anyone else gets 404. Strong `ETag`; `If-None-Match` answers 304.",
        responses=error_responses(401, 404),
    )
    async def get_collection(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], collection_id: FromPath[str]
    ) -> Response[Any]:
        view = await container_of(request).collections.get(principal, collection_id)
        if not_modified(request, view.collection.version):
            return Response(None, status_code=304, headers={"ETag": etag(view.collection.version)})
        return collection_response(view)

    @patch(
        "/{collection_id:str}",
        summary="Rename or describe a collection",
        description="Changes `name` and/or `description`. `If-Match` answers 412 when stale.",
        responses=error_responses(400, 401, 404, 409, 412, 422),
    )
    async def patch_collection(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        collection_id: FromPath[str],
        data: JSONBody[CollectionPatchIn],
    ) -> Response[Envelope[CollectionOut]]:
        changes = CollectionChanges(name=_given(data.name), description=_given(data.description))
        service = container_of(request).collections
        view = await service.update(principal, collection_id, changes, expected_version(request))
        return collection_response(view)

    @delete(
        "/{collection_id:str}",
        summary="Delete a collection",
        description="Soft-deletes the collection (its posts stay). Answers 200 with `data: null`.",
        responses=error_responses(401, 404, 409, 412),
        status_code=200,
    )
    async def delete_collection(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], collection_id: FromPath[str]
    ) -> Envelope[None]:
        await container_of(request).collections.delete(principal, collection_id, expected_version(request))
        return ok(None)

    @post(
        "/{collection_id:str}/posts",
        summary="Add a post to a collection",
        description="Appends a post the collection's owner may see. 404 when the collection is missing or not "
        "the caller's; 422 `validation_error` on `body.post_id` when the post does not exist or its owner cannot "
        "see it (one answer for both). Adding a post that is already there changes nothing and answers 200.",
        responses=error_responses(400, 401, 404, 409, 412, 422),
        status_code=200,
    )
    async def add_post(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        collection_id: FromPath[str],
        data: JSONBody[CollectionPostIn],
    ) -> Response[Envelope[CollectionOut]]:
        service = container_of(request).collections
        view = await service.add_post(principal, collection_id, data.post_id, expected_version(request))
        return collection_response(view)

    @delete(
        "/{collection_id:str}/posts/{post_id:str}",
        summary="Remove a post from a collection",
        description="Removes the post; removing one that is not there changes nothing and answers 200.",
        responses=error_responses(401, 404, 409, 412),
        status_code=200,
    )
    async def remove_post(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        collection_id: FromPath[str],
        post_id: FromPath[str],
    ) -> Response[Envelope[CollectionOut]]:
        service = container_of(request).collections
        view = await service.remove_post(principal, collection_id, post_id, expected_version(request))
        return collection_response(view)
