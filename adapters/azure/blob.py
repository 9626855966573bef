"""``BlobStore`` on Azure Blob Storage (async SDK); Azurite in tests.

Server-side encryption at rest is always on in Azure Storage (AES-256; Microsoft-managed keys
unless the account is set to a customer-managed key in Key Vault, which needs no code here).
``put`` stages blocks of at most ``BLOCK_BYTES`` and commits them only when the whole stream
arrived within the limit, so a too-large or broken upload never becomes a blob (uncommitted
blocks are dropped by the service after 7 days, and by ``delete``). Chunked uploads use the
same block API: part ``n`` is block id ``base64("%08d" % n)``.

Each operation opens its own SDK client (an aiohttp session) and closes it when done: a
session is bound to the event loop that opened it, and nothing is left open across loops.
"""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobSasPermissions, generate_blob_sas
from azure.storage.blob import BlobServiceClient as SyncBlobServiceClient
from azure.storage.blob.aio import BlobClient, ContainerClient

from domain.errors import DependencyUnavailable, NotFound
from domain.ports import BlobTooLarge

DEPENDENCY = "azure_blob"
BLOCK_BYTES = 4 * 1024 * 1024
#: server-side timeout of one listing request (the SDK pages; each page is one request)
LIST_TIMEOUT_SECONDS = 30


def _block_id(number: int) -> str:
    return base64.b64encode(f"{number:08d}".encode()).decode()


def _block_number(block_id: str) -> int | None:
    try:
        text = base64.b64decode(block_id).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and len(text) == 8 else None


class AzureBlobStore:
    def __init__(self, connection_string: str, container: str) -> None:
        self._connection_string = connection_string
        self._container_name = container
        sync = SyncBlobServiceClient.from_connection_string(connection_string)  # no I/O: parses the string
        credential = sync.credential
        self._account_name: str | None = getattr(credential, "account_name", None) or sync.account_name
        self._account_key: str | None = getattr(credential, "account_key", None)
        self._container_url = sync.get_container_client(container).url

    @classmethod
    def from_connection_string(cls, connection_string: str, container: str) -> AzureBlobStore:
        return cls(connection_string, container)

    @asynccontextmanager
    async def _container(self) -> AsyncIterator[ContainerClient]:
        client = ContainerClient.from_connection_string(self._connection_string, self._container_name)
        try:
            async with client:
                yield client
        except AzureError as error:
            if isinstance(error, ResourceNotFoundError | ResourceExistsError):
                raise
            raise DependencyUnavailable(DEPENDENCY) from error

    @asynccontextmanager
    async def _blob(self, key: str) -> AsyncIterator[BlobClient]:
        async with self._container() as container:
            yield container.get_blob_client(key)

    async def ensure_container(self) -> None:
        try:
            async with self._container() as container:
                await container.create_container()
        except ResourceExistsError:
            pass

    async def close(self) -> None:
        """Nothing stays open between operations."""

    async def put(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        buffer = bytearray()
        size = 0
        blocks: list[BlobBlock] = []
        async with self._blob(key) as blob:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(key)
                buffer.extend(chunk)
                if len(buffer) >= BLOCK_BYTES:
                    blocks.append(await _stage(blob, len(blocks), buffer))
                    buffer.clear()
            if not blocks:
                await blob.upload_blob(io.BytesIO(bytes(buffer)), length=len(buffer), overwrite=True)
            else:
                if buffer:
                    blocks.append(await _stage(blob, len(blocks), buffer))
                await blob.commit_block_list(blocks)
        return size

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        client = ContainerClient.from_connection_string(self._connection_string, self._container_name)
        try:
            await client.__aenter__()
            blob = client.get_blob_client(key)
            downloader = await blob.download_blob(
                offset=offset if offset or length is not None else None, length=length
            )
        except ResourceNotFoundError:
            await client.close()
            raise NotFound("The blob does not exist.") from None
        except AzureError as error:
            await client.close()
            raise DependencyUnavailable(DEPENDENCY) from error
        except BaseException:
            await client.close()
            raise
        return _chunks(downloader.chunks(), client)

    async def size(self, key: str) -> int | None:
        try:
            async with self._blob(key) as blob:
                properties = await blob.get_blob_properties()
        except ResourceNotFoundError:
            return None
        return int(properties.size)

    async def delete(self, key: str) -> None:
        try:
            async with self._blob(key) as blob:
                try:
                    await blob.delete_blob()
                except ResourceNotFoundError:
                    _committed, uncommitted = await _block_list(blob)
                    if uncommitted:
                        # only uncommitted blocks: commit none (an empty blob), then delete that
                        await blob.commit_block_list([])
                        await blob.delete_blob()
        except ResourceNotFoundError:
            pass

    async def stage_block(self, key: str, number: int, data: bytes) -> None:
        if number < 1:
            raise ValueError("block numbers start at 1")
        async with self._blob(key) as blob:
            await blob.stage_block(_block_id(number), io.BytesIO(data), length=len(data))

    async def staged_blocks(self, key: str) -> dict[int, int]:
        async with self._blob(key) as blob:
            _committed, uncommitted = await _block_list(blob)
        found: dict[int, int] = {}
        for block in uncommitted:
            number = _block_number(str(block.id))
            if number is not None:
                found[number] = int(block.size)
        return found

    async def commit_blocks(self, key: str, numbers: Sequence[int]) -> int:
        staged = await self.staged_blocks(key)
        missing = [n for n in numbers if n not in staged]
        if missing:
            raise NotFound(f"Block {missing[0]} is not staged.")
        async with self._blob(key) as blob:
            await blob.commit_block_list([BlobBlock(_block_id(n)) for n in numbers])
        return sum(staged[n] for n in numbers)

    async def read_url(self, key: str, *, expires_in_seconds: int, filename: str, content_type: str) -> str | None:
        if not self._account_key or not self._account_name:
            return None  # e.g. a token credential: a user-delegation key would be needed
        now = datetime.now(UTC)
        token = generate_blob_sas(
            account_name=self._account_name,
            container_name=self._container_name,
            blob_name=key,
            account_key=self._account_key,
            permission=BlobSasPermissions(read=True),
            start=now - timedelta(minutes=1),
            expiry=now + timedelta(seconds=expires_in_seconds),
            content_disposition=f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            content_type=content_type,
        )
        return f"{self._container_url}/{quote(key)}?{token}"

    async def older_than(self, prefix: str, before: datetime) -> AsyncIterator[str]:
        keys: list[str] = []
        async with self._container() as container:
            async for blob in container.list_blobs(name_starts_with=prefix, timeout=LIST_TIMEOUT_SECONDS):
                modified = blob.last_modified
                if modified is not None and modified < before:
                    keys.append(str(blob.name))
        for key in keys:  # yielded after the listing: the caller may delete while it iterates
            yield key

    async def ping(self) -> None:
        async with self._container() as container:
            await container.get_container_properties()


async def _stage(blob: BlobClient, index: int, buffer: bytearray) -> BlobBlock:
    block_id = base64.b64encode(f"w{index:07d}".encode()).decode()
    await blob.stage_block(block_id, io.BytesIO(bytes(buffer)), length=len(buffer))
    return BlobBlock(block_id)


async def _block_list(blob: BlobClient) -> tuple[list[BlobBlock], list[BlobBlock]]:
    try:
        committed, uncommitted = await blob.get_block_list("uncommitted")
    except ResourceNotFoundError:
        return [], []
    return list(committed or []), list(uncommitted or [])


async def _chunks(source: AsyncIterator[bytes], client: ContainerClient) -> AsyncIterator[bytes]:
    try:
        async for chunk in source:
            yield chunk
    except AzureError as error:
        raise DependencyUnavailable(DEPENDENCY) from error
    finally:
        await client.close()
