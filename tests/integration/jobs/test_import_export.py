"""Import (a job) and export (a stream) over HTTP, on embedded defaults: the in-process queue
runs the import in the app's own process. Every file-level failure leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain.identity import Role
from entrypoints.transfer_formats import MEDIA_TYPES
from tests.integration.http.helpers import Api, Member, running_api

CSV_OK = "title,description,tag,progress,finish_date\r\nDig,the trench,site,40,2030-01-02\r\nPour,,,100,\r\n"


@pytest.fixture
async def api(tmp_path: Any) -> AsyncIterator[Api]:
    async with running_api(
        FILE_STORAGE_ROOT=str(tmp_path), IMPORT_MAX_BYTES="4096", EXPORT_INLINE_MAX_TASKS="2"
    ) as api:
        yield api


async def upload(api: Api, who: Member, project_id: str, name: str, body: bytes, mode: str = "atomic") -> Any:
    return await api.client.post(
        f"/api/v1/projects/{project_id}/import?mode={mode}",
        files={"file": (name, body, "application/octet-stream")},
        headers=who.headers,
    )


async def finished(api: Api, who: Member, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = await api.client.get(f"/api/v1/jobs/{job_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()["data"]
        if job["state"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError("the import never finished")


async def imported(api: Api, who: Member, project_id: str, name: str, body: bytes, mode: str = "atomic") -> Any:
    response = await upload(api, who, project_id, name, body, mode)
    assert response.status_code == 202, response.text
    return await finished(api, who, response.json()["data"]["id"])


def spooled(root: Path) -> list[Path]:
    """The import spools left in the blob store (local disk under FILE_STORAGE_ROOT)."""
    return sorted((root / "imports").glob("*")) if (root / "imports").is_dir() else []


async def test_csv_import_creates_the_tasks_and_the_job_reports_them(api: Api, tmp_path: Path) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Import")
    job = await imported(api, owner, project["id"], "tasks.csv", CSV_OK.encode())
    assert job["state"] == "succeeded"
    assert job["progress"] == 100
    assert job["result"]["accepted"] == 2
    assert job["result"]["errors"] == []
    tasks = await api.stored_tasks(project["id"])
    assert sorted((t.title, t.progress, t.tag) for t in tasks) == [("Dig", 40, "site"), ("Pour", 100, None)]
    assert (await api.stored_project(project["id"])).progress == 70.0
    assert spooled(tmp_path) == []  # the spool went with the job's outcome


async def test_atomic_mode_imports_nothing_when_a_row_is_invalid(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Atomic")
    body = b"title,progress,finish_date\nGood,10,\n,20,\nBad,150,tomorrow\n"
    job = await imported(api, owner, project["id"], "t.csv", body)
    assert job["state"] == "failed"
    assert job["result"]["accepted"] == 0
    assert {(e["line"], e["field"]) for e in job["result"]["errors"]} == {
        (3, "title"),
        (4, "progress"),
        (4, "finish_date"),
    }
    assert await api.stored_tasks(project["id"]) == []


async def test_partial_mode_keeps_the_valid_rows(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Partial")
    body = b"title,progress\nGood,10\n,20\nAlso good,30\n"
    job = await imported(api, owner, project["id"], "t.csv", body, mode="partial")
    assert job["state"] == "succeeded"
    assert job["result"]["accepted"] == 2
    assert job["result"]["rejected"] == 1
    assert job["result"]["errors"] == [{"line": 3, "field": "title", "message": "must not be empty"}]
    assert len(await api.stored_tasks(project["id"])) == 2


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("headers.csv", b"name,progress\nx,1\n", "Wrong headers"),
        ("latin1.csv", "title\nCaf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("truncated.csv", b'title,description\nok,"never closed\n', "truncated or malformed"),
        ("truncated.json", b'[{"title": "a"}, {"title": ', "truncated or malformed"),
        ("truncated.xml", b"<tasks><task><title>a</title></task><task><ti", "truncated or malformed"),
        (
            "laughs.xml",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<tasks><task><title>&lol2;</title></task></tasks>",
            "DTD or entities",
        ),
        (
            "external.xml",
            b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<tasks><task><title>&x;</title></task></tasks>",
            "DTD or entities",
        ),
    ],
)
async def test_a_broken_file_fails_clearly_and_imports_nothing(
    api: Api, tmp_path: Path, name: str, body: bytes, message: str
) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Broken")
    job = await imported(api, owner, project["id"], name, body)
    assert job["state"] == "failed"
    assert message in job["errors"][0]
    assert job["attempts"] == 1  # a bad file is not retried
    assert await api.stored_tasks(project["id"]) == []
    assert spooled(tmp_path) == []


async def test_an_oversized_file_is_refused_with_413(api: Api, tmp_path: Path) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Big")
    body = ("title\n" + "x" * 5000 + "\n").encode()
    response = await upload(api, owner, project["id"], "big.csv", body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "import_too_large"
    assert await api.stored_tasks(project["id"]) == []
    assert spooled(tmp_path) == []  # refused while streaming into the store: nothing kept


async def test_only_the_owner_or_an_admin_may_import_and_read_the_job(api: Api) -> None:
    owner, other = await api.member(), await api.member()
    admin = await api.member(roles=frozenset({Role.ADMIN}))
    project = await api.create_project(owner, title="Mine", visibility="public")
    assert (await upload(api, other, project["id"], "t.csv", CSV_OK.encode())).status_code == 403
    private = await api.create_project(owner, title="Private")
    assert (await upload(api, other, private["id"], "t.csv", CSV_OK.encode())).status_code == 404
    response = await upload(api, owner, project["id"], "t.csv", CSV_OK.encode())
    job_id = response.json()["data"]["id"]
    assert (await api.client.get(f"/api/v1/jobs/{job_id}", headers=other.headers)).status_code == 404
    assert (await api.client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).status_code == 200
    assert (await api.client.get("/api/v1/jobs?state=failed", headers=owner.headers)).status_code == 403
    assert (await api.client.get("/api/v1/jobs/unknown", headers=owner.headers)).status_code == 404


async def test_admins_list_dead_letters_and_retry_them(api: Api) -> None:
    owner = await api.member()
    admin = await api.member(roles=frozenset({Role.ADMIN}))
    project = await api.create_project(owner, title="Dead")
    job = await imported(api, owner, project["id"], "empty.csv", b"")
    listed = await api.client.get("/api/v1/jobs?state=failed", headers=admin.headers)
    assert listed.status_code == 200
    assert [j["id"] for j in listed.json()["data"]] == [job["id"]]
    retried = await api.client.post(f"/api/v1/jobs/{job['id']}/retry", headers=admin.headers)
    assert retried.status_code == 202
    assert retried.json()["data"]["state"] == "queued"
    again = await finished(api, owner, job["id"])
    assert again["state"] == "failed"  # the spooled file is gone once the job had its outcome
    ok_job = await imported(api, owner, project["id"], "t.csv", CSV_OK.encode())
    refused = await api.client.post(f"/api/v1/jobs/{ok_job['id']}/retry", headers=admin.headers)
    assert refused.status_code == 409
    assert (await api.client.post(f"/api/v1/jobs/{job['id']}/retry", headers=owner.headers)).status_code == 403


@pytest.mark.parametrize("fmt", ["csv", "json", "xml"])
async def test_export_streams_what_import_reads_back(api: Api, fmt: str) -> None:
    owner, other = await api.member(), await api.member()
    source = await api.create_project(owner, title="Source")
    await api.create_task(owner, source["id"], title='Quote " and <tag> & comma, here', tag="a", progress=30)
    await api.create_task(owner, source["id"], title="Plain", description="line1\nline2", finish_date="2031-05-06")
    exported = await api.client.get(f"/api/v1/projects/{source['id']}/export?format={fmt}", headers=owner.headers)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"].endswith(f'.{fmt}"')
    if fmt == "json":
        assert len(json.loads(exported.content)) == 2
    target = await api.create_project(owner, title="Target")
    job = await imported(api, owner, target["id"], f"export.{fmt}", exported.content)
    assert job["state"] == "succeeded", job

    def key(t: Any) -> tuple[Any, ...]:
        return (t.title, t.description, t.tag, t.progress, t.finish_date)

    assert sorted(map(key, await api.stored_tasks(target["id"]))) == sorted(
        map(key, await api.stored_tasks(source["id"]))
    )
    assert (
        await api.client.get(f"/api/v1/projects/{source['id']}/export?format={fmt}", headers=other.headers)
    ).status_code == 404


def key(t: Any) -> tuple[Any, ...]:
    return (t.title, t.description, t.tag, t.progress, t.finish_date)


@pytest.mark.parametrize("fmt", ["csv", "json", "xml"])
async def test_a_large_export_is_a_job_whose_download_imports_back(api: Api, tmp_path: Path, fmt: str) -> None:
    owner, other = await api.member(), await api.member()
    admin = await api.member(roles=frozenset({Role.ADMIN}))
    source = await api.create_project(owner, title="Large", visibility="public")
    await api.create_task(owner, source["id"], title='Quote " and <tag> & comma, here', tag="a", progress=30)
    await api.create_task(owner, source["id"], title="Plain", description="line1\nline2", finish_date="2031-05-06")
    await api.create_task(owner, source["id"], title="Third", progress=100)  # 3 > EXPORT_INLINE_MAX_TASKS (2)
    started = await api.client.get(f"/api/v1/projects/{source['id']}/export?format={fmt}", headers=owner.headers)
    assert started.status_code == 202, started.text
    job_id = started.json()["data"]["id"]
    assert started.headers["location"] == f"/api/v1/jobs/{job_id}"
    assert started.json()["data"]["kind"] == "tasks.export"
    job = await finished(api, owner, job_id)
    assert job["state"] == "succeeded", job
    assert job["result"]["tasks"] == 3
    assert job["result"]["download_url"] == f"/api/v1/jobs/{job_id}/download"
    assert (tmp_path / "exports" / f"{job_id}.{fmt}").is_file()
    download = await api.client.get(job["result"]["download_url"], headers=owner.headers)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith(MEDIA_TYPES[fmt])
    assert download.headers["content-disposition"] == f'attachment; filename="project-{source["id"]}.{fmt}"'
    assert download.headers["content-length"] == str(job["result"]["size"])
    # another member sees the public project, but neither the job nor its file; an admin sees both
    assert (await api.client.get(f"/api/v1/jobs/{job_id}", headers=other.headers)).status_code == 404
    hidden = await api.client.get(f"/api/v1/jobs/{job_id}/download", headers=other.headers)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"
    assert (await api.client.get(f"/api/v1/jobs/{job_id}/download", headers=admin.headers)).content == download.content
    target = await api.create_project(owner, title="Target")
    imported_job = await imported(api, owner, target["id"], f"export.{fmt}", download.content)
    assert imported_job["state"] == "succeeded", imported_job
    assert sorted(map(key, await api.stored_tasks(target["id"]))) == sorted(
        map(key, await api.stored_tasks(source["id"]))
    )
    assert spooled(tmp_path) == []


async def test_a_small_export_is_a_job_on_request_and_its_file_expires(api: Api, tmp_path: Path) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Small")
    await api.create_task(owner, project["id"], title="Only")
    inline = await api.client.get(f"/api/v1/projects/{project['id']}/export", headers=owner.headers)
    assert inline.status_code == 200
    assert inline.headers["content-type"].startswith("text/csv")
    started = await api.client.get(
        f"/api/v1/projects/{project['id']}/export?format=json&delivery=job", headers=owner.headers
    )
    assert started.status_code == 202, started.text
    job = await finished(api, owner, started.json()["data"]["id"])
    download = await api.client.get(job["result"]["download_url"], headers=owner.headers)
    assert [t["title"] for t in json.loads(download.content)] == ["Only"]
    blob = tmp_path / "exports" / f"{job['id']}.json"
    long_ago = time.time() - 2 * 24 * 3600  # older than EXPORT_RETENTION_SECONDS (a day by default)
    os.utime(blob, (long_ago, long_ago))
    jobs = api.container.jobs
    assert jobs is not None
    assert (await jobs.transfer.expire())["exports_expired"] == 1
    assert not blob.exists()
    gone = await api.client.get(job["result"]["download_url"], headers=owner.headers)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "export_expired"


async def test_an_unfinished_export_has_no_download_yet(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Waiting")
    jobs = api.container.jobs
    assert jobs is not None
    await jobs.queue.stop_worker(0)  # nobody runs the job: it stays queued
    started = await api.client.get(f"/api/v1/projects/{project['id']}/export?delivery=job", headers=owner.headers)
    assert started.status_code == 202
    early = await api.client.get(f"/api/v1/jobs/{started.json()['data']['id']}/download", headers=owner.headers)
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "export_not_ready"


async def test_export_refuses_a_bad_format_or_delivery_and_imports_have_no_download(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner, title="Params")
    for query in ("format=pdf", "delivery=later"):
        refused = await api.client.get(f"/api/v1/projects/{project['id']}/export?{query}", headers=owner.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "validation_error"
    job = await imported(api, owner, project["id"], "t.csv", CSV_OK.encode())
    assert (await api.client.get(f"/api/v1/jobs/{job['id']}/download", headers=owner.headers)).status_code == 404


async def test_a_spooled_file_is_parsed_in_constant_memory(tmp_path: Path) -> None:
    """8 MiB of CSV read back from the blob store row by row: Python's peak allocation stays far
    below the file's size (the parser holds one chunk and one batch of rows at a time)."""
    import tracemalloc

    from adapters.local.blob import LocalBlobStore
    from entrypoints.transfer_formats import parsed_rows

    store = LocalBlobStore(tmp_path)
    description = "d" * 1000

    async def file() -> AsyncIterator[bytes]:
        yield b"title,description,progress\n"
        for start in range(0, 8000, 500):
            yield "".join(f"Task {n},{description},{n % 101}\n" for n in range(start, start + 500)).encode()

    size = await store.put("imports/big", file(), 64 * 1024 * 1024)
    assert size > 8_000_000
    tracemalloc.start()
    try:
        count = 0
        async with parsed_rows("csv", await store.read("imports/big"), size) as (rows, fraction):
            async for _line, row in rows:
                count += 1
                assert len(row["description"]) == 1000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 8000
    assert fraction() == 1.0
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte file"
