"""The BlobStore contract, run against local disk and Azure Blob Storage (Azurite)."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from adapters.azure.blob import AzureBlobStore
from adapters.local.blob import LocalBlobStore
from domain.errors import NotFound
from domain.ports import BlobStore, BlobTooLarge
from tests.support.azurite import azurite_connection_string


@pytest.fixture(scope="module")
def azurite() -> Iterator[str]:
    with azurite_connection_string() as value:
        yield value


@pytest.fixture(params=["local", "azure"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    connection = request.getfixturevalue("azurite")
    azure = AzureBlobStore.from_connection_string(connection, f"t{uuid.uuid4().hex[:20]}")
    await azure.ensure_container()
    try:
        yield azure
    finally:
        await azure.close()


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(store: BlobStore, key: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in await store.read(key, offset, length)])


async def test_put_then_read_whole_and_ranges(store: BlobStore) -> None:
    data = os.urandom(300_000)
    size = await store.put("u1/p1/f1", chunks_of(data[:1000], data[1000:]), max_bytes=1_000_000)
    assert size == len(data)
    assert await store.size("u1/p1/f1") == len(data)
    assert await read_all(store, "u1/p1/f1") == data
    assert await read_all(store, "u1/p1/f1", 10, 20) == data[10:30]
    assert await read_all(store, "u1/p1/f1", 299_990) == data[299_990:]


async def test_large_streams_are_stored_in_blocks(store: BlobStore) -> None:
    data = os.urandom(9 * 1024 * 1024 + 7)
    pieces = [data[i : i + 1024 * 1024] for i in range(0, len(data), 1024 * 1024)]
    assert await store.put("u1/p1/big", chunks_of(*pieces), max_bytes=len(data)) == len(data)
    assert await read_all(store, "u1/p1/big") == data


async def test_too_large_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(BlobTooLarge):
        await store.put("u1/p1/f2", chunks_of(b"a" * 600, b"b" * 600), max_bytes=1000)
    assert await store.size("u1/p1/f2") is None
    with pytest.raises(NotFound):
        await store.read("u1/p1/f2")


async def test_a_failing_stream_leaves_nothing(store: BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 100
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await store.put("u1/p1/f3", broken(), max_bytes=1000)
    assert await store.size("u1/p1/f3") is None


async def test_delete_is_idempotent(store: BlobStore) -> None:
    await store.put("u1/p1/f4", chunks_of(b"data"), max_bytes=10)
    await store.delete("u1/p1/f4")
    await store.delete("u1/p1/f4")
    assert await store.size("u1/p1/f4") is None


async def test_blocks_staged_out_of_order_retried_and_committed(store: BlobStore) -> None:
    key = "u1/p1/chunked"
    await store.stage_block(key, 2, b"BBBB")
    await store.stage_block(key, 1, b"xxxx")
    await store.stage_block(key, 1, b"AAAA")  # a retry replaces the block
    await store.stage_block(key, 3, b"CC")
    assert await store.staged_blocks(key) == {1: 4, 2: 4, 3: 2}
    assert await store.size(key) is None  # nothing readable before the commit
    assert await store.commit_blocks(key, [1, 2, 3]) == 10
    assert await read_all(store, key) == b"AAAABBBBCC"
    assert await store.staged_blocks(key) == {}


async def test_committing_a_missing_block_fails(store: BlobStore) -> None:
    await store.stage_block("u1/p1/gap", 1, b"A")
    with pytest.raises(NotFound):
        await store.commit_blocks("u1/p1/gap", [1, 2])


async def test_delete_drops_staged_blocks(store: BlobStore) -> None:
    await store.stage_block("u1/p1/abandoned", 1, b"A")
    await store.delete("u1/p1/abandoned")
    assert await store.staged_blocks("u1/p1/abandoned") == {}
    assert await store.size("u1/p1/abandoned") is None


async def test_read_url_is_read_only_and_works_where_supported(store: BlobStore) -> None:
    await store.put("u1/p1/shared", chunks_of(b"%PDF-1.4 hello"), max_bytes=100)
    url = await store.read_url(
        "u1/p1/shared", expires_in_seconds=60, filename="report ü.pdf", content_type="application/pdf"
    )
    if isinstance(store, LocalBlobStore):
        assert url is None
        return
    assert url is not None
    async with httpx.AsyncClient() as client:
        got = await client.get(url)
        assert got.status_code == 200
        assert got.content == b"%PDF-1.4 hello"
        assert got.headers["content-type"] == "application/pdf"
        assert "attachment" in got.headers["content-disposition"]
        refused = await client.put(url, content=b"overwrite", headers={"x-ms-blob-type": "BlockBlob"})
        assert refused.status_code == 403


async def test_local_files_are_private_and_keys_are_checked(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    await store.put("u1/p1/f", chunks_of(b"data"), max_bytes=10)
    mode = stat.S_IMODE((tmp_path / "blobs" / "u1" / "p1" / "f").stat().st_mode)
    assert mode == 0o600
    for bad in ("../escape", "u1/../../x", "/abs", "u1//x"):
        with pytest.raises(ValueError, match="invalid blob key"):
            await store.put(bad, chunks_of(b"x"), max_bytes=10)


async def test_older_than_lists_whole_blobs_under_a_prefix_written_before_a_time(store: BlobStore) -> None:
    from datetime import UTC, datetime, timedelta

    await store.put("exports/a.csv", chunks_of(b"a"), max_bytes=10)
    await store.put("exports/b.json", chunks_of(b"b"), max_bytes=10)
    await store.put("imports/c", chunks_of(b"c"), max_bytes=10)
    await store.stage_block("exports/staged", 1, b"not a blob yet")
    soon, past = datetime.now(UTC) + timedelta(minutes=5), datetime.now(UTC) - timedelta(hours=1)
    assert sorted([key async for key in store.older_than("exports/", soon)]) == ["exports/a.csv", "exports/b.json"]
    assert [key async for key in store.older_than("exports/", past)] == []
    assert [key async for key in store.older_than("nothing/", soon)] == []
    async for key in store.older_than("exports/", soon):  # deleting while iterating is safe
        await store.delete(key)
    assert [key async for key in store.older_than("exports/", soon)] == []
    assert await store.size("imports/c") == 1
