"""Opaque, tamper-evident paging cursors (``?cursor=`` on the big lists).

A cursor is ``base64url(payload || tag)``: ``payload`` is the JSON array
``[1, sort, fingerprint, value type, value, id]`` — the position (the last item's sort value
and id, ``domain.paging.Keyset``), the sort it was made for, and a fingerprint of the list and
its filters — and ``tag`` the first 16 bytes of HMAC-SHA256 over it with a key of its own,
derived from the service's secret (``derive_cursor_key``). Decoding checks, in order: the shape
and the tag (a tampered, truncated or foreign-key cursor), the fingerprint (a cursor of
another list or other filters) and the sort. Each failure is ``InvalidCursor`` (422
``invalid_cursor``, field ``query.cursor``) with a message saying which.

Clients must treat cursors as opaque; they are signed, not encrypted (they hold nothing the
client has not already been sent: the sort value and id of an item on the previous page).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import msgspec

from domain.errors import InvalidCursor
from domain.paging import Keyset, Sort, sort_value_from_text, sort_value_to_text

VERSION = 1
TAG_BYTES = 16
MAX_CURSOR_LENGTH = 1024
_KEY_LABEL = b"trellis-paging-cursor-v1"

_Payload = tuple[int, str, str, str, str, str]


def derive_cursor_key(secret: bytes) -> bytes:
    """A key used for cursors only (HMAC of a fixed label), so it never doubles as another key."""
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def fingerprint(route: str, *filters: str | None) -> str:
    """Names one list with its filters: a cursor is only valid on the list it was made for."""
    canonical = msgspec.json.encode([route, *filters])
    return hashlib.sha256(canonical).hexdigest()[:16]


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a cursor key needs at least 32 bytes")
        self._key = key

    def encode(self, position: Keyset, sort: Sort, list_fingerprint: str) -> str:
        kind, text = sort_value_to_text(position.value)
        payload = msgspec.json.encode([VERSION, sort.render(), list_fingerprint, kind, text, position.id])
        return base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str, sort: Sort, list_fingerprint: str) -> Keyset | None:
        """The position a cursor names; None for the empty cursor (the first page)."""
        if cursor == "":
            return None
        payload = self._verified(cursor)
        try:
            version, made_for, made_on, kind, text, item_id = msgspec.json.decode(payload, type=_Payload)
            value = sort_value_from_text(kind, text)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError, TypeError):
            raise InvalidCursor("is not a cursor this service issued") from None
        if version != VERSION:
            raise InvalidCursor("comes from another version of this service; start again with cursor=")
        if made_on != list_fingerprint:
            raise InvalidCursor("was made for another list or other filters; start again with cursor=")
        if made_for != sort.render():
            raise InvalidCursor(f"was made for sort={made_for}; send that sort, or start again with cursor=")
        return Keyset(value=value, id=item_id)

    def _verified(self, cursor: str) -> bytes:
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise InvalidCursor("is not a cursor this service issued")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor("is not a cursor this service issued") from None
        canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        if canonical != cursor or len(raw) <= TAG_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidCursor("is not a cursor this service issued (tampered, truncated or expired key)")
        return payload

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:TAG_BYTES]
