"""Collections: a member's ordered lists of posts, visible to their owner (and admins) only.

Reading a collection resolves its posts as its *owner* may see them (whoever reads it, an
admin included), in the collection's order, and says how many it hid: posts deleted since,
or on a project the owner can no longer see. Only posts the owner can see can be added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.common import EventBuffer, Ports, check_if_match
from domain import events as ev
from domain.board import raise_if_problems
from domain.content import (
    Collection,
    CollectionChanges,
    Post,
    add_post,
    apply_collection_changes,
    collection_problems,
    ensure_can_create_content,
    ensure_collection_visible,
    remove_post,
)
from domain.errors import FieldProblem, ValidationFailed
from domain.identity import Principal
from domain.paging import Page, PageRequest, Sort
from domain.ports import CollectionQuery, PostQuery


@dataclass(frozen=True, slots=True)
class NewCollection:
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class CollectionView:
    """A collection with the posts its owner may see, in order, and how many were hidden."""

    collection: Collection
    posts: list[Post]
    hidden_count: int


def collection_summary(collection: Collection) -> dict[str, object]:
    return {
        "collection_id": collection.id,
        "owner_id": collection.owner_id,
        "name": collection.name,
        "post_count": len(collection.post_ids),
        "version": collection.version,
    }


class CollectionService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    async def create(self, principal: Principal, new: NewCollection) -> CollectionView:
        ensure_can_create_content(principal)
        raise_if_problems(collection_problems(new.name, new.description))
        now = self._ports.clock.now()
        collection = Collection(
            id=self._ports.ids.new_id(),
            owner_id=principal.user_id,
            name=new.name.strip(),
            description=new.description,
            created_at=now,
            updated_at=now,
        )
        await self._ports.uow.collections.add(collection)
        await self._announce(principal.user_id, ev.COLLECTION_CREATED, collection)
        return CollectionView(collection, [], 0)

    async def get(self, principal: Principal, collection_id: str) -> CollectionView:
        return await self._view(await self._visible(principal, collection_id))

    async def list(self, principal: Principal, page: PageRequest) -> Page[Collection]:
        """The caller's own collections (an admin reads others' by id)."""
        return await self._ports.uow.collections.list(CollectionQuery(owner_id=principal.user_id), page)

    async def update(
        self,
        principal: Principal,
        collection_id: str,
        changes: CollectionChanges,
        expected_version: int | None = None,
    ) -> CollectionView:
        collection = await self._visible(principal, collection_id)
        check_if_match(collection.version, expected_version)
        read_version = collection.version
        apply_collection_changes(collection, changes, self._ports.clock.now())
        saved = await self._ports.uow.collections.update(collection, read_version)
        await self._announce(principal.user_id, ev.COLLECTION_UPDATED, saved)
        return await self._view(saved)

    async def delete(self, principal: Principal, collection_id: str, expected_version: int | None = None) -> None:
        collection = await self._visible(principal, collection_id)
        check_if_match(collection.version, expected_version)
        read_version = collection.version
        now = self._ports.clock.now()
        collection.deleted_at = now
        collection.updated_at = now
        await self._ports.uow.collections.update(collection, read_version)
        await self._announce(principal.user_id, ev.COLLECTION_DELETED, collection)

    async def add_post(
        self, principal: Principal, collection_id: str, post_id: str, expected_version: int | None = None
    ) -> CollectionView:
        """Append a post the owner can see; a post already there changes nothing.

        The collection is the resource addressed (404 when missing or invisible); the post is a
        reference in the body, so one that is missing or invisible to the owner is a 422 on
        ``body.post_id``, with one message for both (it does not tell which)."""
        collection = await self._visible(principal, collection_id)
        check_if_match(collection.version, expected_version)
        if not await self._owner_sees(collection, frozenset({post_id})):
            problem = FieldProblem("body.post_id", "no post with this id that the collection's owner can see")
            raise ValidationFailed([problem])
        read_version = collection.version
        if not add_post(collection, post_id, self._ports.clock.now()):
            return await self._view(collection)  # idempotent: no write, no event
        saved = await self._ports.uow.collections.update(collection, read_version)
        await self._announce(principal.user_id, ev.COLLECTION_POST_ADDED, saved, post_id=post_id)
        return await self._view(saved)

    async def remove_post(
        self, principal: Principal, collection_id: str, post_id: str, expected_version: int | None = None
    ) -> CollectionView:
        """Remove a post; one that is not there changes nothing (and is no error)."""
        collection = await self._visible(principal, collection_id)
        check_if_match(collection.version, expected_version)
        read_version = collection.version
        if not remove_post(collection, post_id, self._ports.clock.now()):
            return await self._view(collection)
        saved = await self._ports.uow.collections.update(collection, read_version)
        await self._announce(principal.user_id, ev.COLLECTION_POST_REMOVED, saved, post_id=post_id)
        return await self._view(saved)

    # --- helpers -------------------------------------------------------------------------------

    async def _visible(self, principal: Principal, collection_id: str) -> Collection:
        return ensure_collection_visible(principal, await self._ports.uow.collections.get(collection_id))

    async def _owner_viewer(self, collection: Collection) -> str | None:
        """The PostQuery viewer that sees what the owner sees (None: an admin sees everything)."""
        owner = await self._ports.uow.users.get(collection.owner_id)
        return None if owner is not None and owner.principal.is_admin else collection.owner_id

    async def _owner_sees(self, collection: Collection, post_ids: frozenset[str]) -> Sequence[Post]:
        if not post_ids:
            return ()
        query = PostQuery(viewer_id=await self._owner_viewer(collection), ids=post_ids)
        page = PageRequest(page=1, size=len(post_ids), sort=Sort("created_at"))
        return (await self._ports.uow.posts.list(query, page)).items

    async def _view(self, collection: Collection) -> CollectionView:
        by_id = {post.id: post for post in await self._owner_sees(collection, frozenset(collection.post_ids))}
        posts = [by_id[post_id] for post_id in collection.post_ids if post_id in by_id]
        return CollectionView(collection, posts, len(collection.post_ids) - len(posts))

    async def _announce(self, actor_id: str, name: str, collection: Collection, post_id: str | None = None) -> None:
        data = collection_summary(collection)
        if post_id is not None:
            data["post_id"] = post_id
        buffer = EventBuffer(self._ports, actor_id)
        buffer.record(name, data, user_id=collection.owner_id)
        await buffer.publish()
