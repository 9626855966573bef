"""Scheduled maintenance: purge old soft-deleted records, repair project progress, overdue digest,
refresh the weather of sites with a finish date coming up.

Each use case is idempotent, so a run repeated after a crash (or by a second scheduler that
won the lock later) does no harm. Scheduling, locks and counting live in ``entrypoints/worker``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

from application.common import EventBuffer, Ports
from application.files import FileService
from application.tasks import recompute_progress
from application.weather import WeatherService
from domain.board import Project, Task
from domain.errors import NotFound, UnknownPlace, VersionConflict, WeatherUnavailable
from domain.paging import PageRequest, Sort
from domain.ports import NotificationFailed, Notifier, ProjectQuery, Recipient, TaskQuery

logger = logging.getLogger("trellis.maintenance")

BATCH = 100
DIGEST_MAX_LINES = 50
#: this many failed deliveries in a row and the digest stops trying for this run (a mail server
#: that is down would otherwise cost a timeout per owner, past the scheduler's lock)
GIVE_UP_AFTER_FAILURES = 5
#: a site's weather is refreshed while its project or one of its open tasks finishes within this many days
WEATHER_AHEAD_DAYS = 5


class MaintenanceService:
    def __init__(
        self,
        ports: Ports,
        notifier: Notifier,
        retention_days: int,
        weather: WeatherService | None = None,
        files: FileService | None = None,
    ) -> None:
        self._ports = ports
        self._files = files
        self._notifier = notifier
        self._retention = timedelta(days=retention_days)
        self._weather = weather
        self._weather_skip_logged = False

    async def purge_deleted(self) -> dict[str, Any]:
        """Remove for good what was soft-deleted longer ago than the retention period: tasks,
        projects, posts, collections, and file records with their blobs (a blob the store fails
        to delete keeps its record for the next run)."""
        before = self._ports.clock.now() - self._retention
        uow = self._ports.uow
        result: dict[str, Any] = {
            "tasks": await uow.tasks.purge_deleted(before),
            "projects": len(await uow.projects.purge_deleted(before)),
            "posts": await uow.posts.purge_deleted(before),
            "collections": await uow.collections.purge_deleted(before),
        }
        if self._files is not None:
            result.update(await self._files.purge_deleted(before))
        result["deleted_before"] = before.isoformat()
        return result

    async def recompute_progress(self) -> dict[str, Any]:
        """Derive every live project's progress from its tasks again; repair and announce any drift."""
        checked = repaired = 0
        async for project in self._projects():
            checked += 1
            for _attempt in range(5):
                try:
                    if await self._repair(project.id):
                        repaired += 1
                    break
                except VersionConflict:
                    continue
                except NotFound:
                    break
        return {"projects": checked, "repaired": repaired}

    async def _repair(self, project_id: str) -> bool:
        uow = self._ports.uow
        buffer = EventBuffer(self._ports, None)
        async with uow.transaction():
            project = await uow.projects.get(project_id)
            if project is None:
                return False
            changed = await recompute_progress(uow, project, buffer)
        await buffer.publish()
        return changed

    async def overdue_digest(self) -> dict[str, Any]:
        """One message per owner listing their open tasks whose finish date has passed; owners who
        are deleted or deactivated get none. A failed delivery is logged and counted, and the
        other owners still get theirs — until ``GIVE_UP_AFTER_FAILURES`` fail in a row, when the
        rest are counted as failed without a try (the channel is down)."""
        today = self._ports.clock.now().date()
        per_owner: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        async for project in self._projects():
            async for task in self._tasks(project.id):
                if task.finish_date is None or task.finish_date >= today or task.completed:
                    continue
                counts[project.owner_id] = counts.get(project.owner_id, 0) + 1
                lines = per_owner.setdefault(project.owner_id, [])
                if len(lines) < DIGEST_MAX_LINES:
                    lines.append(
                        f"- {project.title}: {task.title} (due {task.finish_date.isoformat()}, {task.progress}%)"
                    )
        outcome = {"sent": 0, "skipped": 0, "failed": 0}
        failing = 0  # deliveries failed in a row
        for owner_id, lines in per_owner.items():
            if failing >= GIVE_UP_AFTER_FAILURES:
                outcome["failed"] += 1  # the channel is down: not tried, counted as failed
                continue
            more = counts[owner_id] - len(lines)
            body = "\n".join(lines + ([f"… and {more} more"] if more > 0 else []))
            result = await self._deliver(owner_id, f"{counts[owner_id]} overdue task(s)", body)
            outcome[result] += 1
            failing = failing + 1 if result == "failed" else 0
            if failing == GIVE_UP_AFTER_FAILURES:
                logger.warning("overdue digest: %d deliveries failed in a row; the rest wait for the next run", failing)
        return {"owners": len(per_owner), "tasks": sum(counts.values()), **outcome}

    async def _deliver(self, user_id: str, subject: str, body: str) -> str:
        """One owner's digest: ``sent``, ``skipped`` (no such live, active user, or no address for
        this channel) or ``failed`` (logged; the digest goes on with the next owner)."""
        user = await self._ports.uow.users.get(user_id)
        if user is None or not user.active:
            return "skipped"
        recipient = Recipient(user_id=user.id, email=user.email or None, display_name=user.display_name)
        try:
            delivered = await self._notifier.notify(recipient, subject, body)
        except NotificationFailed as error:
            logger.warning("overdue digest not delivered user_id=%s: %s", user_id, error)
            return "failed"
        return "sent" if delivered else "skipped"

    async def refresh_weather(self) -> dict[str, Any]:
        """Refresh the cached forecast of every site whose project (or an open task of it) finishes
        in the next ``WEATHER_AHEAD_DAYS`` days; one provider call per point, whatever shares it."""
        weather = self._weather
        if weather is None or not weather.configured:
            if not self._weather_skip_logged:
                self._weather_skip_logged = True
                logger.warning("weather refresh skipped: no weather provider (set OPENWEATHER_API_KEY)")
            return {"skipped": "not_configured"}
        today = self._ports.clock.now().date()
        until = today + timedelta(days=WEATHER_AHEAD_DAYS)
        refreshed: set[tuple[float, float]] = set()
        projects = failed = 0
        async for project in self._projects():
            if project.site is None or not await self._finishes_soon(project, today, until):
                continue
            projects += 1
            try:
                point = await weather.site_point(project.site)
                if (point.lat, point.lon) not in refreshed:
                    await weather.at_point(point, refresh=True)
                    refreshed.add((point.lat, point.lon))
            except (WeatherUnavailable, UnknownPlace) as error:
                failed += 1
                logger.warning("weather refresh failed project=%s: %s", project.id, error)
        return {"projects": projects, "points": len(refreshed), "failed": failed}

    async def _finishes_soon(self, project: Project, today: date, until: date) -> bool:
        if project.finish_date is not None and today <= project.finish_date <= until:
            return True
        async for task in self._tasks(project.id):
            if not task.completed and task.finish_date is not None and today <= task.finish_date <= until:
                return True
        return False

    async def _projects(self) -> AsyncIterator[Project]:
        page_number = 1
        while True:
            page = await self._ports.uow.projects.list(
                ProjectQuery(viewer_id=None), PageRequest(page=page_number, size=BATCH, sort=Sort("created_at"))
            )
            for project in page.items:
                yield project
            if page_number >= page.pages:
                return
            page_number += 1

    async def _tasks(self, project_id: str) -> AsyncIterator[Task]:
        page_number = 1
        while True:
            page = await self._ports.uow.tasks.list(
                TaskQuery(project_id=project_id), PageRequest(page=page_number, size=BATCH, sort=Sort("created_at"))
            )
            for task in page.items:
                yield task
            if page_number >= page.pages:
                return
            page_number += 1
