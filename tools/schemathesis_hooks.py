"""Schemathesis hooks for tools/schemathesis.py: what a real client does that a schema cannot say.

- A file part of ``POST /api/v1/files`` declares (``encoding.contentType``) the allowed types; the
  server sniffs the bytes, so a part sent as ``image/png`` must be a PNG. These strategies give each
  allowed type a real (tiny) file of that format.
- ``PUT /api/v1/files/uploads/{upload_id}/parts/{number}`` carries ``Content-Digest: sha-256=:…:``
  of its bytes. A schema can give the header's shape, not its relation to the body, so a well-formed
  digest is replaced by the body's true one just before sending, as a client computes it. A header
  that is not well-formed (a negative case) is sent as generated.

And two things that are no client's part, each a workaround documented below: Hypothesis's lambda
descriptions made without ``ast.parse`` (a CPython 3.11 thread-safety bug), and byte
parts read as text when schemathesis revalidates a multipart body that a stateful link changed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import schemathesis
from hypothesis import strategies as st
from hypothesis.internal import lambda_sources
from schemathesis.core.file_samples import FILE_SAMPLES
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.case import Case
from schemathesis.transport.serialization import Binary, contains_binary, serialize_binary

# CPython 3.11 is not thread-safe in ast.parse (gh-106905: "SystemError: AST constructor recursion
# depth mismatch"), and Hypothesis parses source files to describe the lambdas in filtered
# strategies; with --workers > 1 the coverage phase crashed on it (a lock around those parses was
# not enough). The descriptions only go into strategies' reprs, so they are made without parsing:
# the lambda's file and line, which is what tells two lambdas apart in the source anyway.


def _described_without_parsing(f: Any) -> str:
    code = getattr(f, "__code__", None)
    if code is None:
        return "lambda: <unknown>"
    return f"lambda: <{code.co_filename}:{code.co_firstlineno}>"


lambda_sources.lambda_description = _described_without_parsing

# Schemathesis revalidates a case whose body a stateful link changed, and takes any body holding
# bytes for schema-invalid (its validator cannot read bytes): a multipart upload with a linked
# post_id became a "negative" case, and its 201 a false "schema-violating request accepted". For
# that revalidation a byte part stands as text of the same length (the schema says a string).
_validate_component = Case._validate_component


def _bytes_as_text(self: Case, location: ParameterLocation, value: Any, validator_cls: Any) -> bool:
    if location == ParameterLocation.BODY and isinstance(value, dict) and contains_binary(value):
        value = {
            name: "x" * len(serialize_binary(item)) if isinstance(item, bytes | Binary) else item
            for name, item in value.items()
        }
    valid: bool = _validate_component(self, location, value, validator_cls)
    return valid


Case._validate_component = _bytes_as_text  # type: ignore[method-assign]

PART_PATH = "/api/v1/files/uploads/{upload_id}/parts/{number}"
DIGEST = re.compile(r"^sha-256=:[A-Za-z0-9+/]{43}=:$")

for media_type, sample in {
    "image/png": FILE_SAMPLES["png"],
    "image/jpeg": FILE_SAMPLES["jpg"],
    "image/gif": FILE_SAMPLES["gif"],
    "image/webp": FILE_SAMPLES["webp"],
    "application/pdf": FILE_SAMPLES["pdf"],
}.items():
    schemathesis.openapi.media_type(media_type, st.just(sample))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path != PART_PATH or case.headers is None or case.body is None:
        return
    for name, value in list(case.headers.items()):
        if name.lower() == "content-digest" and isinstance(value, str) and DIGEST.match(value):
            digest = hashlib.sha256(serialize_binary(case.body)).digest()
            case.headers[name] = f"sha-256=:{base64.b64encode(digest).decode()}:"
