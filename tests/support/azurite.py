"""Azurite (the Azure Storage emulator, npm) for the Azure adapters' tests.

``AZURE_STORAGE_CONNECTION_STRING`` names a real account (or a running Azurite); otherwise
``azurite-blob`` from ``tools/azurite/node_modules`` (``just test-deps``) is started on a free
loopback port with a temporary location, and stopped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.services import LOOPBACK, find_executable, free_port, running, unavailable

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / "tools" / "azurite" / "node_modules" / ".bin"
# Azurite's well-known development account (public, documented by Microsoft)
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{LOOPBACK}:{port}/{DEV_ACCOUNT};"
    )


@contextmanager
def azurite_connection_string() -> Iterator[str]:
    named = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "").strip()
    if named:
        yield named
        return
    executable = find_executable("azurite-blob", AZURITE_BIN)
    if executable is None:
        unavailable("azurite-blob not installed (run `just test-deps`) and AZURE_STORAGE_CONNECTION_STRING unset")
    port = free_port()
    location = tempfile.mkdtemp(prefix="trellis-azurite-")
    argv = [
        executable,
        "--blobHost",
        LOOPBACK,
        "--blobPort",
        str(port),
        "--location",
        location,
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
    ]
    try:
        with running("azurite", argv, port, timeout=60.0):
            yield connection_string(port)
    finally:
        shutil.rmtree(location, ignore_errors=True)
