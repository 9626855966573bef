"""User administration (admin only): list, read, change roles and the active flag.

Deactivating a user takes effect at once: every request re-reads the user behind an access
token (``AccountService.authenticate``), and a refresh token of an inactive user is refused
and its family revoked on first use (``AccountService.refresh``). Deactivation also sets the
user's token cutoff, so tokens issued before it stay refused after a later reactivation.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.common import EventBuffer, Ports, check_if_match
from application.policy import Action, authorize
from domain import events as ev
from domain.errors import FieldProblem, NotFound, SelfLockout, ValidationFailed
from domain.identity import Principal, Role, User
from domain.paging import Page, PageRequest


@dataclass(frozen=True, slots=True)
class AccessChange:
    """What an admin may change on an account; ``None`` leaves a field as it is."""

    roles: frozenset[Role] | None = None
    active: bool | None = None


class UserAdminService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    async def list(self, principal: Principal, page: PageRequest) -> Page[User]:
        authorize(principal, Action.USER_LIST)
        return await self._ports.uow.users.list(page)

    async def get(self, principal: Principal, user_id: str) -> User:
        if user_id != principal.user_id:
            authorize(principal, Action.USER_READ_ANY)
        user = await self._ports.uow.users.get(user_id)
        if user is None:
            raise NotFound("The user does not exist.")
        return user

    async def update(
        self, principal: Principal, user_id: str, change: AccessChange, expected_version: int | None = None
    ) -> User:
        authorize(principal, Action.USER_UPDATE_ACCESS)
        if change.roles is not None and not change.roles:
            raise ValidationFailed([FieldProblem("body.roles", "must name at least one role")])
        user = await self._ports.uow.users.get(user_id)
        if user is None:
            raise NotFound("The user does not exist.")
        check_if_match(user.version, expected_version)
        if user.id == principal.user_id:
            if change.roles is not None and Role.ADMIN not in change.roles:
                raise SelfLockout("You cannot remove your own admin role; ask another admin.")
            if change.active is False:
                raise SelfLockout("You cannot deactivate yourself; ask another admin.")
        before_roles, before_active = user.roles, user.active
        if change.roles is not None:
            user.roles = change.roles
        if change.active is not None:
            user.active = change.active
        if (user.roles, user.active) == (before_roles, before_active):
            return user  # nothing changed: no write, no event
        user.updated_at = self._ports.clock.now()
        if before_active and not user.active:
            user.revoke_tokens(user.updated_at)  # refresh tokens stay dead if the user is reactivated
        updated = await self._ports.uow.users.update(user, user.version)
        buffer = EventBuffer(self._ports, actor_id=principal.user_id)
        buffer.record(
            ev.USER_UPDATED,
            {
                "user_id": updated.id,
                "roles": sorted(updated.roles),
                "active": updated.active,
                "deactivated": before_active and not updated.active,
            },
            user_id=updated.id,
        )
        await buffer.publish()
        return updated
