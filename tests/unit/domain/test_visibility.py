"""Who may see and change a project: personal projects do not exist for others (404, never 403)."""

from __future__ import annotations

import pytest

from domain.board import (
    Visibility,
    can_change_project,
    can_view_project,
    ensure_can_create,
    ensure_changeable,
    ensure_visible,
)
from domain.errors import Forbidden, NotFound
from domain.identity import Principal, Role
from tests.unit.domain.builders import ADMIN, GUEST, OTHER, OWNER, T1, project


@pytest.mark.parametrize(
    ("principal", "visibility", "visible"),
    [
        (OWNER, Visibility.PERSONAL, True),
        (OWNER, Visibility.PUBLIC, True),
        (ADMIN, Visibility.PERSONAL, True),
        (ADMIN, Visibility.PUBLIC, True),
        (OTHER, Visibility.PERSONAL, False),
        (OTHER, Visibility.PUBLIC, True),
        (GUEST, Visibility.PERSONAL, False),
        (GUEST, Visibility.PUBLIC, True),
        (None, Visibility.PERSONAL, False),
        (None, Visibility.PUBLIC, False),
    ],
)
def test_can_view_project(principal: Principal | None, visibility: Visibility, visible: bool) -> None:
    assert can_view_project(principal, project(visibility=visibility)) is visible


@pytest.mark.parametrize("principal", [OWNER, ADMIN, OTHER, GUEST])
def test_a_deleted_project_is_visible_to_nobody(principal: Principal) -> None:
    deleted = project(visibility=Visibility.PUBLIC, deleted_at=T1)

    assert can_view_project(principal, deleted) is False
    assert can_change_project(principal, deleted) is False
    with pytest.raises(NotFound):
        ensure_visible(principal, deleted)


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [(OWNER, True), (ADMIN, True), (OTHER, False), (GUEST, False), (None, False)],
)
def test_can_change_project(principal: Principal | None, allowed: bool) -> None:
    assert can_change_project(principal, project(visibility=Visibility.PUBLIC)) is allowed


def test_ensure_visible_returns_the_project() -> None:
    shown = project()

    assert ensure_visible(OWNER, shown) is shown


def test_ensure_visible_treats_a_missing_project_as_not_found() -> None:
    with pytest.raises(NotFound):
        ensure_visible(OWNER, None)


def test_ensure_visible_hides_another_members_personal_project() -> None:
    with pytest.raises(NotFound) as raised:
        ensure_visible(OTHER, project(visibility=Visibility.PERSONAL))

    assert raised.value.code == "not_found"


def test_ensure_visible_refuses_anonymous_callers_even_for_public_projects() -> None:
    with pytest.raises(NotFound):
        ensure_visible(None, project(visibility=Visibility.PUBLIC))


@pytest.mark.parametrize("principal", [OWNER, ADMIN])
def test_ensure_changeable_lets_owner_and_admin_through(principal: Principal) -> None:
    target = project(visibility=Visibility.PERSONAL)

    assert ensure_changeable(principal, target) is target


def test_ensure_changeable_forbids_another_member_on_a_public_project() -> None:
    with pytest.raises(Forbidden) as raised:
        ensure_changeable(OTHER, project(visibility=Visibility.PUBLIC))

    assert raised.value.code == "forbidden"


def test_ensure_changeable_forbids_a_guest_on_a_public_project() -> None:
    with pytest.raises(Forbidden):
        ensure_changeable(GUEST, project(visibility=Visibility.PUBLIC))


def test_ensure_changeable_says_not_found_not_forbidden_on_another_members_personal_project() -> None:
    with pytest.raises(NotFound):
        ensure_changeable(OTHER, project(visibility=Visibility.PERSONAL))


def test_ensure_changeable_says_not_found_for_a_missing_project() -> None:
    with pytest.raises(NotFound):
        ensure_changeable(OWNER, None)


@pytest.mark.parametrize(
    "principal",
    [GUEST, Principal("nobody", frozenset())],
    ids=["guest", "no-roles"],
)
def test_guests_create_nothing(principal: Principal) -> None:
    assert principal.can_create is False
    with pytest.raises(Forbidden):
        ensure_can_create(principal)


@pytest.mark.parametrize(
    "roles",
    [{Role.MEMBER}, {Role.ADMIN}, {Role.GUEST, Role.MEMBER}],
    ids=["member", "admin", "guest+member"],
)
def test_members_and_admins_may_create(roles: set[Role]) -> None:
    principal = Principal("someone", frozenset(roles))

    ensure_can_create(principal)

    assert principal.can_create is True


def test_a_principal_is_a_member_by_default() -> None:
    principal = Principal("u")

    assert principal.roles == frozenset({Role.MEMBER})
    assert principal.is_admin is False
