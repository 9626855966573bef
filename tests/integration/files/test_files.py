"""Uploads, downloads, deletion and bad input over HTTP; each refusal leaves nothing stored."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from tests.integration.http.helpers import Api, assert_error, assert_success

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(4000)
PDF = b"%PDF-1.4\n" + os.urandom(3000)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def stored_blobs(api: Api) -> list[Path]:
    root = Path(api.container.settings.file_storage_root)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def upload(api: Api, headers: dict[str, str], name: str, data: bytes, **form: str):  # type: ignore[no-untyped-def]
    return await api.client.post(
        "/api/v1/files", files={"file": (name, data, "image/png")}, data=form or None, headers=headers
    )


async def test_upload_download_range_delete(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner)
    task = await api.create_task(owner, project["id"])
    created = await upload(api, owner.headers, "photo ü.png", PNG, task_id=task["id"])
    data = assert_success(created, 201)
    assert created.headers["location"] == f"/api/v1/files/{data['id']}"
    assert data["content_type"] == "image/png"
    assert data["size"] == len(PNG)
    assert data["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert data["name"] == "photo ü.png"
    [blob] = stored_blobs(api)
    assert blob.relative_to(Path(api.container.settings.file_storage_root)).parts == (
        owner.user_id,
        project["id"],
        data["id"],
    )
    got = await api.client.get(data["download_url"], headers=owner.headers)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''photo%20%C3%BC.png" in got.headers["content-disposition"]
    assert got.headers["accept-ranges"] == "bytes"
    assert got.headers["etag"] == f'"{data["sha256"]}"'
    part = await api.client.get(data["download_url"], headers={**owner.headers, "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == PNG[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(PNG)}"
    beyond = await api.client.get(data["download_url"], headers={**owner.headers, "Range": f"bytes={len(PNG)}-"})
    assert_error(beyond, 416, "range_not_satisfiable")
    stranger = await api.member()
    assert_error(await api.client.get(data["download_url"], headers=stranger.headers), 404, "not_found")
    assert_error(await api.client.get(f"/api/v1/files/{data['id']}", headers=stranger.headers), 404, "not_found")
    deleted = await api.client.delete(f"/api/v1/files/{data['id']}", headers=owner.headers)
    assert assert_success(deleted) is None
    assert_error(await api.client.get(data["download_url"], headers=owner.headers), 404, "not_found")
    assert stored_blobs(api) == []  # removed by the background task after the response


async def test_a_file_of_a_deleted_task_is_gone(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner)
    task = await api.create_task(owner, project["id"])
    data = assert_success(await upload(api, owner.headers, "a.png", PNG, task_id=task["id"]), 201)
    assert (await api.client.delete(f"/api/v1/tasks/{task['id']}", headers=owner.headers)).status_code == 200
    assert_error(await api.client.get(data["download_url"], headers=owner.headers), 404, "not_found")


async def test_pdf_renamed_png_is_a_pdf(api: Api) -> None:
    owner = await api.member()
    data = assert_success(await upload(api, owner.headers, "report.png", PDF), 201)
    assert data["content_type"] == "application/pdf"


async def test_bad_uploads_store_nothing(api: Api) -> None:
    owner = await api.member()
    other = await api.member()
    theirs = await api.create_task(other, (await api.create_project(other))["id"])
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024)
    assert_error(await upload(api, owner.headers, "big.png", big), 413, "file_too_large")
    assert_error(await upload(api, owner.headers, "page.png", HTML), 415, "unsupported_media_type")
    assert_error(await upload(api, owner.headers, "empty.png", b""), 422, "validation_error")
    assert_error(await upload(api, owner.headers, "../../etc/passwd", PNG), 422, "validation_error")
    # httpx escapes a NUL in a file name, so this multipart body is written by hand
    boundary = "trellis-boundary"
    raw = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a\x00b.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    nul = await api.client.post(
        "/api/v1/files",
        content=raw,
        headers={**owner.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert nul.status_code in (400, 422), nul.text
    assert_error(await upload(api, owner.headers, "a.png", PNG, task_id="no-such-task"), 404, "not_found")
    assert_error(await upload(api, owner.headers, "a.png", PNG, task_id=theirs["id"]), 404, "not_found")
    no_file = await api.client.post("/api/v1/files", files={"other": ("a.png", PNG)}, headers=owner.headers)
    assert_error(no_file, 422, "validation_error")
    two = await api.client.post(
        "/api/v1/files", files=[("file", ("a.png", PNG)), ("file", ("b.png", PNG))], headers=owner.headers
    )
    assert_error(two, 422, "validation_error")
    assert stored_blobs(api) == []


def digest(data: bytes) -> dict[str, str]:
    return {"Content-Digest": f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"}


async def test_chunked_50_mb_with_a_retry_and_a_resume(api: Api) -> None:
    owner = await api.member()
    size, part_size = 50 * 1024 * 1024, 8 * 1024 * 1024
    data = b"%PDF-1.7\n" + os.urandom(size - 9)
    started = await api.client.post(
        "/api/v1/files/uploads",
        json={"name": "big.pdf", "size": size, "part_size": part_size},
        headers=owner.headers,
    )
    upload_id = assert_success(started, 201)["id"]
    parts = {n: data[(n - 1) * part_size : n * part_size] for n in range(1, 8)}
    base = f"/api/v1/files/uploads/{upload_id}"
    for n in (3, 1):  # out of order
        sent = await api.client.put(
            f"{base}/parts/{n}", content=parts[n], headers={**owner.headers, **digest(parts[n])}
        )
        assert_success(sent)
    corrupted = await api.client.put(
        f"{base}/parts/2", content=parts[2][:-1] + b"x", headers={**owner.headers, **digest(parts[2])}
    )
    assert_error(corrupted, 422, "validation_error")
    # the client "crashes"; on restart it asks what arrived and sends the rest (part 1 again too)
    status = assert_success(await api.client.get(base, headers=owner.headers))
    assert status["received_parts"] == [1, 3]
    assert status["missing_parts"] == [2, 4, 5, 6, 7]
    for n in [1, *status["missing_parts"]]:
        sent = await api.client.put(
            f"{base}/parts/{n}", content=parts[n], headers={**owner.headers, **digest(parts[n])}
        )
        assert_success(sent)
    done = assert_success(await api.client.post(f"{base}/complete", headers=owner.headers), 201)
    assert done["size"] == size
    assert done["content_type"] == "application/pdf"
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    got = await api.client.get(done["download_url"], headers={**owner.headers, "Range": "bytes=-100"})
    assert got.status_code == 206
    assert got.content == data[-100:]


async def test_chunked_bad_parts(api: Api) -> None:
    owner = await api.member()
    started = await api.client.post(
        "/api/v1/files/uploads", json={"name": "x.png", "size": 100_000, "part_size": 65536}, headers=owner.headers
    )
    base = f"/api/v1/files/uploads/{assert_success(started, 201)['id']}"
    empty = await api.client.put(f"{base}/parts/1", content=b"", headers={**owner.headers, **digest(b"")})
    assert_error(empty, 422, "validation_error")
    # the part's number and size depend on the upload (state), not on the request alone: 409
    out = await api.client.put(f"{base}/parts/3", content=b"a", headers={**owner.headers, **digest(b"a")})
    assert_error(out, 409, "part_mismatch")
    larger = b"a" * 40_000  # the last part may only be 100000 - 65536 bytes
    too_big = await api.client.put(f"{base}/parts/2", content=larger, headers={**owner.headers, **digest(larger)})
    assert_error(too_big, 409, "part_mismatch")
    assert_error(await api.client.post(f"{base}/complete", headers=owner.headers), 409, "upload_incomplete")
    html = HTML.ljust(65536, b" ")
    rest = b" " * (100_000 - 65536)
    await api.client.put(f"{base}/parts/1", content=html, headers={**owner.headers, **digest(html)})
    await api.client.put(f"{base}/parts/2", content=rest, headers={**owner.headers, **digest(rest)})
    assert_error(await api.client.post(f"{base}/complete", headers=owner.headers), 415, "unsupported_media_type")
    assert stored_blobs(api) == []


async def test_files_on_posts_follow_the_post(api: Api) -> None:
    from datetime import UTC, datetime

    from domain.content import Post

    author = await api.member()
    other = await api.member()
    owner_project = await api.create_project(author)  # personal: only the author sees it
    now = datetime.now(UTC)
    post = Post(id="post-1", author_id=author.user_id, title="Site visit", created_at=now, updated_at=now)
    private = Post(
        id="post-2",
        author_id=author.user_id,
        title="Private",
        project_id=owner_project["id"],
        created_at=now,
        updated_at=now,
    )
    await api.container.ports.uow.posts.add(post)
    await api.container.ports.uow.posts.add(private)
    on_post = assert_success(await upload(api, author.headers, "a.png", PNG, post_id="post-1"), 201)
    assert on_post["post_id"] == "post-1"
    assert (await api.client.get(on_post["download_url"], headers=other.headers)).status_code == 200
    on_private = assert_success(await upload(api, author.headers, "b.png", PNG, post_id="post-2"), 201)
    assert_error(await api.client.get(on_private["download_url"], headers=other.headers), 404, "not_found")
    assert_error(await upload(api, other.headers, "c.png", PNG, post_id="post-1"), 403, "forbidden")
    assert_error(await upload(api, other.headers, "c.png", PNG, post_id="post-2"), 404, "not_found")
    both = await upload(api, author.headers, "d.png", PNG, post_id="post-1", task_id="x")
    assert_error(both, 422, "validation_error")
    assert len(stored_blobs(api)) == 2


async def test_abandoned_uploads_are_dropped_after_a_day(tmp_path: Path) -> None:
    from datetime import timedelta

    from adapters.memory.clock import FixedClock
    from tests.integration.http.helpers import running_api

    clock = FixedClock()
    async with running_api(clock=clock, FILE_STORAGE_ROOT=str(tmp_path / "files")) as api:
        owner = await api.member()
        body = {"name": "x.pdf", "size": 100_000, "part_size": 65536}
        first = assert_success(await api.client.post("/api/v1/files/uploads", json=body, headers=owner.headers), 201)
        part = b"%PDF-1.4" + b"\0" * (65536 - 8)
        sent = await api.client.put(
            f"/api/v1/files/uploads/{first['id']}/parts/1", content=part, headers={**owner.headers, **digest(part)}
        )
        assert_success(sent)
        assert len(stored_blobs(api)) == 1
        clock.advance(timedelta(hours=25))
        again = assert_success(await api.login(owner.email))
        owner.headers = {"Authorization": f"Bearer {again['access_token']}"}
        assert_success(await api.client.post("/api/v1/files/uploads", json=body, headers=owner.headers), 201)
        gone = await api.client.get(f"/api/v1/files/uploads/{first['id']}", headers=owner.headers)
        assert_error(gone, 404, "not_found")
        assert stored_blobs(api) == []


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body with its parts in exactly this order (httpx puts fields before files)."""
    boundary = "trellis-order-test"
    body = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def test_a_task_or_post_named_after_the_file_still_attaches_it(api: Api) -> None:
    # found by schemathesis: `file` first, then `task_id` was a 422 "send it before the file field";
    # OpenAPI cannot state an order of parts, and a client owes none, so a late field attaches too
    owner = await api.member()
    project = await api.create_project(owner)
    task = await api.create_task(owner, project["id"])
    body, content_type = _multipart([("file", "late.png", PNG), ("task_id", None, task["id"].encode())])
    created = await api.client.post(
        "/api/v1/files", content=body, headers={**owner.headers, "Content-Type": content_type}
    )
    data = assert_success(created, 201)
    assert data["task_id"] == task["id"]
    [blob] = stored_blobs(api)  # moved under the task's project, nothing left behind
    assert blob.relative_to(Path(api.container.settings.file_storage_root)).parts == (
        owner.user_id,
        project["id"],
        data["id"],
    )
    got = await api.client.get(data["download_url"], headers=owner.headers)
    assert got.content == PNG
    # a late field is checked as an early one is: someone else's task is a 404, and nothing is kept
    stranger = await api.member()
    body, content_type = _multipart([("file", "x.png", PNG), ("task_id", None, task["id"].encode())])
    refused = await api.client.post(
        "/api/v1/files", content=body, headers={**stranger.headers, "Content-Type": content_type}
    )
    assert_error(refused, 404, "not_found")
    both = [("task_id", None, task["id"].encode()), ("file", "y.png", PNG), ("post_id", None, b"p")]
    body, content_type = _multipart(both)
    headers = {**owner.headers, "Content-Type": content_type}
    refused = await api.client.post("/api/v1/files", content=body, headers=headers)
    assert_error(refused, 422, "validation_error", "body.post_id")
    assert len(stored_blobs(api)) == 1
