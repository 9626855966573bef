"""Files: stored uploads, the rules for their names and types, and who may read them.

Pure: the name rules, the type allow-list and the storage layout live here; the bytes go
through the ``BlobStore`` port and the type is sniffed through the ``ContentSniffer`` port.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from domain.errors import Conflict, DomainError, FieldProblem, ValidationFailed

NAME_MAX = 200
DEFAULT_ALLOWED_TYPES: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
#: how many leading bytes the type is sniffed from
SNIFF_BYTES = 2048
UNATTACHED = "unattached"


class FileTooLarge(DomainError):
    code = "file_too_large"
    default_message = "The file is larger than the limit."


class UnsupportedFileType(DomainError):
    code = "unsupported_media_type"
    default_message = "The file's type (decided from its bytes) is not accepted."


class UploadIncomplete(Conflict):
    """Completing a resumable upload whose parts are not all there (or not the declared sizes) yet."""

    code = "upload_incomplete"
    default_message = "The upload is not complete yet; send the missing parts first."


class PartMismatch(Conflict):
    """A part that does not fit the upload it is sent to: its number or its size."""

    code = "part_mismatch"
    default_message = "The part does not fit this upload."


class RangeNotSatisfiable(DomainError):
    code = "range_not_satisfiable"
    default_message = "The requested byte range is outside the file."

    def __init__(self, size: int, message: str | None = None) -> None:
        self.size = size
        super().__init__(message)


class FileState(enum.StrEnum):
    UPLOADING = "uploading"  # a chunked upload in progress: parts staged, nothing readable yet
    READY = "ready"


@dataclass(slots=True)
class StoredFile:
    id: str
    owner_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    created_at: datetime
    updated_at: datetime
    task_id: str | None = None
    project_id: str | None = None
    post_id: str | None = None
    state: FileState = FileState.READY
    part_size: int = 0  # chunked uploads only
    version: int = 1
    deleted_at: datetime | None = None

    @property
    def part_count(self) -> int:
        if self.part_size <= 0:
            return 0
        return max(1, -(-self.size // self.part_size))

    def expected_part_size(self, number: int) -> int:
        """The exact size of part ``number`` (1-based): every part is ``part_size`` but the last."""
        if number < self.part_count:
            return self.part_size
        return self.size - self.part_size * (self.part_count - 1)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def sanitise_name(raw: str | None, field: str = "body.file") -> str:
    """The name a file is shown and downloaded under, or ``ValidationFailed``.

    A name carrying a path (``/``, ``\\``, ``..``) or a control character (NUL included) is
    refused outright: a client sending one is not naming a file. Otherwise it is normalised
    (NFC), whitespace collapsed, leading dots and trailing dots/spaces removed, and shortened to
    ``NAME_MAX`` characters keeping the extension. Blobs are never keyed by this name.
    """
    if raw is None or not raw.strip():
        raise ValidationFailed([FieldProblem(field, "the file needs a name")])
    if _CONTROL.search(raw) or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in raw):
        raise ValidationFailed([FieldProblem(field, "the file name must not contain control characters")])
    if "/" in raw or "\\" in raw or raw.strip() in (".", ".."):
        raise ValidationFailed([FieldProblem(field, "the file name must not contain a path")])
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip().lstrip(".").rstrip(". ")
    if not name:
        raise ValidationFailed([FieldProblem(field, "the file needs a name")])
    if len(name) > NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: NAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:NAME_MAX]
    return name


def ensure_allowed_type(sniffed: str | None, allowed: tuple[str, ...]) -> str:
    """The sniffed type if the allow-list has it; ``UnsupportedFileType`` otherwise."""
    if sniffed is None or sniffed not in allowed:
        shown = sniffed or "unknown"
        raise UnsupportedFileType(f"Files of type {shown} are not accepted (allowed: {', '.join(allowed)}).")
    return sniffed


def storage_key(owner_id: str, scope_id: str | None, file_id: str) -> str:
    """``<owner>/<project or post>/<file id>``: never derived from a client-supplied name."""
    return f"{owner_id}/{scope_id or UNATTACHED}/{file_id}"


def ascii_fallback(name: str) -> str:
    """A plain-ASCII stand-in for ``filename=`` (the UTF-8 name goes in ``filename*``)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._ -]", "_", folded).strip() or "file"
    return cleaned


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One ``bytes=`` range (RFC 9110) against ``size``; None means "send it all".

    Multiple ranges and malformed headers are ignored (the whole file is sent, as the RFC
    allows); a well-formed range that starts past the end raises ``RangeNotSatisfiable``.
    """
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise RangeNotSatisfiable(size)
            if size == 0:
                raise RangeNotSatisfiable(size)
            return ByteRange(max(0, size - suffix), size - 1)
        start = int(first)
        end = int(last) if last != "" else size - 1
    except ValueError:
        return None
    if start < 0:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    if end < start:
        return None
    return ByteRange(start, min(end, size - 1))
