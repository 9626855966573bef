"""Files: validated uploads streamed to the BlobStore, attachments, guarded reads, chunked uploads."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.common import EventBuffer, Ports
from domain.board import can_change_project, ensure_changeable, ensure_visible
from domain.content import ensure_post_changeable, ensure_post_visible
from domain.errors import DependencyUnavailable, FieldProblem, Forbidden, NotFound, ValidationFailed
from domain.files import (
    SNIFF_BYTES,
    ByteRange,
    FileState,
    FileTooLarge,
    PartMismatch,
    StoredFile,
    UploadIncomplete,
    ensure_allowed_type,
    sanitise_name,
    storage_key,
)
from domain.identity import Principal
from domain.ports import BlobStore, BlobTooLarge, ContentSniffer, FileRepository

logger = logging.getLogger("trellis.files")

FILE_UPLOADED = "file.uploaded"
FILE_DELETED = "file.deleted"
HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileLimits:
    max_bytes: int = 5 * 1024 * 1024
    allowed_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
    chunked_max_bytes: int = 1024 * 1024 * 1024
    part_size: int = 8 * 1024 * 1024
    min_part_size: int = 64 * 1024
    read_url_seconds: int = 300
    upload_ttl: timedelta = timedelta(hours=24)


@dataclass(slots=True)
class PendingFile:
    """A blob stored but not yet recorded: the HTTP layer commits it once the request is whole."""

    record: StoredFile


class FileService:
    def __init__(
        self, ports: Ports, files: FileRepository, blobs: BlobStore, sniffer: ContentSniffer, limits: FileLimits
    ) -> None:
        self._ports = ports
        self._files = files
        self._blobs = blobs
        self._sniffer = sniffer
        self.limits = limits

    # --- attachments and visibility --------------------------------------------------------

    async def _attach_to(
        self, principal: Principal, task_id: str | None, post_id: str | None = None
    ) -> tuple[str | None, str | None]:
        """(project id, storage scope) of what the file goes on: a task of a project the caller
        may change, or a post the caller may change (its author, or an admin); NotFound/Forbidden
        otherwise. The scope is the project (task) or the post: ``<owner>/<scope>/<file id>``."""
        if task_id is not None and post_id is not None:
            raise ValidationFailed([FieldProblem("body.post_id", "attach a file to a task or to a post, not both")])
        uow = self._ports.uow
        if post_id is not None:
            post = await uow.posts.get(post_id)
            project = None if post is None or post.project_id is None else await uow.projects.get(post.project_id)
            attached = ensure_post_changeable(principal, post, project)
            return attached.project_id, attached.id
        if task_id is None:
            return None, None
        task = await uow.tasks.get(task_id)
        if task is None:
            raise NotFound("The task does not exist.")
        try:
            project = ensure_visible(principal, await uow.projects.get(task.project_id))
        except NotFound:
            raise NotFound("The task does not exist.") from None
        ensure_changeable(principal, project)
        return project.id, project.id

    async def _visible(self, principal: Principal, stored: StoredFile | None) -> StoredFile:
        if stored is None or stored.state is not FileState.READY:
            raise NotFound("The file does not exist.")
        if stored.post_id is not None:
            uow = self._ports.uow
            post = await uow.posts.get(stored.post_id)
            project = None if post is None or post.project_id is None else await uow.projects.get(post.project_id)
            try:
                ensure_post_visible(principal, post, project)
            except NotFound:
                raise NotFound("The file does not exist.") from None
        elif stored.task_id is not None:
            uow = self._ports.uow
            task = await uow.tasks.get(stored.task_id)
            project = None if task is None else await uow.projects.get(task.project_id)
            try:
                ensure_visible(principal, project)
            except NotFound:
                raise NotFound("The file does not exist.") from None
        elif not (principal.is_admin or stored.owner_id == principal.user_id):
            raise NotFound("The file does not exist.")
        return stored

    async def get(self, principal: Principal, file_id: str) -> StoredFile:
        return await self._visible(principal, await self._files.get(file_id))

    # --- single-request uploads ------------------------------------------------------------

    async def upload(
        self,
        principal: Principal,
        filename: str | None,
        chunks: AsyncIterator[bytes],
        task_id: str | None,
        post_id: str | None = None,
    ) -> PendingFile:
        """Sniff, stream to the store within the limit, hash. Nothing is recorded yet."""
        if not principal.can_create:
            raise Forbidden("Guests can read files but upload none.")
        name = sanitise_name(filename)
        project_id, scope = await self._attach_to(principal, task_id, post_id)
        head = bytearray()
        async for chunk in chunks:
            head.extend(chunk)
            if len(head) >= SNIFF_BYTES:
                break
        if not head:
            raise ValidationFailed([FieldProblem("body.file", "the file is empty")])
        if len(head) > self.limits.max_bytes:
            raise FileTooLarge(f"The file is larger than {self.limits.max_bytes} bytes.")
        content_type = ensure_allowed_type(self._sniffer.sniff(bytes(head)), self.limits.allowed_types)
        digest = hashlib.sha256()

        async def hashed() -> AsyncIterator[bytes]:
            digest.update(head)
            yield bytes(head)
            async for chunk in chunks:
                digest.update(chunk)
                yield chunk

        file_id = self._ports.ids.new_id()
        key = storage_key(principal.user_id, scope, file_id)
        try:
            size = await self._blobs.put(key, hashed(), self.limits.max_bytes)
        except BlobTooLarge:
            raise FileTooLarge(f"The file is larger than {self.limits.max_bytes} bytes.") from None
        now = self._ports.clock.now()
        record = StoredFile(
            id=file_id,
            owner_id=principal.user_id,
            name=name,
            content_type=content_type,
            size=size,
            sha256=digest.hexdigest(),
            storage_key=key,
            task_id=task_id,
            project_id=project_id,
            post_id=post_id,
            created_at=now,
            updated_at=now,
        )
        return PendingFile(record)

    async def attach_late(
        self, principal: Principal, pending: PendingFile, task_id: str | None, post_id: str | None
    ) -> PendingFile:
        """Attach a file whose task or post was named after its bytes (a multipart body's parts may
        come in any order): checked as ``upload`` checks it, then the blob moves under that scope."""
        record = pending.record
        project_id, scope = await self._attach_to(principal, task_id, post_id)
        key = storage_key(principal.user_id, scope, record.id)
        if key != record.storage_key:
            try:
                await self._blobs.put(key, await self._blobs.read(record.storage_key), self.limits.max_bytes)
            except BaseException:
                await self._blobs.delete(key)
                raise
            await self._blobs.delete(record.storage_key)
            record.storage_key = key
        record.task_id, record.post_id, record.project_id = task_id, post_id, project_id
        return pending

    async def commit(self, principal: Principal, pending: PendingFile) -> StoredFile:
        try:
            await self._files.add(pending.record)
        except BaseException:
            await self.discard(pending)
            raise
        await self._published(principal, FILE_UPLOADED, pending.record)
        return pending.record

    async def discard(self, pending: PendingFile) -> None:
        await self._blobs.delete(pending.record.storage_key)

    async def _published(self, principal: Principal, name: str, stored: StoredFile) -> None:
        buffer = EventBuffer(self._ports, principal.user_id)
        buffer.record(
            name,
            {"file_id": stored.id, "task_id": stored.task_id, "name": stored.name, "size": stored.size},
            project_id=stored.project_id,
        )
        await buffer.publish()

    # --- reads -------------------------------------------------------------------------------

    async def content(
        self, principal: Principal, file_id: str, byte_range: ByteRange | None = None
    ) -> AsyncIterator[bytes]:
        stored = await self.get(principal, file_id)
        if byte_range is None:
            return await self._blobs.read(stored.storage_key)
        return await self._blobs.read(stored.storage_key, byte_range.start, byte_range.length)

    async def read_url(self, principal: Principal, file_id: str) -> str | None:
        stored = await self.get(principal, file_id)
        return await self._blobs.read_url(
            stored.storage_key,
            expires_in_seconds=self.limits.read_url_seconds,
            filename=stored.name,
            content_type=stored.content_type,
        )

    # --- deletion ----------------------------------------------------------------------------

    async def delete(self, principal: Principal, file_id: str) -> StoredFile:
        """Soft-delete the record now; the caller removes the blob afterwards (``remove_blob``)."""
        stored = await self.get(principal, file_id)
        allowed = principal.is_admin or stored.owner_id == principal.user_id
        if not allowed and stored.project_id is not None and stored.post_id is None:
            project = await self._ports.uow.projects.get(stored.project_id)
            allowed = project is not None and can_change_project(principal, project)
        if not allowed:
            raise Forbidden("Only the file's owner, the project's owner or an admin may delete it.")
        read_version = stored.version
        now = self._ports.clock.now()
        stored.deleted_at = now
        stored.updated_at = now
        saved = await self._files.update(stored, read_version)
        await self._published(principal, FILE_DELETED, saved)
        return saved

    async def remove_blob(self, key: str) -> None:
        await self._blobs.delete(key)

    # --- chunked uploads ---------------------------------------------------------------------

    async def start_upload(
        self,
        principal: Principal,
        filename: str,
        size: int,
        part_size: int | None,
        task_id: str | None,
        post_id: str | None = None,
    ) -> StoredFile:
        if not principal.can_create:
            raise Forbidden("Guests can read files but upload none.")
        name = sanitise_name(filename, "body.name")
        problems: list[FieldProblem] = []
        if size < 1:
            problems.append(FieldProblem("body.size", "must be at least 1"))
        if size > self.limits.chunked_max_bytes:  # a declared bound of a small JSON body: a field error, not 413
            problems.append(FieldProblem("body.size", f"must be at most {self.limits.chunked_max_bytes}"))
        chosen = part_size if part_size is not None else self.limits.part_size  # 0 is a (bad) size, not "default"
        if not self.limits.min_part_size <= chosen <= 64 * 1024 * 1024:
            problems.append(FieldProblem("body.part_size", f"must be between {self.limits.min_part_size} and 67108864"))
        if problems:
            raise ValidationFailed(problems)
        project_id, scope = await self._attach_to(principal, task_id, post_id)
        await self.purge_abandoned_uploads()  # cheap (indexed); keeps abandoned parts from piling up
        file_id = self._ports.ids.new_id()
        now = self._ports.clock.now()
        record = StoredFile(
            id=file_id,
            owner_id=principal.user_id,
            name=name,
            content_type="application/octet-stream",
            size=size,
            sha256="",
            storage_key=storage_key(principal.user_id, scope, file_id),
            task_id=task_id,
            project_id=project_id,
            post_id=post_id,
            state=FileState.UPLOADING,
            part_size=chosen,
            created_at=now,
            updated_at=now,
        )
        await self._files.add(record)
        return record

    async def _upload(self, principal: Principal, upload_id: str) -> StoredFile:
        stored = await self._files.get(upload_id)
        if stored is None or stored.state is not FileState.UPLOADING or stored.owner_id != principal.user_id:
            raise NotFound("The upload does not exist.")
        return stored

    async def upload_status(self, principal: Principal, upload_id: str) -> tuple[StoredFile, dict[int, int]]:
        stored = await self._upload(principal, upload_id)
        return stored, await self._blobs.staged_blocks(stored.storage_key)

    async def put_part(self, principal: Principal, upload_id: str, number: int, data: bytes, sha256: str) -> int:
        stored = await self._upload(principal, upload_id)
        if not 1 <= number <= stored.part_count:
            raise PartMismatch(f"This upload has parts 1 to {stored.part_count}; there is no part {number}.")
        expected = stored.expected_part_size(number)
        if not data:
            raise ValidationFailed([FieldProblem("body", "the part is empty")])
        if len(data) != expected:  # the upload's declared size and part size decide it, not the request alone
            raise PartMismatch(f"Part {number} of this upload must be exactly {expected} bytes, not {len(data)}.")
        if hashlib.sha256(data).hexdigest() != sha256.lower():
            raise ValidationFailed([FieldProblem("header.content-digest", "does not match the part's SHA-256")])
        await self._blobs.stage_block(stored.storage_key, number, data)
        return len(data)

    async def complete_upload(self, principal: Principal, upload_id: str) -> StoredFile:
        stored = await self._upload(principal, upload_id)
        staged = await self._blobs.staged_blocks(stored.storage_key)
        numbers = list(range(1, stored.part_count + 1))
        missing = [n for n in numbers if n not in staged]
        if missing:
            shown = ", ".join(str(n) for n in missing[:20])
            raise UploadIncomplete(f"Parts still missing: {shown}.")
        wrong = [n for n in numbers if staged[n] != stored.expected_part_size(n)]
        if wrong:
            raise UploadIncomplete(f"Part {wrong[0]} has the wrong size; send it again.")
        size = await self._blobs.commit_blocks(stored.storage_key, numbers)
        try:
            if size != stored.size:
                raise ValidationFailed([FieldProblem("parts", f"the parts add up to {size}, not {stored.size}")])
            head = bytearray()
            async for chunk in await self._blobs.read(stored.storage_key, 0, SNIFF_BYTES):
                head.extend(chunk)
            content_type = ensure_allowed_type(self._sniffer.sniff(bytes(head)), self.limits.allowed_types)
            digest = hashlib.sha256()
            async for chunk in await self._blobs.read(stored.storage_key):
                digest.update(chunk)
        except BaseException:
            await self._abandon(stored)
            raise
        read_version = stored.version
        stored.content_type = content_type
        stored.sha256 = digest.hexdigest()
        stored.state = FileState.READY
        stored.updated_at = self._ports.clock.now()
        saved = await self._files.update(stored, read_version)
        await self._published(principal, FILE_UPLOADED, saved)
        return saved

    async def _abandon(self, stored: StoredFile) -> None:
        await self._blobs.delete(stored.storage_key)
        read_version = stored.version
        stored.deleted_at = self._ports.clock.now()
        await self._files.update(stored, read_version)

    async def purge_abandoned_uploads(self) -> int:
        """Drop chunked uploads not completed within ``upload_ttl`` (and their staged parts)."""
        stale = await self._files.list_stale_uploads(self._ports.clock.now() - self.limits.upload_ttl)
        for stored in stale:
            await self._abandon(stored)
        return len(stale)

    # --- retention ---------------------------------------------------------------------------

    async def purge_deleted(self, deleted_before: datetime, batch: int = 100) -> dict[str, int]:
        """Remove for good the records soft-deleted before ``deleted_before``, each blob first.

        A missing blob is fine (``BlobStore.delete`` ignores it; the HTTP delete usually removed
        it already). A blob the store fails to delete keeps its record, so the next run tries
        again; a store that is down ends this run's file purge at once rather than waiting out a
        timeout per file.
        """
        purged = failed = 0
        skipped: set[str] = set()
        while True:
            listed = await self._files.list_deleted(deleted_before, batch + len(skipped))
            todo = [stored for stored in listed if stored.id not in skipped]
            if not todo:
                break
            for stored in todo:
                try:
                    await self._blobs.delete(stored.storage_key)
                except DependencyUnavailable as error:
                    logger.warning("purge: blob store unavailable, file records kept for the next run: %s", error)
                    return {"files": purged, "blob_failures": failed + 1}
                except Exception:
                    logger.exception("purge: blob of file %s not deleted; its record is kept", stored.id)
                    failed += 1
                    skipped.add(stored.id)
                    continue
                if await self._files.purge(stored.id):
                    purged += 1
        return {"files": purged, "blob_failures": failed}
