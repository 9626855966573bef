"""Rules the server enforces that Litestar's generator cannot read off the models, stated in the document.

Each rule here is one the server already checks; writing it into the OpenAPI document lets a
client (and schemathesis) know which requests are valid without sending them:

- a project's ``site`` is a place, or ``lat`` and ``lon`` together (or all three);
- a resumable upload's ``name`` must name a file (no path, no control or format characters, not
  blank), its ``size`` is 1 to ``FILE_CHUNKED_MAX_BYTES``, its ``part_size`` within the part bounds,
  and it goes on a task or a post, not both;
- ``POST /files`` takes the form fields ``task_id`` / ``post_id`` (not both) and a ``file`` of an
  allowed type; the import route takes a CSV, JSON or XML ``file`` and nothing else;
- a part of a resumable upload is raw bytes with a ``Content-Digest`` header;
- a download answers the file's own (allowed) type, 200 whole or 206 for a range;
- the weather route takes ``place``, or ``lat`` and ``lon`` together.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from typing import Any

from application.files import FileLimits
from entrypoints.http.schemas import NOT_BLANK

FILES_PATH = "/api/v1/files"
IMPORT_PATH = "/api/v1/projects/{project_id}/import"
UPLOADS_PATH = "/api/v1/files/uploads"
PART_PATH = "/api/v1/files/uploads/{upload_id}/parts/{number}"
CONTENT_PATH = "/api/v1/files/{file_id}/content"
WEATHER_PATH = "/api/v1/weather"
EXPORT_PATH = "/api/v1/projects/{project_id}/export"
JOB_DOWNLOAD_PATH = "/api/v1/jobs/{job_id}/download"
PART_SIZE_MAX = 64 * 1024 * 1024  # FileService.start_upload's upper bound
IMPORT_TYPES = "text/csv, application/json, application/xml"
CONTENT_DIGEST_PATTERN = "^sha-256=:[A-Za-z0-9+/]{43}=:$"


def _refused_characters() -> str:
    """A regex character class body of what ``sanitise_name`` refuses inside a name (as literal
    characters, so the pattern reads the same in any regex dialect): ``/``, ``\\`` and every
    control (Cc), format (Cf), line (Zl) and paragraph (Zp) separator character."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Zl", "Zp"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    # none of these categories holds `\\`, `]`, `^` or `-`, so the characters go in as they are
    return "/\\\\" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


@functools.cache
def file_name_pattern() -> str:
    """At least one character that is not whitespace or a dot (a name of only those is empty once
    sanitised), and none of the refused ones anywhere."""
    refused = _refused_characters()
    return f"^[^{refused}]*[^{refused}\\s.][^{refused}]*$"


def _nullable_bounds(prop: dict[str, Any], **bounds: int) -> None:
    """Put bounds on the integer branch of ``oneOf: [integer, null]`` (or on the integer itself)."""
    for branch in prop.get("oneOf", [prop]):
        if branch.get("type") == "integer":
            branch.update(bounds)


def _not_both(first: str, second: str) -> dict[str, Any]:
    return {
        "not": {
            "required": [first, second],
            "properties": {first: {"type": "string"}, second: {"type": "string"}},
        }
    }


def _weather_location(operation: dict[str, Any]) -> None:
    """``place``, or ``lat`` and ``lon`` together: three query parameters whose rule no single
    parameter can state, so the document declares them as one exploded form object (OpenAPI's way
    for related query parameters; the query string is the same ``?place=…`` or ``?lat=…&lon=…``)."""
    parameters = operation.get("parameters", [])
    location = {p["name"]: p for p in parameters if p.get("in") == "query" and p["name"] in ("place", "lat", "lon")}
    if len(location) != 3:
        return
    properties: dict[str, Any] = {}
    for name, parameter in location.items():
        schema = {k: v for k, v in parameter["schema"].items() if k != "oneOf"}
        branch = next(b for b in parameter["schema"].get("oneOf", [parameter["schema"]]) if b.get("type") != "null")
        properties[name] = {**schema, "type": branch["type"]}
    properties["place"]["pattern"] = NOT_BLANK
    lat_or_lon = {"anyOf": [{"required": ["lat"]}, {"required": ["lon"]}]}
    operation["parameters"] = [p for p in parameters if p not in location.values()] + [
        {
            "name": "location",
            "in": "query",
            "required": True,
            "style": "form",
            "explode": True,
            "description": "`place` (a name: `Oslo`, `Oslo,NO`), or `lat` and `lon` together; not both.",
            "schema": {
                "type": "object",
                "properties": properties,
                "oneOf": [
                    {"required": ["place"], "not": lat_or_lon},
                    {"required": ["lat", "lon"], "not": {"required": ["place"]}},
                ],
            },
        }
    ]


def apply(document: dict[str, Any], limits: FileLimits | None = None) -> dict[str, Any]:
    limits = limits or FileLimits()
    schemas = document.get("components", {}).get("schemas", {})
    paths = document.get("paths", {})

    site = schemas.get("SiteIn")
    if site is not None:
        site["anyOf"] = [
            {
                "required": ["place"],
                "properties": {"place": {"type": "string"}, "lat": {"type": "null"}, "lon": {"type": "null"}},
            },
            {"required": ["lat", "lon"], "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
        ]
        site["description"] = "A place name, or `lat` and `lon` together (or all three)."

    upload = schemas.get("UploadIn")
    if upload is not None:
        props = upload.get("properties", {})
        if "name" in props:
            props["name"].update(minLength=1, pattern=file_name_pattern())
        if "size" in props:
            _nullable_bounds(props["size"], minimum=1, maximum=limits.chunked_max_bytes)
        if "part_size" in props:
            _nullable_bounds(props["part_size"], minimum=limits.min_part_size, maximum=PART_SIZE_MAX)
        upload.update(_not_both("task_id", "post_id"))

    form = paths.get(FILES_PATH, {}).get("post", {}).get("requestBody", {}).get("content", {})
    if "multipart/form-data" in form:
        media = form["multipart/form-data"]
        # `file` and at most one of task_id/post_id: said by a count, which generators keep to better than `not`
        media["schema"].update(additionalProperties=False, maxProperties=2)
        media["encoding"] = {"file": {"contentType": ", ".join(limits.allowed_types)}}

    imported = paths.get(IMPORT_PATH, {}).get("post", {}).get("requestBody", {}).get("content", {})
    if "multipart/form-data" in imported:
        media = imported["multipart/form-data"]
        media["schema"]["additionalProperties"] = False
        media["encoding"] = {"file": {"contentType": IMPORT_TYPES}}

    part = paths.get(PART_PATH, {}).get("put")
    if part is not None:
        for parameter in part.get("parameters", []):
            if parameter.get("name") == "number":
                parameter["schema"]["minimum"] = 1
        part.setdefault("parameters", []).append(
            {
                "name": "Content-Digest",
                "in": "header",
                "required": True,
                "description": "The part's SHA-256 (RFC 9530): `sha-256=:<base64>:`.",
                "schema": {"type": "string", "pattern": CONTENT_DIGEST_PATTERN},
            }
        )
        part["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary", "minLength": 1}}},
        }

    # an export job's file is the export itself: CSV, JSON or XML, as the synchronous export answers
    export = paths.get(EXPORT_PATH, {}).get("get", {}).get("responses", {}).get("200", {}).get("content")
    job_file = paths.get(JOB_DOWNLOAD_PATH, {}).get("get", {}).get("responses", {}).get("200")
    if export is not None and job_file is not None:
        job_file["content"] = dict(export)

    if "multipart/form-data" in form:  # an empty upload is refused at once (an empty import fails in its job)
        form["multipart/form-data"]["schema"]["properties"]["file"]["minLength"] = 1

    weather = paths.get(WEATHER_PATH, {}).get("get")
    if weather is not None:
        _weather_location(weather)

    download = paths.get(CONTENT_PATH, {}).get("get", {}).get("responses", {})
    if "200" in download:
        binary = {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in limits.allowed_types}
        download["200"]["description"] = "The file's bytes, with its sniffed type."
        download["200"]["content"] = binary
        download["206"] = {"description": "The requested byte range (`Content-Range`).", "content": dict(binary)}
    return document
