"""Import and export of tasks: the row format and its validation (the API's own rules).

A row is a mapping of column name to value as read from a file (CSV text, JSON values, XML
element text). ``validate_row`` checks it with ``domain.board``'s rules and reports each
problem with the row's line (CSV/XML: the file line or element number; JSON: the item number).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from domain.board import Task, description_problems, progress_problems, tag_problems, title_problems
from domain.errors import Conflict, DomainError

FIELDS: tuple[str, ...] = ("title", "description", "tag", "progress", "finish_date")
REQUIRED: frozenset[str] = frozenset({"title"})
FORMATS: tuple[str, ...] = ("csv", "json", "xml")
#: a result lists at most this many row errors (``error_count`` has them all)
MAX_REPORTED_ERRORS = 1000


class ImportTooLarge(DomainError):
    """The upload is over IMPORT_MAX_BYTES (answered 413; nothing is kept)."""

    code = "import_too_large"
    default_message = "The file is larger than the import limit."


class ExportNotReady(Conflict):
    """The export job has not succeeded (yet): there is no file to download (409)."""

    code = "export_not_ready"
    default_message = "The export has not finished."


class ExportExpired(DomainError):
    """The export job's file was removed after the retention period (410)."""

    code = "export_expired"
    default_message = "The export file has expired."


class ImportRejected(Exception):
    """The file as a whole cannot be imported (empty, wrong headers, encoding, truncated, too large)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class TaskRow:
    title: str
    description: str = ""
    tag: str | None = None
    progress: int = 0
    finish_date: date | None = None


def check_headers(headers: list[str] | None) -> None:
    if not headers:
        raise ImportRejected("The file is empty.", 1)
    names = [h.strip() for h in headers]
    unknown = [h for h in names if h not in FIELDS]
    missing = sorted(REQUIRED - set(names))
    if unknown or missing or len(set(names)) != len(names):
        raise ImportRejected(
            f"Wrong headers: expected {', '.join(FIELDS)} (title required); got {', '.join(names) or 'none'}.", 1
        )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def validate_row(raw: Mapping[str, object], line: int) -> tuple[TaskRow | None, list[RowError]]:
    errors = [RowError(line, str(key), "is not a task field") for key in raw if key not in FIELDS]
    title = _text(raw.get("title"))
    if title is None:
        errors.append(RowError(line, "title", "is required"))
    else:
        errors += [RowError(line, "title", p.message) for p in title_problems(title, "title")]
    description = _text(raw.get("description")) or ""
    errors += [RowError(line, "description", p.message) for p in description_problems(description, "description")]
    tag = _text(raw.get("tag"))
    tag = tag if tag not in (None, "") else None
    errors += [RowError(line, "tag", p.message) for p in tag_problems(tag, "tag")]
    progress = 0
    raw_progress = raw.get("progress")
    if raw_progress not in (None, ""):
        if isinstance(raw_progress, int) and not isinstance(raw_progress, bool):
            progress = raw_progress
        elif isinstance(raw_progress, str) and raw_progress.strip().lstrip("-").isdigit():
            progress = int(raw_progress.strip())
        else:
            errors.append(RowError(line, "progress", "must be a whole number from 0 to 100"))
        errors += [RowError(line, "progress", p.message) for p in progress_problems(progress, "progress")]
    finish: date | None = None
    raw_finish = _text(raw.get("finish_date"))
    if raw_finish:
        try:
            finish = date.fromisoformat(raw_finish.strip())
        except ValueError:
            errors.append(RowError(line, "finish_date", "must be a date (YYYY-MM-DD)"))
    if errors or title is None:
        return None, errors
    return (
        TaskRow(
            title=title.strip(),
            description=description,
            tag=tag.strip() if tag else None,
            progress=progress,
            finish_date=finish,
        ),
        [],
    )


def task_row(task: Task) -> dict[str, str]:
    """A task as export columns (what ``validate_row`` reads back)."""
    return {
        "title": task.title,
        "description": task.description,
        "tag": task.tag or "",
        "progress": str(task.progress),
        "finish_date": task.finish_date.isoformat() if task.finish_date else "",
    }
