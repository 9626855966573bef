"""Fixtures: logging captured as the service renders it (JSON to a buffer and a file), an app on DEBUG.

``configure_logging`` runs for real (``cache_loggers=False`` so it can run once per test) and is
undone after each test, so the rest of the suite sees structlog's defaults.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from entrypoints.logging import configure_logging, reset_logging
from tests.integration.http.helpers import Api, running_api


@dataclass(slots=True)
class Captured:
    stream: io.StringIO
    file: Path

    def text(self) -> str:
        for handler in __import__("logging").getLogger().handlers:
            handler.flush()
        return self.stream.getvalue() + self.file.read_text(encoding="utf-8")

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == event]


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[Captured]:
    stream = io.StringIO()
    log_file = tmp_path / "logs" / "trellis.log"
    configure_logging("DEBUG", "json", log_file=log_file, stream=stream, cache_loggers=False)
    try:
        yield Captured(stream=stream, file=log_file)
    finally:
        reset_logging()


@pytest.fixture
async def debug_api(captured: Captured) -> AsyncIterator[Api]:
    """The service's app with LOG_LEVEL=DEBUG (bodies and headers logged, after redaction)."""
    async with running_api(LOG_LEVEL="DEBUG") as api:
        yield api
