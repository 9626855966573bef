"""The overdue digest on the websocket: when the scheduler's maintenance service runs it, each
owner's ``user:me`` channel receives ``notification.sent`` (subject, body) — and nobody else's
does; from a scheduler process of its own it reaches the API's websockets through Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adapters.memory.jobs import LogNotifier
from application.projects import NewProject
from application.tasks import NewTask
from domain.identity import Principal, Role, User
from entrypoints.bootstrap import bootstrap
from tests.integration.http.helpers import make_settings
from tests.integration.ws.conftest import LiveServer, live_server, nothing_more, receive_until, subscribe
from tests.support.redis import redis_url

NOTIFICATION = "notification.sent"


def _is_digest(message: dict[str, Any]) -> bool:
    return message.get("type") == "event" and message.get("event") == NOTIFICATION


async def test_the_digest_reaches_the_owner_on_user_me_and_nobody_else(live: LiveServer) -> None:
    owner = await live.api.member()
    other = await live.api.member()
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    project = await live.api.create_project(owner, title="Bridge")
    await live.api.create_task(owner, project["id"], title="pour the deck", finish_date=yesterday)
    await live.api.create_task(owner, project["id"], title="paint", finish_date="2999-01-01")
    assert live.container.jobs is not None
    async with live.socket(owner) as ws, live.socket(other) as stranger:
        assert (await subscribe(ws, "user:me"))["type"] == "subscribed"
        assert (await subscribe(stranger, "user:me"))["type"] == "subscribed"
        result = await live.container.jobs.maintenance.overdue_digest()
        assert result == {"owners": 1, "tasks": 1, "sent": 1, "skipped": 0, "failed": 0}
        [message] = [m for m in await receive_until(ws, _is_digest) if _is_digest(m)]
        await nothing_more(stranger)  # someone else's digest is not theirs to see
        await nothing_more(ws)  # one digest, one event
    assert message["channel"] == f"user:{owner.user_id}"
    assert message["data"] == {
        "subject": "1 overdue task(s)",
        "body": f"- Bridge: pour the deck (due {yesterday}, 0%)",
    }
    # the configured channel (the log by default) got the same message
    notifier = live.container.jobs.notifier
    assert isinstance(notifier, LogNotifier)
    assert notifier.sent == [(owner.user_id, "1 overdue task(s)", f"- Bridge: pour the deck (due {yesterday}, 0%)")]


@pytest.mark.real_service
async def test_a_scheduler_containers_digest_reaches_the_api_websocket_through_redis() -> None:
    """The scheduler bootstraps its own container (publisher -> forwarder -> Redis streams), so
    the digest it sends reaches websockets served by another process. Storage is in-memory per
    container here, so the scheduler's store is given the owner (same id) and the late task."""
    url = redis_url()
    async with live_server(REDIS_URL=url, JOB_QUEUE="memory") as live:
        owner = await live.api.member()
        scheduler = await bootstrap(make_settings(REDIS_URL=url, JOB_QUEUE="memory"))
        try:
            assert scheduler.jobs is not None
            assert scheduler.live is not live.container.live
            now = datetime.now(UTC)
            principal = Principal(user_id=owner.user_id, roles=frozenset({Role.MEMBER}))
            await scheduler.ports.uow.users.add(
                User(
                    id=owner.user_id,
                    email=owner.email,
                    display_name="Owner",
                    roles=principal.roles,
                    created_at=now,
                    updated_at=now,
                )
            )
            project = await scheduler.projects.create(principal, NewProject(title="Site"))
            await scheduler.tasks.create(principal, project.id, NewTask(title="fence", finish_date=date(2000, 1, 2)))
            async with live.socket(owner) as ws:
                await subscribe(ws, "user:me")
                result = await scheduler.jobs.maintenance.overdue_digest()
                assert result["sent"] == 1
                seen = await receive_until(ws, _is_digest, wait=10)
        finally:
            await scheduler.close()
    [message] = [m for m in seen if _is_digest(m)]
    assert message["channel"] == f"user:{owner.user_id}"
    assert message["data"] == {"subject": "1 overdue task(s)", "body": "- Site: fence (due 2000-01-02, 0%)"}
