"""The overdue digest through the SMTP notifier: each owner's message arrives by e-mail; a
refused or unreachable owner is logged and counted while the others still get theirs; owners
who are deactivated or gone get nothing; a hanging server costs at most the timeout per owner."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from adapters.memory.clock import FixedClock
from adapters.notify.smtp import SmtpNotifier
from application.maintenance import GIVE_UP_AFTER_FAILURES, MaintenanceService
from application.projects import NewProject
from application.tasks import NewTask
from domain.identity import Role, User
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.worker import scheduled_jobs
from tests.integration.http.helpers import make_settings
from tests.support.smtp import silent_server, smtp_server


@pytest.fixture
async def container() -> AsyncIterator[Container]:
    built = await bootstrap(make_settings(), clock=FixedClock())
    try:
        yield built
    finally:
        await built.close()


async def owner_with_overdue_task(container: Container, name: str, *, active: bool = True) -> User:
    now = container.ports.clock.now()
    user = User(
        id=f"u-{name}",
        email=f"{name}@example.com",
        display_name=name.title(),
        roles=frozenset({Role.MEMBER}),
        created_at=now,
        updated_at=now,
        active=active,
    )
    await container.ports.uow.users.add(user)
    project = await container.projects.create(user.principal, NewProject(title=f"{name.title()}'s site"))
    late = now.date() - timedelta(days=2)
    await container.tasks.create(user.principal, project.id, NewTask(title=f"{name} pours concrete", finish_date=late))
    return user


async def test_each_owner_gets_an_email_a_refused_one_is_counted_and_the_rest_go_on(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("ada", "bob", "cyd"):
        await owner_with_overdue_task(container, name)
    await owner_with_overdue_task(container, "dee", active=False)
    with smtp_server() as server:
        server.inbox.refuse.add("bob@example.com")
        notifier = SmtpNotifier(
            host=server.host, port=server.port, security="none", sender="trellis@example.com", timeout_seconds=5
        )
        with caplog.at_level(logging.WARNING, logger="trellis.maintenance"):
            result = await MaintenanceService(container.ports, notifier, 30).overdue_digest()
        received = server.inbox.messages()
    assert result == {"owners": 4, "tasks": 4, "sent": 2, "skipped": 1, "failed": 1}
    by_address = {message.rcpt_tos: message.message for message in received}
    assert set(by_address) == {("ada@example.com",), ("cyd@example.com",)}
    ada = by_address[("ada@example.com",)]
    assert ada["To"] == "Ada <ada@example.com>"
    assert ada["Subject"] == "1 overdue task(s)"
    assert "ada pours concrete" in ada.get_content()
    assert "bob" not in ada.get_content()  # each owner sees their own tasks only
    assert "not delivered user_id=u-bob" in caplog.text


async def test_a_hanging_server_costs_at_most_the_timeout_per_owner(container: Container) -> None:
    for name in ("ada", "bob"):
        await owner_with_overdue_task(container, name)
    async with silent_server() as (host, port):
        notifier = SmtpNotifier(host=host, port=port, security="none", sender="t@example.com", timeout_seconds=0.5)
        started = time.monotonic()
        result = await MaintenanceService(container.ports, notifier, 30).overdue_digest()
        elapsed = time.monotonic() - started
    assert (result["sent"], result["failed"]) == (0, 2)
    assert elapsed < 2 * 0.5 + 1.5


def digest_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("trellis_digest_notifications_total", {"outcome": outcome}) or 0.0


async def test_the_scheduled_digest_counts_each_outcome_in_prometheus() -> None:
    with smtp_server() as server:
        server.inbox.refuse.add("bob@example.com")
        settings = make_settings(SMTP_URL=f"smtp+insecure://{server.host}:{server.port}", SMTP_FROM="t@example.com")
        built = await bootstrap(settings, clock=FixedClock())
        try:
            for name in ("ada", "bob"):
                await owner_with_overdue_task(built, name)
            await owner_with_overdue_task(built, "dee", active=False)
            before = {outcome: digest_count(outcome) for outcome in ("sent", "skipped", "failed")}
            [digest] = [job for job in scheduled_jobs(settings, built) if job.name == "overdue_digest"]
            result = await digest.run()
        finally:
            await built.close()
    assert (result["sent"], result["skipped"], result["failed"]) == (1, 1, 1)
    assert {outcome: digest_count(outcome) - before[outcome] for outcome in before} == {
        "sent": 1.0,
        "skipped": 1.0,
        "failed": 1.0,
    }


async def test_after_failures_in_a_row_the_digest_stops_trying_until_the_next_run(container: Container) -> None:
    owners = GIVE_UP_AFTER_FAILURES + 3
    for n in range(owners):
        await owner_with_overdue_task(container, f"own{n:02d}")
    with smtp_server() as server:
        server.inbox.refuse.update(f"own{n:02d}@example.com" for n in range(owners))
        notifier = SmtpNotifier(
            host=server.host, port=server.port, security="none", sender="t@example.com", timeout_seconds=5
        )
        result = await MaintenanceService(container.ports, notifier, 30).overdue_digest()
        attempts = server.inbox.refused
    assert (result["sent"], result["failed"]) == (0, owners)
    assert attempts == GIVE_UP_AFTER_FAILURES  # the last three were not tried


async def test_a_success_resets_the_run_of_failures(container: Container) -> None:
    owners = GIVE_UP_AFTER_FAILURES * 2
    for n in range(owners):
        await owner_with_overdue_task(container, f"own{n:02d}")
    with smtp_server() as server:
        # every other owner refused: never GIVE_UP_AFTER_FAILURES in a row
        server.inbox.refuse.update(f"own{n:02d}@example.com" for n in range(0, owners, 2))
        notifier = SmtpNotifier(
            host=server.host, port=server.port, security="none", sender="t@example.com", timeout_seconds=5
        )
        result = await MaintenanceService(container.ports, notifier, 30).overdue_digest()
    assert (result["sent"], result["failed"]) == (owners // 2, owners // 2)
