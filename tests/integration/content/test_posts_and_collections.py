"""Posts and collections through HTTP: visibility, authorship, validation, idempotent add/remove,
and a collection that hides posts once their project turns personal."""

from __future__ import annotations

from typing import Any

from domain import events as ev
from domain.identity import Role
from tests.integration.http.helpers import Api, Member, assert_error, assert_success


async def create_post(api: Api, who: Member, **body: Any) -> dict[str, Any]:
    response = await api.client.post("/api/v1/posts", json={"title": "Status", **body}, headers=who.headers)
    data: dict[str, Any] = assert_success(response, 201)
    assert response.headers["location"] == f"/api/v1/posts/{data['id']}"
    return data


async def test_posts_follow_their_projects_visibility_and_lists_count_only_visible(
    api: Api, member: Member, other: Member
) -> None:
    personal = await api.create_project(member, visibility="personal")
    public = await api.create_project(member, visibility="public")
    hidden = await create_post(api, member, project_id=personal["id"], body="private notes")
    shown = await create_post(api, member, project_id=public["id"])
    loose = await create_post(api, other, title="No project")
    assert hidden["analysis"]["status"] == "pending"

    assert_error(await api.client.get(f"/api/v1/posts/{hidden['id']}", headers=other.headers), 404, "not_found")
    assert assert_success(await api.client.get(f"/api/v1/posts/{shown['id']}", headers=other.headers))["id"]
    listed = await api.client.get("/api/v1/posts?size=1&sort=created_at", headers=other.headers)
    assert [p["id"] for p in assert_success(listed)] == [shown["id"]]
    assert listed.json()["meta"] == {"page": 1, "size": 1, "total": 2, "pages": 2}
    assert 'rel="next"' in listed.headers["link"]
    mine = await api.client.get("/api/v1/posts", headers=member.headers)
    assert {p["id"] for p in assert_success(mine)} == {hidden["id"], shown["id"], loose["id"]}
    by_project = await api.client.get(f"/api/v1/posts?project_id={public['id']}", headers=other.headers)
    assert [p["id"] for p in assert_success(by_project)] == [shown["id"]]
    invisible = await api.client.get(f"/api/v1/posts?project_id={personal['id']}", headers=other.headers)
    assert_error(invisible, 404, "not_found")
    # nobody can post on a project they cannot see
    refused = await api.client.post(
        "/api/v1/posts", json={"title": "x", "project_id": personal["id"]}, headers=other.headers
    )
    assert_error(refused, 404, "not_found")


async def test_only_the_author_changes_a_post_with_etags_and_bad_input_is_named(
    api: Api, member: Member, other: Member
) -> None:
    post = await create_post(api, member, body="first")
    url = f"/api/v1/posts/{post['id']}"
    assert_error(await api.client.patch(url, json={"title": "mine"}, headers=other.headers), 403, "forbidden")
    assert_error(await api.client.delete(url, headers=other.headers), 403, "forbidden")
    assert_error(
        await api.client.patch(url, json={"title": ""}, headers=member.headers), 422, "validation_error", "body.title"
    )
    too_long = {"body": "x" * 20_001}
    assert_error(
        await api.client.patch(url, json=too_long, headers=member.headers), 422, "validation_error", "body.body"
    )
    unknown = await api.client.post("/api/v1/posts", json={"title": "t", "author_id": "me"}, headers=member.headers)
    assert_error(unknown, 422, "validation_error")
    bad_sort = await api.client.get("/api/v1/posts?sort=body", headers=member.headers)
    assert_error(bad_sort, 422, "validation_error", "query.sort")

    stale = await api.client.patch(url, json={"body": "x"}, headers={**member.headers, "If-Match": '"v9"'})
    assert_error(stale, 412, "precondition_failed")
    current = (await api.client.get(url, headers=member.headers)).headers["etag"]  # analysis may have bumped it
    changed = await api.client.patch(url, json={"body": "second"}, headers={**member.headers, "If-Match": current})
    assert assert_success(changed)["body"] == "second"
    assert changed.headers["etag"] != current
    assert assert_success(await api.client.delete(url, headers=member.headers)) is None
    assert_error(await api.client.get(url, headers=member.headers), 404, "not_found")
    names = [e.name for e in api.container.publisher.history]
    assert [n for n in names if n in (ev.POST_CREATED, ev.POST_UPDATED, ev.POST_DELETED)] == [
        ev.POST_CREATED,
        ev.POST_UPDATED,
        ev.POST_DELETED,
    ]


async def test_guests_create_nothing(api: Api) -> None:
    guest = await api.member(roles=frozenset({Role.GUEST}))
    assert_error(await api.client.post("/api/v1/posts", json={"title": "t"}, headers=guest.headers), 403, "forbidden")
    refused = await api.client.post("/api/v1/collections", json={"name": "n"}, headers=guest.headers)
    assert_error(refused, 403, "forbidden")


async def test_collections_are_private_idempotent_and_hide_posts_their_owner_cannot_see(
    api: Api, member: Member, other: Member
) -> None:
    project = await api.create_project(member, visibility="public")
    on_project = await create_post(api, member, project_id=project["id"])
    loose = await create_post(api, member)
    created = await api.client.post("/api/v1/collections", json={"name": "Reading"}, headers=other.headers)
    collection = assert_success(created, 201)
    url = f"/api/v1/collections/{collection['id']}"
    assert_error(await api.client.get(url, headers=member.headers), 404, "not_found")

    for _ in range(2):  # adding twice is a no-op
        added = await api.client.post(f"{url}/posts", json={"post_id": on_project["id"]}, headers=other.headers)
        assert assert_success(added)["post_ids"] == [on_project["id"]]
    added = await api.client.post(f"{url}/posts", json={"post_id": loose["id"]}, headers=other.headers)
    missing = await api.client.post(f"{url}/posts", json={"post_id": "nope"}, headers=other.headers)
    # the collection is the resource addressed; an unknown post in the body is a field error (as is an invisible one)
    assert_error(missing, 422, "validation_error", "body.post_id")
    hidden = await create_post(api, member, project_id=(await api.create_project(member))["id"])
    invisible = await api.client.post(f"{url}/posts", json={"post_id": hidden["id"]}, headers=other.headers)
    assert_error(invisible, 422, "validation_error", "body.post_id")
    assert invisible.json()["error"]["details"] == missing.json()["error"]["details"]
    assert_error(
        await api.client.post(f"{url}/posts", json={}, headers=other.headers), 422, "validation_error", "body.post_id"
    )

    # the project turns personal: the collection's owner can no longer see that post
    turned = await api.client.patch(
        f"/api/v1/projects/{project['id']}", json={"visibility": "personal"}, headers=member.headers
    )
    assert_success(turned)
    view = assert_success(await api.client.get(url, headers=other.headers))
    assert [p["id"] for p in view["posts"]] == [loose["id"]]
    assert view["post_ids"] == [loose["id"]]
    assert view["hidden_count"] == 1

    for _ in range(2):  # removing, then removing an absent post, both answer 200
        removed = await api.client.delete(f"{url}/posts/{loose['id']}", headers=other.headers)
        assert assert_success(removed)["posts"] == []
    listed = await api.client.get("/api/v1/collections", headers=other.headers)
    assert [c["id"] for c in assert_success(listed)] == [collection["id"]]
    assert assert_success(await api.client.get("/api/v1/collections", headers=member.headers)) == []
    names = [e.name for e in api.container.publisher.history if e.name.startswith("collection.")]
    assert names == [
        ev.COLLECTION_CREATED,
        ev.COLLECTION_POST_ADDED,
        ev.COLLECTION_POST_ADDED,
        ev.COLLECTION_POST_REMOVED,
    ]
    assert assert_success(await api.client.delete(url, headers=other.headers)) is None
    assert_error(await api.client.get(url, headers=other.headers), 404, "not_found")


async def test_deleting_a_project_deletes_its_posts(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    post = await create_post(api, member, project_id=project["id"])
    assert_success(await api.client.delete(f"/api/v1/projects/{project['id']}", headers=member.headers))
    assert_error(await api.client.get(f"/api/v1/posts/{post['id']}", headers=member.headers), 404, "not_found")
