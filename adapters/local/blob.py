"""``BlobStore`` on local disk: the embedded default.

Blobs live under a root directory (keep it outside the code tree): ``<root>/<key>``, written
with mode 0600 (directories 0700) to a temporary name and renamed into place, so a reader
never sees a partial file. Staged blocks of a chunked upload are part files under
``<root>/<key>.parts/``. Keys are checked: only ``[A-Za-z0-9._-]`` segments, no ``..``.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path

from domain.errors import NotFound
from domain.ports import BlobTooLarge

READ_CHUNK = 64 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


class LocalBlobStore:
    def __init__(self, root: str | Path) -> None:
        self._root = Path(root).resolve()

    # --- paths ---------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        segments = key.split("/")
        if not segments or any(not _SEGMENT.match(s) or s.endswith(".parts") for s in segments):
            raise ValueError(f"invalid blob key {key!r}")
        return self._root.joinpath(*segments)

    def _parts(self, key: str) -> Path:
        path = self._path(key)
        return path.with_name(path.name + ".parts")

    def _mkdirs(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    # --- whole blobs -----------------------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        target = self._path(key)
        await asyncio.to_thread(self._mkdirs, target.parent)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        fd = await asyncio.to_thread(os.open, temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(key)
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(handle.flush)
                await asyncio.to_thread(os.fsync, handle.fileno())
            await asyncio.to_thread(os.replace, temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return size

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFound("The blob does not exist.") from None
        return _chunks(handle, offset, length)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
        await asyncio.to_thread(shutil.rmtree, self._parts(key), True)

    # --- chunked uploads -------------------------------------------------------------------

    async def stage_block(self, key: str, number: int, data: bytes) -> None:
        if number < 1:
            raise ValueError("block numbers start at 1")
        parts = self._parts(key)
        await asyncio.to_thread(self._mkdirs, parts)
        await asyncio.to_thread(_write_atomically, parts / f"{number:08d}", data)

    async def staged_blocks(self, key: str) -> dict[int, int]:
        def scan() -> dict[int, int]:
            parts = self._parts(key)
            if not parts.is_dir():
                return {}
            return {int(p.name): p.stat().st_size for p in parts.iterdir() if p.name.isdigit()}

        return await asyncio.to_thread(scan)

    async def commit_blocks(self, key: str, numbers: Sequence[int]) -> int:
        target, parts = self._path(key), self._parts(key)

        def join() -> int:
            sources = [parts / f"{n:08d}" for n in numbers]
            for source in sources:
                if not source.is_file():
                    raise NotFound(f"Block {source.name} is not staged.")
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            size = 0
            try:
                with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                    for source in sources:
                        with source.open("rb") as part:
                            size += _copy(part, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            shutil.rmtree(parts, ignore_errors=True)
            return size

        return await asyncio.to_thread(join)

    async def read_url(self, key: str, *, expires_in_seconds: int, filename: str, content_type: str) -> str | None:
        return None  # local disk has no presigned URLs: downloads go through the API

    async def older_than(self, prefix: str, before: datetime) -> AsyncIterator[str]:
        directory = self._path(prefix.rstrip("/")) if prefix.strip("/") else self._root
        cutoff = before.timestamp()

        def scan() -> list[str]:
            if not directory.is_dir():
                return []
            found = []
            for path in directory.rglob("*"):
                relative = path.relative_to(self._root)
                if any(p.startswith(".") or p.endswith(".parts") for p in relative.parts):
                    continue  # temporary files of a put in progress, staged blocks
                if path.is_file() and path.stat().st_mtime < cutoff:
                    found.append(relative.as_posix())
            return sorted(found)

        for key in await asyncio.to_thread(scan):
            yield key

    async def ping(self) -> None:
        await asyncio.to_thread(self._mkdirs, self._root)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _copy(source: object, target: object) -> int:
    size = 0
    while chunk := source.read(1024 * 1024):  # type: ignore[attr-defined]
        target.write(chunk)  # type: ignore[attr-defined]
        size += len(chunk)
    return size


class _Chunks:
    """The chunks of an open file; ``aclose`` closes the file even before the first chunk was read
    (an async generator's ``aclose`` would not run its ``finally`` then)."""

    def __init__(self, handle: io.BufferedReader, offset: int, length: int | None) -> None:
        self._handle = handle
        self._offset = offset
        self._remaining = length

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            if self._offset:
                await asyncio.to_thread(self._handle.seek, self._offset)
                self._offset = 0
            if self._handle.closed or (self._remaining is not None and self._remaining <= 0):
                self._handle.close()
                raise StopAsyncIteration
            wanted = READ_CHUNK if self._remaining is None else min(READ_CHUNK, self._remaining)
            chunk = await asyncio.to_thread(self._handle.read, wanted)
        except BaseException:
            self._handle.close()
            raise
        if not chunk:
            self._handle.close()
            raise StopAsyncIteration
        if self._remaining is not None:
            self._remaining -= len(chunk)
        return chunk

    async def aclose(self) -> None:
        self._handle.close()


def _chunks(handle: object, offset: int, length: int | None) -> AsyncIterator[bytes]:
    assert isinstance(handle, io.BufferedReader)
    return _Chunks(handle, offset, length)
