"""Files over HTTP with blobs on Azure Blob Storage (Azurite): SAS redirect, chunked upload, deletion."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.integration.http.conftest import never_a_500
from tests.integration.http.helpers import Api, assert_error, assert_success, running_api
from tests.support.azurite import azurite_connection_string

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(5000)


@pytest.fixture(scope="module")
def azurite() -> Iterator[str]:
    with azurite_connection_string() as value:
        yield value


@pytest.fixture
async def api(azurite: str) -> AsyncIterator[Api]:
    container = f"files{os.urandom(6).hex()}"
    async with (
        running_api(AZURE_STORAGE_CONNECTION_STRING=azurite, AZURE_STORAGE_CONTAINER=container) as value,
        never_a_500(value),
    ):
        yield value


def digest(data: bytes) -> dict[str, str]:
    return {"Content-Digest": f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"}


async def test_upload_redirect_to_sas_and_delete(api: Api) -> None:
    owner = await api.member()
    project = await api.create_project(owner)
    task = await api.create_task(owner, project["id"])
    created = await api.client.post(
        "/api/v1/files", files={"file": ("x.png", PNG)}, data={"task_id": task["id"]}, headers=owner.headers
    )
    data = assert_success(created, 201)
    proxied = await api.client.get(data["download_url"], headers=owner.headers)
    assert proxied.content == PNG
    moved = await api.client.get(f"{data['download_url']}?redirect=1", headers=owner.headers, follow_redirects=False)
    assert moved.status_code == 307, moved.text
    sas = moved.headers["location"]
    assert "sig=" in sas
    assert "sp=r" in sas
    async with httpx.AsyncClient() as outside:
        direct = await outside.get(sas)
        assert direct.status_code == 200
        assert direct.content == PNG
        assert direct.headers["content-type"] == "image/png"
        stranger = await api.member()
        hidden = await api.client.get(f"{data['download_url']}?redirect=1", headers=stranger.headers)
        assert_error(hidden, 404, "not_found")
        assert (await api.client.delete(f"/api/v1/files/{data['id']}", headers=owner.headers)).status_code == 200
        for _ in range(50):  # the blob goes in a background task after the response
            if (await outside.get(sas)).status_code == 404:
                break
            await asyncio.sleep(0.05)
        assert (await outside.get(sas)).status_code == 404


async def test_chunked_upload_on_azure_with_resume(api: Api) -> None:
    owner = await api.member()
    size, part_size = 3 * 1024 * 1024 + 123, 1024 * 1024
    data = b"%PDF-1.5\n" + os.urandom(size - 9)
    started = await api.client.post(
        "/api/v1/files/uploads", json={"name": "scan.pdf", "size": size, "part_size": part_size}, headers=owner.headers
    )
    base = f"/api/v1/files/uploads/{assert_success(started, 201)['id']}"
    parts = {n: data[(n - 1) * part_size : n * part_size] for n in range(1, 5)}
    for n in (4, 2):
        assert_success(
            await api.client.put(f"{base}/parts/{n}", content=parts[n], headers={**owner.headers, **digest(parts[n])})
        )
    status = assert_success(await api.client.get(base, headers=owner.headers))
    assert status["missing_parts"] == [1, 3]
    for n in (2, 1, 3):  # part 2 again: a retry replaces it
        assert_success(
            await api.client.put(f"{base}/parts/{n}", content=parts[n], headers={**owner.headers, **digest(parts[n])})
        )
    done = assert_success(await api.client.post(f"{base}/complete", headers=owner.headers), 201)
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    assert done["content_type"] == "application/pdf"
    got = await api.client.get(done["download_url"], headers={**owner.headers, "Range": "bytes=1048570-1048580"})
    assert got.status_code == 206
    assert got.content == data[1048570:1048581]
