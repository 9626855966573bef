"""In-memory ``FileRepository``: copies in, copies out, conditional updates, soft deletes."""

from __future__ import annotations

import copy
from datetime import datetime

from domain.errors import Conflict, NotFound, VersionConflict
from domain.files import FileState, StoredFile


class MemoryFileRepository:
    def __init__(self) -> None:
        self._rows: dict[str, StoredFile] = {}

    async def add(self, stored: StoredFile) -> None:
        if stored.id in self._rows:
            raise Conflict("A record with this id already exists.")
        self._rows[stored.id] = copy.deepcopy(stored)

    async def get(self, file_id: str) -> StoredFile | None:
        row = self._rows.get(file_id)
        return None if row is None or row.deleted_at is not None else copy.deepcopy(row)

    async def update(self, stored: StoredFile, expected_version: int) -> StoredFile:
        current = self._rows.get(stored.id)
        if current is None or current.deleted_at is not None:
            raise NotFound()
        if current.version != expected_version:
            raise VersionConflict()
        record = copy.deepcopy(stored)
        record.version = expected_version + 1
        self._rows[record.id] = record
        return copy.deepcopy(record)

    async def list_stale_uploads(self, started_before: datetime) -> list[StoredFile]:
        return [
            copy.deepcopy(row)
            for row in sorted(self._rows.values(), key=lambda r: r.id)
            if row.deleted_at is None and row.state is FileState.UPLOADING and row.created_at < started_before
        ]

    async def list_deleted(self, deleted_before: datetime, limit: int) -> list[StoredFile]:
        doomed = [row for row in self._rows.values() if row.deleted_at is not None and row.deleted_at < deleted_before]
        doomed.sort(key=lambda r: (r.deleted_at, r.id))
        return [copy.deepcopy(row) for row in doomed[: max(limit, 0)]]

    async def purge(self, file_id: str) -> bool:
        row = self._rows.get(file_id)
        if row is None or row.deleted_at is None:
            return False
        del self._rows[file_id]
        return True
