"""``BlobStore`` on Azure Blob Storage (async SDK); Azurite in tests.

Server-side encryption at rest is always on in Azure Storage (AES-256; Microsoft-managed keys
unless the account is set to a customer-managed key in Key Vault, which needs no code here).
``put`` stages blocks of at most ``BLOCK_BYTES`` and commits them only when the whole stream
arrived within the limit, so a too-large or broken upload never becomes a blob (uncommitted
blocks are dropped by the service after 7 days, and by ``delete``). Chunked uploads use the
same block API: part ``n`` is block id ``base64("%08d" % n)``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobSasPermissions, generate_blob_sas
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from domain.errors import DependencyUnavailable, NotFound
from domain.ports import BlobTooLarge

DEPENDENCY = "azure_blob"
BLOCK_BYTES = 4 * 1024 * 1024


def _block_id(number: int) -> str:
    return base64.b64encode(f"{number:08d}".encode()).decode()


def _block_number(block_id: str) -> int | None:
    try:
        text = base64.b64decode(block_id).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and len(text) == 8 else None


class AzureBlobStore:
    def __init__(self, service: BlobServiceClient, container: str) -> None:
        self._service = service
        self._container: ContainerClient = service.get_container_client(container)

    @classmethod
    def from_connection_string(cls, connection_string: str, container: str) -> AzureBlobStore:
        return cls(BlobServiceClient.from_connection_string(connection_string), container)

    async def ensure_container(self) -> None:
        try:
            await self._container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error

    async def close(self) -> None:
        await self._service.close()

    async def put(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        blob = self._container.get_blob_client(key)
        buffer = bytearray()
        size = 0
        blocks: list[BlobBlock] = []
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(key)
                buffer.extend(chunk)
                if len(buffer) >= BLOCK_BYTES:
                    block_id = base64.b64encode(f"w{len(blocks):07d}".encode()).decode()
                    await blob.stage_block(block_id, io.BytesIO(bytes(buffer)), length=len(buffer))
                    blocks.append(BlobBlock(block_id))
                    buffer.clear()
            if not blocks:
                await blob.upload_blob(io.BytesIO(bytes(buffer)), length=len(buffer), overwrite=True)
            else:
                if buffer:
                    block_id = base64.b64encode(f"w{len(blocks):07d}".encode()).decode()
                    await blob.stage_block(block_id, io.BytesIO(bytes(buffer)), length=len(buffer))
                    blocks.append(BlobBlock(block_id))
                await blob.commit_block_list(blocks)
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        return size

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        blob = self._container.get_blob_client(key)
        try:
            downloader = await blob.download_blob(offset=offset or None, length=length)
        except ResourceNotFoundError:
            raise NotFound("The blob does not exist.") from None
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        return _chunks(downloader.chunks())

    async def size(self, key: str) -> int | None:
        try:
            properties = await self._container.get_blob_client(key).get_blob_properties()
        except ResourceNotFoundError:
            return None
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        return int(properties.size)

    async def delete(self, key: str) -> None:
        blob = self._container.get_blob_client(key)
        try:
            try:
                await blob.delete_blob()
            except ResourceNotFoundError:
                if await self.staged_blocks(key):
                    # only uncommitted blocks: commit none (an empty blob), then delete that
                    await blob.commit_block_list([])
                    await blob.delete_blob()
        except ResourceNotFoundError:
            pass
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error

    async def stage_block(self, key: str, number: int, data: bytes) -> None:
        if number < 1:
            raise ValueError("block numbers start at 1")
        try:
            await self._container.get_blob_client(key).stage_block(
                _block_id(number), io.BytesIO(data), length=len(data)
            )
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error

    async def staged_blocks(self, key: str) -> dict[int, int]:
        try:
            _committed, uncommitted = await self._container.get_blob_client(key).get_block_list("uncommitted")
        except ResourceNotFoundError:
            return {}
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        found: dict[int, int] = {}
        for block in uncommitted or []:
            number = _block_number(str(block.id))
            if number is not None:
                found[number] = int(block.size)
        return found

    async def commit_blocks(self, key: str, numbers: Sequence[int]) -> int:
        staged = await self.staged_blocks(key)
        missing = [n for n in numbers if n not in staged]
        if missing:
            raise NotFound(f"Block {missing[0]} is not staged.")
        try:
            await self._container.get_blob_client(key).commit_block_list([BlobBlock(_block_id(n)) for n in numbers])
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        return sum(staged[n] for n in numbers)

    async def read_url(self, key: str, *, expires_in_seconds: int, filename: str, content_type: str) -> str | None:
        credential = self._service.credential
        account_key = getattr(credential, "account_key", None)
        account_name = getattr(credential, "account_name", None) or self._service.account_name
        if not account_key or not account_name:
            return None  # e.g. a token credential: a user-delegation key would be needed
        now = datetime.now(UTC)
        token = generate_blob_sas(
            account_name=account_name,
            container_name=self._container.container_name,
            blob_name=key,
            account_key=account_key,
            permission=BlobSasPermissions(read=True),
            start=now - timedelta(minutes=1),
            expiry=now + timedelta(seconds=expires_in_seconds),
            content_disposition=f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            content_type=content_type,
            protocol=None,
        )
        return f"{self._container.get_blob_client(key).url}?{token}"

    async def ping(self) -> None:
        try:
            await self._container.get_container_properties()
        except AzureError as error:
            raise DependencyUnavailable(DEPENDENCY) from error


async def _chunks(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in source:
            yield chunk
    except AzureError as error:
        raise DependencyUnavailable(DEPENDENCY) from error
