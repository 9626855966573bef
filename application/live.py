"""Live events: which channels a caller may listen to.

The websocket entrypoint asks here before it subscribes a connection to a channel, and again
when a project changes, so the visibility rule of the board (``can_view_project``) decides who
hears about a project, exactly as it decides who may read it.
"""

from __future__ import annotations

from application.projects import ProjectService
from domain.errors import NotFound
from domain.identity import Principal

PROJECT_PREFIX = "project:"
USER_PREFIX = "user:"
ANALYTICS = "analytics"


class LiveAccess:
    def __init__(self, projects: ProjectService) -> None:
        self._projects = projects

    async def resolve(self, principal: Principal, channel: str) -> str | None:
        """The channel's canonical name when ``principal`` may listen to it, else None.

        ``user:me`` (or the caller's own ``user:<id>``) is the caller's own channel;
        ``project:<id>`` needs a project the caller can see; ``analytics`` is open to every
        signed-in user. Anything else is refused.
        """
        if channel == ANALYTICS:
            return channel
        if channel.startswith(USER_PREFIX):
            who = channel.removeprefix(USER_PREFIX)
            return f"{USER_PREFIX}{principal.user_id}" if who in ("me", principal.user_id) else None
        if channel.startswith(PROJECT_PREFIX):
            project_id = channel.removeprefix(PROJECT_PREFIX)
            if project_id and await self.can_see_project(principal, project_id):
                return f"{PROJECT_PREFIX}{project_id}"
        return None

    async def can_see_project(self, principal: Principal, project_id: str) -> bool:
        """Whether the project exists for the caller now (the same rule as reading it)."""
        try:
            await self._projects.get(principal, project_id)
        except NotFound:
            return False
        return True
