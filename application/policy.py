"""Role-based access control: the ONE table of what each role may do.

Use cases call ``authorize(principal, action)`` (403 ``forbidden`` when the role may not) or
``allowed``. Ownership and visibility rules (a personal project is invisible to others, only
an owner changes their project) live in the domain and apply on top of this table: a role
that may ``PROJECT_UPDATE`` still changes only what it owns, unless it is an admin.
"""

from __future__ import annotations

from enum import StrEnum

from domain.errors import Forbidden
from domain.identity import Principal, Role


class Action(StrEnum):
    PROJECT_READ_PUBLIC = "project.read_public"
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE_OWN = "project.update_own"
    PROJECT_UPDATE_ANY = "project.update_any"
    PROJECT_READ_ANY = "project.read_any"
    CONTENT_CREATE = "content.create"  # posts, collections, files
    USER_READ_SELF = "user.read_self"
    USER_LIST = "user.list"
    USER_READ_ANY = "user.read_any"
    USER_UPDATE_ACCESS = "user.update_access"  # roles and the active flag
    JOB_DEAD_LETTERS = "job.dead_letters"


_GUEST = frozenset({Action.PROJECT_READ_PUBLIC, Action.USER_READ_SELF})
_MEMBER = _GUEST | {Action.PROJECT_CREATE, Action.PROJECT_UPDATE_OWN, Action.CONTENT_CREATE}

#: role -> the actions it grants. Admin may do everything.
POLICY: dict[Role, frozenset[Action]] = {
    Role.GUEST: _GUEST,
    Role.MEMBER: frozenset(_MEMBER),
    Role.ADMIN: frozenset(Action),
}

_MESSAGES: dict[Action, str] = {
    Action.USER_LIST: "Only admins may list users.",
    Action.USER_READ_ANY: "Only admins may read other users' accounts.",
    Action.USER_UPDATE_ACCESS: "Only admins may change roles or deactivate accounts.",
    Action.PROJECT_CREATE: "Guests can read public projects but create nothing.",
    Action.CONTENT_CREATE: "Guests can read public projects but create nothing.",
}


def allowed(principal: Principal, action: Action) -> bool:
    """True when any of the caller's roles grants ``action``."""
    return any(action in POLICY.get(role, frozenset()) for role in principal.roles)


def authorize(principal: Principal, action: Action) -> None:
    """Return when allowed; ``Forbidden`` (403) otherwise."""
    if not allowed(principal, action):
        raise Forbidden(_MESSAGES.get(action))


def role_table() -> list[tuple[str, dict[str, bool]]]:
    """(action, {role: allowed}) rows: the README's role x action table is generated from this."""
    return [(action.value, {role.value: action in POLICY[role] for role in Role}) for action in Action]
