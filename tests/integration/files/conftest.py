"""Files over HTTP: the app on embedded defaults with blobs on local disk under a temporary root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.http.conftest import never_a_500
from tests.integration.http.helpers import Api, running_api


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(FILE_STORAGE_ROOT=str(tmp_path / "files")) as value, never_a_500(value):
        yield value
