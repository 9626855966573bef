"""List routes: paging meta, RFC 8288 Link headers, sort, filters, and bad query parameters."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.http.helpers import Api, Member, assert_error, assert_success

PROJECTS = "/api/v1/projects"


def links(response: httpx.Response) -> dict[str, tuple[str, dict[str, str]]]:
    """``rel`` -> (path, query) from the Link header."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for target, rel in re.findall(r'<([^>]*)>;\s*rel="([^"]+)"', response.headers["link"]):
        parts = urlsplit(target)
        found[rel] = (parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})
    return found


async def _projects(api: Api, who: Member, count: int, **body: str) -> list[str]:
    return [(await api.create_project(who, title=f"P{i:02d}", **body))["id"] for i in range(count)]


async def test_paging_meta_and_link_header(api: Api, member: Member) -> None:
    await _projects(api, member, 7)

    first = await api.client.get(PROJECTS, params={"size": 3, "sort": "title"}, headers=member.headers)
    assert [p["title"] for p in assert_success(first)] == ["P00", "P01", "P02"]
    assert first.json()["meta"] == {"page": 1, "size": 3, "total": 7, "pages": 3}
    assert first.headers["cache-control"] == "private, no-cache"
    rels = links(first)
    assert set(rels) == {"first", "next", "last"}
    assert rels["next"] == (PROJECTS, {"sort": "title", "page": "2", "size": "3"})
    assert rels["last"][1]["page"] == "3"

    middle = await api.client.get(PROJECTS, params={"page": 2, "size": 3, "sort": "title"}, headers=member.headers)
    assert [p["title"] for p in assert_success(middle)] == ["P03", "P04", "P05"]
    assert set(links(middle)) == {"first", "prev", "next", "last"}
    assert links(middle)["prev"][1]["page"] == "1"

    last = await api.client.get(PROJECTS, params={"page": 3, "size": 3, "sort": "title"}, headers=member.headers)
    assert [p["title"] for p in assert_success(last)] == ["P06"]
    assert set(links(last)) == {"first", "prev", "last"}

    beyond = await api.client.get(PROJECTS, params={"page": 9, "size": 3}, headers=member.headers)
    assert assert_success(beyond) == []
    assert beyond.json()["meta"] == {"page": 9, "size": 3, "total": 7, "pages": 3}
    assert links(beyond)["prev"][1]["page"] == "3"


async def test_default_paging_and_an_empty_list(api: Api, member: Member) -> None:
    response = await api.client.get(PROJECTS, headers=member.headers)

    assert assert_success(response) == []
    assert response.json()["meta"] == {"page": 1, "size": 20, "total": 0, "pages": 0}
    assert set(links(response)) == {"first", "last"}


async def test_links_keep_the_filters(api: Api, member: Member) -> None:
    await _projects(api, member, 3, visibility="public")
    await _projects(api, member, 2, visibility="personal")

    response = await api.client.get(
        PROJECTS, params={"visibility": "public", "q": "p0", "sort": "-title", "size": 2}, headers=member.headers
    )

    assert response.json()["meta"]["total"] == 3
    path, query = links(response)["next"]
    assert path == PROJECTS
    assert query == {"visibility": "public", "q": "p0", "sort": "-title", "page": "2", "size": "2"}
    followed = await api.client.get(path, params=query, headers=member.headers)
    assert [p["title"] for p in assert_success(followed)] == ["P00"]


async def test_sort_ascending_and_descending(api: Api, member: Member) -> None:
    for title in ("banana", "apple", "cherry"):
        await api.create_project(member, title=title)

    ascending = await api.client.get(PROJECTS, params={"sort": "title"}, headers=member.headers)
    descending = await api.client.get(PROJECTS, params={"sort": "-title"}, headers=member.headers)

    assert [p["title"] for p in assert_success(ascending)] == ["apple", "banana", "cherry"]
    assert [p["title"] for p in assert_success(descending)] == ["cherry", "banana", "apple"]


async def test_sort_by_progress(api: Api, member: Member) -> None:
    for progress in (30, 90, 10):
        project = await api.create_project(member, title=f"at {progress}")
        await api.create_task(member, project["id"], progress=progress)

    response = await api.client.get(PROJECTS, params={"sort": "-progress"}, headers=member.headers)

    assert [p["progress"] for p in assert_success(response)] == [90, 30, 10]


async def test_visibility_and_q_filters(api: Api, member: Member, other: Member) -> None:
    await api.create_project(member, title="Harbour wall", visibility="public")
    await api.create_project(member, title="Garden shed", visibility="personal")
    await api.create_project(other, title="Harbour crane", visibility="public")
    await api.create_project(other, title="Harbour secret", visibility="personal")

    public = await api.client.get(PROJECTS, params={"visibility": "public"}, headers=member.headers)
    personal = await api.client.get(PROJECTS, params={"visibility": "personal"}, headers=member.headers)
    harbour = await api.client.get(PROJECTS, params={"q": "HARBOUR", "sort": "title"}, headers=member.headers)

    assert sorted(p["title"] for p in assert_success(public)) == ["Harbour crane", "Harbour wall"]
    assert [p["title"] for p in assert_success(personal)] == ["Garden shed"]
    assert [p["title"] for p in assert_success(harbour)] == ["Harbour crane", "Harbour wall"]
    assert harbour.json()["meta"]["total"] == 2


async def test_tasks_list_with_tag_filter_sort_and_paging(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    url = f"{PROJECTS}/{project['id']}/tasks"
    for title, tag in (("c", "qa"), ("a", "site"), ("b", "qa"), ("d", None)):
        await api.create_task(member, project["id"], title=title, tag=tag)

    qa = await api.client.get(url, params={"tag": "qa", "sort": "title"}, headers=member.headers)
    assert [t["title"] for t in assert_success(qa)] == ["b", "c"]
    assert qa.json()["meta"] == {"page": 1, "size": 20, "total": 2, "pages": 1}

    paged = await api.client.get(url, params={"tag": "qa", "sort": "-title", "size": 1}, headers=member.headers)
    assert [t["title"] for t in assert_success(paged)] == ["c"]
    assert links(paged)["next"] == (url, {"tag": "qa", "sort": "-title", "page": "2", "size": "1"})

    nothing = await api.client.get(url, params={"tag": "nope"}, headers=member.headers)
    assert assert_success(nothing) == []
    everything = await api.client.get(url, params={"sort": "title"}, headers=member.headers)
    assert [t["title"] for t in assert_success(everything)] == ["a", "b", "c", "d"]


async def test_deleted_tasks_leave_lists_and_totals(api: Api, member: Member) -> None:
    project = await api.create_project(member)
    keep = await api.create_task(member, project["id"])
    gone = await api.create_task(member, project["id"])

    await api.client.delete(f"/api/v1/tasks/{gone['id']}", headers=member.headers)
    response = await api.client.get(f"{PROJECTS}/{project['id']}/tasks", headers=member.headers)

    assert [t["id"] for t in assert_success(response)] == [keep["id"]]
    assert response.json()["meta"]["total"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "query.page"),
        ({"page": "-1"}, "query.page"),
        ({"page": "abc"}, "query.page"),
        ({"page": "1.5"}, "query.page"),
        ({"size": "0"}, "query.size"),
        ({"size": "101"}, "query.size"),
        ({"size": "ten"}, "query.size"),
        ({"sort": "password"}, "query.sort"),
        ({"sort": "-password_hash"}, "query.sort"),
        ({"sort": "owner_id"}, "query.sort"),
        ({"sort": ""}, "query.sort"),
        ({"visibility": "secret"}, "query.visibility"),
    ],
)
async def test_bad_project_list_parameters_are_422_naming_the_field(
    api: Api, member: Member, params: dict[str, str], field: str
) -> None:
    await api.create_project(member)

    response = await api.client.get(PROJECTS, params=params, headers=member.headers)

    assert_error(response, 422, "validation_error", field=field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "query.page"),
        ({"size": "0"}, "query.size"),
        ({"size": "101"}, "query.size"),
        ({"page": "abc"}, "query.page"),
        ({"sort": "password"}, "query.sort"),
        ({"sort": "project_id"}, "query.sort"),
    ],
)
async def test_bad_task_list_parameters_are_422_naming_the_field(
    api: Api, member: Member, params: dict[str, str], field: str
) -> None:
    project = await api.create_project(member)

    response = await api.client.get(f"{PROJECTS}/{project['id']}/tasks", params=params, headers=member.headers)

    assert_error(response, 422, "validation_error", field=field)


async def test_size_bounds_are_inclusive(api: Api, member: Member) -> None:
    await _projects(api, member, 2)

    smallest = await api.client.get(PROJECTS, params={"size": 1}, headers=member.headers)
    largest = await api.client.get(PROJECTS, params={"size": 100}, headers=member.headers)

    assert smallest.json()["meta"]["pages"] == 2
    assert len(assert_success(largest)) == 2
