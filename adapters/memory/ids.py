"""Identifier generation."""

from __future__ import annotations

import uuid


class UuidGenerator:
    """Random 128-bit ids as 32 lowercase hex characters: opaque, unique and URL-safe."""

    def new_id(self) -> str:
        return uuid.uuid4().hex
