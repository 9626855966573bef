"""``trellis seed``: demo data per environment.

- development: demo users (password below, printed), projects and tasks.
- test: the same small fixture set.
- production: refused unless ``--force``; then only an initial admin from
  ``SEED_ADMIN_EMAIL`` / ``SEED_ADMIN_PASSWORD`` — never demo data.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import structlog

from application.seeding import SeedProject, SeedService, SeedTask, SeedUser
from domain.board import Visibility
from domain.identity import Role, check_password_policy
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import Settings, SettingsError

log = structlog.get_logger("trellis.seed")

DEMO_PASSWORD = "trellis-demo-board-2026"  # noqa: S105 - development demo data; production never seeds it


def demo_data(today: date) -> tuple[list[SeedUser], list[SeedProject]]:
    users = [
        SeedUser("admin@trellis.example", "Ada Admin", DEMO_PASSWORD, frozenset({Role.ADMIN, Role.MEMBER})),
        SeedUser("alice@trellis.example", "Alice Fieldwork", DEMO_PASSWORD),
        SeedUser("bob@trellis.example", "Bob Builder", DEMO_PASSWORD),
        SeedUser("guest@trellis.example", "Gus Guest", DEMO_PASSWORD, frozenset({Role.GUEST})),
    ]
    projects = [
        SeedProject(
            "alice@trellis.example",
            "River bank survey",
            Visibility.PUBLIC,
            "Survey the east bank before the spring floods.",
            (
                SeedTask("Book the boat", 100, "logistics", today - timedelta(days=3)),
                SeedTask("Measure erosion points", 40, "field", today + timedelta(days=4)),
                SeedTask("Write the report", 0, "office", today + timedelta(days=14)),
            ),
        ),
        SeedProject(
            "alice@trellis.example",
            "Alice's private notes",
            Visibility.PERSONAL,
            tasks=(SeedTask("Sort photos", 20, "office"),),
        ),
        SeedProject(
            "bob@trellis.example",
            "Barn roof repair",
            Visibility.PUBLIC,
            tasks=(
                SeedTask("Order shingles", 100, "logistics"),
                SeedTask("Strip the old roof", 60, "field", today + timedelta(days=2)),
            ),
        ),
    ]
    return users, projects


async def run_seed(settings: Settings, *, force: bool) -> int:
    if settings.production and not force:
        log.error(
            "seed_refused",
            reason="APP_ENV=production: demo data is never seeded; pass --force to create "
            "only the initial admin from SEED_ADMIN_EMAIL and SEED_ADMIN_PASSWORD",
        )
        return 2
    container = await bootstrap(settings)
    try:
        if settings.production:
            email = os.environ.get("SEED_ADMIN_EMAIL", "").strip()
            password = os.environ.get("SEED_ADMIN_PASSWORD", "")
            if not email or not password:
                raise SettingsError("SEED_ADMIN_EMAIL and SEED_ADMIN_PASSWORD are required to seed production")
            check_password_policy(password, email)
            users = [SeedUser(email, "Administrator", password, frozenset({Role.ADMIN, Role.MEMBER}))]
            projects: list[SeedProject] = []
        else:
            users, projects = demo_data(container.ports.clock.now().date())
        service = SeedService(container.ports, container.hasher, container.projects, container.tasks)
        report = await service.seed(users, projects)
        log.info("seeded", env=settings.app_env, created=report.created, existing=report.existing)
        if not settings.production:
            # stdout, not the log: the log redacts anything named like a password
            print(f"demo accounts: {', '.join(u.email for u in users)} (password: {DEMO_PASSWORD})")  # noqa: T201
    finally:
        await container.close()
    return 0
