"""Keyset ("cursor") paging over HTTP: ``?cursor=`` starts, ``meta.next_cursor`` continues.

The shape: ``meta`` is ``{"size", "next_cursor"}`` (no total), ``next_cursor`` is null on the
last page, ``Link`` has ``first`` (``cursor=``) and, before the last page, ``next``. A cursor
only works on the list, filters and sort it was made for, and only as issued (signed).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from domain.paging import Keyset, Sort
from entrypoints.http.cursors import CursorCodec, fingerprint
from tests.integration.http.helpers import Api, Member, assert_error, assert_success

PROJECTS = "/api/v1/projects"
POSTS = "/api/v1/posts"


def tasks_url(project_id: str) -> str:
    return f"{PROJECTS}/{project_id}/tasks"


def links(response: httpx.Response) -> dict[str, tuple[str, dict[str, list[str]]]]:
    found: dict[str, tuple[str, dict[str, list[str]]]] = {}
    for target, rel in re.findall(r'<([^>]*)>;\s*rel="([^"]+)"', response.headers["link"]):
        parts = urlsplit(target)
        found[rel] = (parts.path, parse_qs(parts.query, keep_blank_values=True))
    return found


async def walk(api: Api, who: Member, url: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Follow ``meta.next_cursor`` from ``cursor=`` to the last page; checks each page's shape."""
    pages: list[list[dict[str, Any]]] = []
    cursor = ""
    while True:
        response = await api.client.get(url, params={**params, "cursor": cursor}, headers=who.headers)
        data = assert_success(response)
        meta = response.json()["meta"]
        assert set(meta) == {"size", "next_cursor"}, meta
        pages.append(data)
        rels = links(response)
        assert rels["first"][1]["cursor"] == [""]
        if meta["next_cursor"] is None:
            assert "next" not in rels
            return pages
        assert rels["next"][1]["cursor"] == [meta["next_cursor"]]
        assert len(data) == meta["size"]
        cursor = meta["next_cursor"]
        assert len(pages) < 200


async def _tasks(api: Api, who: Member, project_id: str, titles: list[str], **body: Any) -> list[str]:
    return [(await api.create_task(who, project_id, title=title, **body))["id"] for title in titles]


async def test_walking_a_projects_tasks_by_cursor_gives_the_page_order_without_a_total(
    api: Api, member: Member
) -> None:
    project = (await api.create_project(member, title="Big"))["id"]
    await _tasks(api, member, project, [f"T{i:02d}" for i in range(8)])
    by_page = assert_success(
        await api.client.get(tasks_url(project), params={"size": 100, "sort": "title"}, headers=member.headers)
    )

    pages = await walk(api, member, tasks_url(project), size=3, sort="title")

    assert [len(p) for p in pages] == [3, 3, 2]
    assert [t["id"] for p in pages for t in p] == [t["id"] for t in by_page]
    first = await api.client.get(tasks_url(project), params={"cursor": "", "size": 3}, headers=member.headers)
    next_link = links(first)["next"]
    assert next_link[0] == tasks_url(project)
    assert next_link[1]["size"] == ["3"]
    assert first.headers["cache-control"] == "private, no-cache"


async def test_a_full_last_page_has_no_next_cursor_and_an_empty_list_is_one_page(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="Exact"))["id"]
    empty = await api.client.get(tasks_url(project), params={"cursor": ""}, headers=member.headers)
    assert assert_success(empty) == []
    assert empty.json()["meta"] == {"size": 20, "next_cursor": None}

    await _tasks(api, member, project, ["a", "b", "c", "d"])
    pages = await walk(api, member, tasks_url(project), size=2)
    assert [len(p) for p in pages] == [2, 2]


async def test_the_tag_filter_and_sort_carry_through_the_next_link(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="Tags"))["id"]
    red = await _tasks(api, member, project, ["r1", "r2", "r3"], tag="red")
    await _tasks(api, member, project, ["b1", "b2"], tag="blue")

    first = await api.client.get(
        tasks_url(project), params={"cursor": "", "size": 2, "tag": "red", "sort": "-title"}, headers=member.headers
    )
    assert [t["id"] for t in assert_success(first)] == red[::-1][:2]
    path, query = links(first)["next"]
    second = await api.client.get(path, params={k: v[0] for k, v in query.items()}, headers=member.headers)
    assert [t["id"] for t in assert_success(second)] == red[:1]
    assert second.json()["meta"]["next_cursor"] is None


async def test_tasks_added_while_walking_never_shift_or_repeat_an_existing_one(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="Busy"))["id"]
    existing = await _tasks(api, member, project, [f"m{i:02d}" for i in range(10)])
    seen: list[str] = []
    cursor, step = "", 0
    while True:
        response = await api.client.get(
            tasks_url(project), params={"cursor": cursor, "size": 3, "sort": "title"}, headers=member.headers
        )
        seen += [t["id"] for t in assert_success(response)]
        cursor = response.json()["meta"]["next_cursor"]
        if cursor is None:
            break
        # before the position, tied with nothing, and after it
        await _tasks(api, member, project, [f"a{step}", f"m{step * 3:02d}x", f"z{step}"])
        step += 1

    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in set(existing)] == existing
    assert step >= 3  # new tasks after the position are walked too


async def test_a_deleted_anchor_task_does_not_shift_the_next_page(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="Gaps"))["id"]
    ids = await _tasks(api, member, project, [f"t{i}" for i in range(6)])
    first = await api.client.get(tasks_url(project), params={"cursor": "", "size": 3}, headers=member.headers)
    assert [t["id"] for t in assert_success(first)] == ids[:3]
    deleted = await api.client.delete(f"/api/v1/tasks/{ids[2]}", headers=member.headers)
    assert deleted.status_code == 200, deleted.text

    second = await api.client.get(
        tasks_url(project), params={"cursor": first.json()["meta"]["next_cursor"], "size": 3}, headers=member.headers
    )
    assert [t["id"] for t in assert_success(second)] == ids[3:]


async def test_a_cached_cursor_page_is_never_stale(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="Fresh"))["id"]
    ids = await _tasks(api, member, project, ["a", "c", "e", "g"])
    first = await api.client.get(
        tasks_url(project), params={"cursor": "", "size": 2, "sort": "title"}, headers=member.headers
    )
    params = {"cursor": first.json()["meta"]["next_cursor"], "size": 2, "sort": "title"}
    before = await api.client.get(tasks_url(project), params=params, headers=member.headers)
    assert [t["title"] for t in assert_success(before)] == ["e", "g"]
    again = await api.client.get(tasks_url(project), params=params, headers=member.headers)
    assert assert_success(again) == assert_success(before)

    changed = await api.client.patch(f"/api/v1/tasks/{ids[2]}", json={"title": "f"}, headers=member.headers)
    assert changed.status_code == 200, changed.text
    await _tasks(api, member, project, ["d"])
    after = await api.client.get(tasks_url(project), params=params, headers=member.headers)
    assert [t["title"] for t in assert_success(after)] == ["d", "f"]


# --- refusals ------------------------------------------------------------------------------------


async def _next_cursor(api: Api, who: Member, url: str, **params: Any) -> str:
    response = await api.client.get(url, params={"cursor": "", "size": 1, **params}, headers=who.headers)
    cursor = response.json()["meta"]["next_cursor"]
    assert isinstance(cursor, str), response.text
    return str(cursor)


def _flip(cursor: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


async def test_a_tampered_truncated_or_foreign_cursor_is_a_422(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="Guarded"))["id"]
    await _tasks(api, member, project, ["a", "b", "c"])
    good = await _next_cursor(api, member, tasks_url(project))
    ok = await api.client.get(tasks_url(project), params={"cursor": good, "size": 1}, headers=member.headers)
    assert ok.status_code == 200

    # right list, filters and sort, well formed: only the key is not this service's
    position = Keyset(datetime.now(UTC), "x")
    foreign_key = CursorCodec(b"k" * 32).encode(position, Sort("created_at"), fingerprint("tasks", project, None))
    bad = {
        "payload bit flipped": _flip(good, 5),
        "tag bit flipped": _flip(good, -1),
        "truncated": good[:-6],
        "padding added": good + "=",
        "not base64": "%%%not-a-cursor%%%",
        "another key": foreign_key,
        "plain text": "eyJhIjoxfQ",
        "whitespace": " ",
    }
    for name, cursor in bad.items():
        response = await api.client.get(tasks_url(project), params={"cursor": cursor}, headers=member.headers)
        assert response.status_code == 422, name
        assert_error(response, 422, "invalid_cursor", "query.cursor")


async def test_a_cursor_only_works_for_its_list_filters_and_sort(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="One"))["id"]
    other_project = (await api.create_project(member, title="Two"))["id"]
    for p in (project, other_project):
        await _tasks(api, member, p, ["a", "b", "c"], tag="red")
    cursor = await _next_cursor(api, member, tasks_url(project), sort="title", tag="red")

    refusals = [
        (tasks_url(project), {"sort": "-title", "tag": "red"}, "sort=title"),
        (tasks_url(project), {"tag": "red"}, "sort=title"),  # the default sort is another one
        (tasks_url(project), {"sort": "title", "tag": "blue"}, "other filters"),
        (tasks_url(project), {"sort": "title"}, "other filters"),
        (tasks_url(other_project), {"sort": "title", "tag": "red"}, "other filters"),
        (PROJECTS, {"sort": "title"}, "other filters"),
    ]
    for url, params, says in refusals:
        response = await api.client.get(url, params={**params, "cursor": cursor}, headers=member.headers)
        error = assert_error(response, 422, "invalid_cursor", "query.cursor")
        assert says in error["details"][0]["message"], (url, params, error)


async def test_page_and_cursor_together_and_bad_size_or_sort_are_422(api: Api, member: Member) -> None:
    project = (await api.create_project(member, title="Rules"))["id"]
    url = tasks_url(project)
    both = await api.client.get(url, params={"cursor": "", "page": 1}, headers=member.headers)
    assert_error(both, 422, "validation_error", "query.page")
    for params, field in (
        ({"cursor": "", "size": 0}, "query.size"),
        ({"cursor": "", "size": 101}, "query.size"),
        ({"cursor": "", "sort": "description"}, "query.sort"),
        ({"cursor": "x" * 2000}, "query.cursor"),
    ):
        response = await api.client.get(url, params=params, headers=member.headers)
        assert_error(response, 422, "validation_error", field)


async def test_someone_elses_personal_project_is_a_404_in_cursor_mode_too(
    api: Api, member: Member, other: Member
) -> None:
    project = (await api.create_project(member, title="Mine"))["id"]
    response = await api.client.get(tasks_url(project), params={"cursor": ""}, headers=other.headers)
    assert_error(response, 404, "not_found")


async def test_the_openapi_document_describes_the_cursor(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/projects/{project_id}/tasks"]["get"]
    cursor = next(p for p in operation["parameters"] if p["name"] == "cursor")
    assert cursor["in"] == "query"
    assert "cursor=" in cursor["description"]
    assert "next_cursor" in cursor["description"]
    shapes = operation["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    names = sorted(shape["$ref"].rsplit("/", 1)[-1].split("_")[0] for shape in shapes)
    assert names == ["CursorListEnvelope", "ListEnvelope"]
    meta = schema["components"]["schemas"]["CursorMeta"]
    assert sorted(meta["required"]) == ["next_cursor", "size"]
    assert "total" not in meta["properties"]
    for path in (PROJECTS, POSTS):
        listed = schema["paths"][path]["get"]
        assert "cursor" in [p["name"] for p in listed["parameters"]], path


async def test_projects_and_posts_page_by_cursor_too(api: Api, member: Member, other: Member) -> None:
    mine = [(await api.create_project(member, title=f"P{i}"))["id"] for i in range(4)]
    public = (await api.create_project(other, title="Q", visibility="public"))["id"]
    await api.create_project(other, title="hidden")  # personal: never listed for member
    pages = await walk(api, member, PROJECTS, size=2, sort="title", include="stats")
    assert [p["id"] for page in pages for p in page] == [*mine, public]
    assert all("stats" in p for page in pages for p in page)

    titles = [f"post {i}" for i in range(5)]
    for title in titles:
        created = await api.client.post(POSTS, json={"title": title, "project_id": mine[0]}, headers=member.headers)
        assert created.status_code == 201, created.text
    newest_first = await walk(api, member, POSTS, size=2, project_id=mine[0])
    assert [p["title"] for page in newest_first for p in page] == titles[::-1]
    hidden = await api.client.get(POSTS, params={"cursor": "", "project_id": mine[0]}, headers=other.headers)
    assert_error(hidden, 404, "not_found")
