"""Reading and writing task files: CSV, JSON and XML, as streams.

- CSV: ``csv`` over an incremental UTF-8 text stream (constant memory whatever the size).
- JSON: bounded by IMPORT_MAX_BYTES, parsed in one go (an array of objects, or ``{"tasks": [...]}``).
- XML: ``defusedxml`` ``iterparse`` (``<tasks><task><title>…</title>…</task></tasks>``), each
  ``<task>`` cleared once read; a DTD (so entity expansion, billion laughs) and external
  entities are refused.

Readers yield ``(line, row)``; file-level problems raise ``ImportRejected``. ``position()``
of a reader is how many bytes it consumed (for progress).

``parsed_rows`` runs these (blocking) readers over an async byte stream (a blob being
downloaded): the parser runs in a worker thread, a batch of rows per hop, and pulls each
chunk from the event loop as it needs it, so memory stays constant whatever the file's size.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from domain.transfer import FIELDS, ImportRejected, check_headers

Row = tuple[int, dict[str, Any]]


class CountingReader(io.RawIOBase):
    """A binary stream that counts what was read from it (for progress)."""

    def __init__(self, raw: IO[bytes] | io.RawIOBase) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class ChunkReader(io.RawIOBase):
    """A blocking binary stream over an async chunk iterator, read from a thread other than the
    loop's: each chunk is fetched on ``loop`` (at most ``timeout`` seconds per chunk)."""

    def __init__(self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop, timeout: float = 60.0) -> None:
        self._chunks = chunks
        self._loop = loop
        self._timeout = timeout
        self._chunk = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._chunk and not self._done:
            future = asyncio.run_coroutine_threadsafe(_next_chunk(self._chunks), self._loop)
            chunk = future.result(self._timeout)
            if chunk is None:
                self._done = True
            else:
                self._chunk = memoryview(chunk)
        size = min(len(buffer), len(self._chunk))
        buffer[:size] = self._chunk[:size]
        self._chunk = self._chunk[size:]
        return size


async def _next_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    return await anext(chunks, None)


#: rows parsed per thread hop
ROW_BATCH = 500


@contextlib.asynccontextmanager
async def parsed_rows(
    fmt: str, chunks: AsyncIterator[bytes], size: int
) -> AsyncIterator[tuple[AsyncIterator[Row], Callable[[], float]]]:
    """The rows of a file of ``fmt`` arriving as ``chunks`` (``size`` bytes), and the fraction read."""
    counted = CountingReader(ChunkReader(chunks, asyncio.get_running_loop()))
    rows: Iterator[Row] | None = None
    iterator: AsyncIterator[Row] | None = None

    async def batches(source: Iterator[Row]) -> AsyncIterator[Row]:
        while True:
            batch = await asyncio.to_thread(lambda: list(itertools.islice(source, ROW_BATCH)))
            for row in batch:
                yield row
            if len(batch) < ROW_BATCH:
                return

    try:
        rows = read_rows(fmt, counted, size)
        iterator = batches(rows)
        yield iterator, (lambda: min(1.0, counted.count / size) if size else 1.0)
    finally:
        if iterator is not None:
            await iterator.aclose()  # type: ignore[attr-defined]
        if rows is not None:
            with contextlib.suppress(ValueError, AttributeError):  # still running in a thread (a cancelled job)
                rows.close()  # type: ignore[attr-defined]
        close = getattr(chunks, "aclose", None)
        if close is not None:
            with contextlib.suppress(RuntimeError):  # a chunk still being fetched for that thread
                await close()


def format_of(filename: str | None, content_type: str | None) -> str | None:
    name = (filename or "").lower()
    for fmt in ("csv", "json", "xml"):
        if name.endswith(f".{fmt}"):
            return fmt
    kind = (content_type or "").split(";")[0].strip().lower()
    return {
        "text/csv": "csv",
        "application/json": "json",
        "application/xml": "xml",
        "text/xml": "xml",
    }.get(kind)


def read_rows(fmt: str, raw: CountingReader, size: int) -> Iterator[Row]:
    if size == 0:
        raise ImportRejected("The file is empty.", 1)
    if fmt == "csv":
        return _csv_rows(raw)
    if fmt == "json":
        return _json_rows(raw)
    if fmt == "xml":
        return _xml_rows(raw)
    raise ImportRejected("Send a .csv, .json or .xml file.")


def _csv_rows(raw: CountingReader) -> Iterator[Row]:
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text, strict=True)
    try:
        try:
            headers = next(reader)
        except StopIteration:
            raise ImportRejected("The file is empty.", 1) from None
        check_headers(headers)
        names = [h.strip() for h in headers]
        for values in reader:
            if not values or all(not v.strip() for v in values):
                continue
            row: dict[str, Any] = dict(zip(names, values, strict=False))
            if len(values) > len(names):
                row["(extra columns)"] = values[len(names) :]
            yield reader.line_num, row
    except UnicodeDecodeError:
        raise ImportRejected(f"The file is not UTF-8 text (near line {reader.line_num + 1}).") from None
    except csv.Error as error:
        raise ImportRejected(
            f"The file is truncated or malformed at line {reader.line_num}: {error}.", reader.line_num
        ) from None


def _json_rows(raw: CountingReader) -> Iterator[Row]:
    data = raw.read()
    try:
        text = (data or b"").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRejected("The file is not UTF-8 text.") from None
    if not text.strip():
        raise ImportRejected("The file is empty.", 1)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportRejected(
            f"The file is truncated or malformed at line {error.lineno}, column {error.colno}: {error.msg}.",
            error.lineno,
        ) from None
    items = document.get("tasks") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ImportRejected('Send a JSON array of task objects (or {"tasks": [...]}).')
    if not items:
        raise ImportRejected("The file has no tasks.", 1)
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            yield number, {"(item)": item}
            continue
        yield number, item


def _xml_rows(raw: CountingReader) -> Iterator[Row]:
    number = 0
    depth = 0
    try:
        for event, element in iterparse(raw, events=("start", "end"), forbid_dtd=True):
            assert isinstance(element, Element)
            if event == "start":
                depth += 1
                if depth == 1 and element.tag != "tasks":
                    raise ImportRejected(f"Wrong root element <{element.tag}>: expected <tasks>.", 1)
                continue
            depth -= 1
            if depth == 1 and element.tag == "task":
                number += 1
                row: dict[str, Any] = {child.tag: (child.text or "") for child in element}
                if not row:
                    row = {"title": None}
                element.clear()
                yield number, row
            elif depth == 1:
                yield number + 1, {element.tag: element.text}
                element.clear()
    except DefusedXmlException:
        raise ImportRejected("The file declares a DTD or entities; they are not allowed.") from None
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise ImportRejected(f"The file is truncated or malformed at line {line}, column {column}.", line) from None
    if number == 0:
        raise ImportRejected("The file has no <task> elements.", 1)


# --- writers ------------------------------------------------------------------------------


async def write_csv(rows: AsyncIterator[dict[str, str]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELDS)
    yield codecs.BOM_UTF8 + buffer.getvalue().encode()
    async for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([row[f] for f in FIELDS])
        yield buffer.getvalue().encode()


async def write_json(rows: AsyncIterator[dict[str, str]]) -> AsyncIterator[bytes]:
    yield b"["
    first = True
    async for row in rows:
        item: dict[str, Any] = dict(row)
        item["progress"] = int(row["progress"])
        yield (b"" if first else b",") + b"\n" + json.dumps(item, ensure_ascii=False).encode()
        first = False
    yield b"\n]\n"


async def write_xml(rows: AsyncIterator[dict[str, str]]) -> AsyncIterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8"?>\n<tasks>\n'
    async for row in rows:
        fields = "".join(f"<{f}>{escape(row[f])}</{f}>" for f in FIELDS if row[f] != "")
        yield f"  <task>{fields}</task>\n".encode()
    yield b"</tasks>\n"


WRITERS = {"csv": write_csv, "json": write_json, "xml": write_xml}
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json", "xml": "application/xml"}
