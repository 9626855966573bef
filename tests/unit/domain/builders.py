"""Small factories for domain records, so each test states only what matters to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.board import Project, Task, Visibility
from domain.identity import Principal, Role

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)

OWNER = Principal("owner", frozenset({Role.MEMBER}))
OTHER = Principal("other", frozenset({Role.MEMBER}))
ADMIN = Principal("admin", frozenset({Role.ADMIN}))
GUEST = Principal("guest", frozenset({Role.GUEST}))


def project(**overrides: Any) -> Project:
    values: dict[str, Any] = {
        "id": "p1",
        "owner_id": OWNER.user_id,
        "title": "Build a shed",
        "created_at": T0,
        "updated_at": T0,
        "visibility": Visibility.PERSONAL,
    }
    values.update(overrides)
    return Project(**values)


def task(**overrides: Any) -> Task:
    values: dict[str, Any] = {
        "id": "t1",
        "project_id": "p1",
        "title": "Pour the slab",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Task(**values)
