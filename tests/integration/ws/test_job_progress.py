"""Job progress on the websocket: an import's ``job.progress`` events reach the owner's
``user:me`` channel and end with ``job.succeeded`` (in-process queue); a job run by another
container (a worker process) reaches the API's websockets through the Redis streams."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain.jobs import Job
from domain.ports import JobProgress
from entrypoints.bootstrap import bootstrap
from tests.integration.http.helpers import make_settings
from tests.integration.ws.conftest import LiveServer, live_server, nothing_more, receive_until, subscribe
from tests.support.redis import redis_url


def _csv(rows: int) -> bytes:
    lines = ["title,description,tag,progress,finish_date"]
    lines += [f"Task {n},row {n},site,{n % 101},2030-01-02" for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _job_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("type") == "event" and str(m.get("event", "")).startswith("job.")]


@pytest.fixture
async def live_import(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(FILE_STORAGE_ROOT=str(tmp_path)) as value:
        yield value


async def test_import_progress_reaches_user_me_and_ends_with_succeeded(live_import: LiveServer) -> None:
    live = live_import
    owner = await live.api.member()
    other = await live.api.member()
    project = await live.api.create_project(owner, title="Import live")
    async with live.socket(owner) as ws, live.socket(other) as stranger:
        assert (await subscribe(ws, "user:me"))["type"] == "subscribed"
        await subscribe(stranger, "user:me")
        response = await live.api.client.post(
            f"/api/v1/projects/{project['id']}/import?mode=atomic",
            files={"file": ("tasks.csv", _csv(5000), "application/octet-stream")},
            headers=owner.headers,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["data"]["id"]
        seen = await receive_until(ws, lambda m: m.get("event") in ("job.succeeded", "job.failed"), wait=20)
        await nothing_more(stranger)  # someone else's job is not announced to them
    events = _job_events(seen)
    assert [e["event"] for e in events[:-1]] == ["job.progress"] * (len(events) - 1)
    assert events[-1]["event"] == "job.succeeded"
    assert len(events) >= 2
    assert all(e["channel"] == f"user:{owner.user_id}" and e["data"]["job_id"] == job_id for e in events)
    assert events[0]["data"]["state"] == "running"
    progress = [e["data"]["progress"] for e in events]
    assert progress == sorted(progress)
    assert events[-1]["data"] == {
        "job_id": job_id,
        "kind": "tasks.import",
        "state": "succeeded",
        "progress": 100,
        "attempts": 1,
    }


async def test_a_failed_import_ends_with_job_failed(live_import: LiveServer) -> None:
    live = live_import
    owner = await live.api.member()
    project = await live.api.create_project(owner, title="Import fails")
    async with live.socket(owner) as ws:
        await subscribe(ws, "user:me")
        response = await live.api.client.post(
            f"/api/v1/projects/{project['id']}/import?mode=atomic",
            files={"file": ("tasks.csv", b"title,progress\n,500\n", "application/octet-stream")},
            headers=owner.headers,
        )
        assert response.status_code == 202, response.text
        seen = await receive_until(ws, lambda m: m.get("event") in ("job.succeeded", "job.failed"))
    events = _job_events(seen)
    assert events[-1]["event"] == "job.failed"
    assert events[-1]["data"]["state"] == "failed"
    assert "nothing was imported" in events[-1]["data"]["error"]


@pytest.mark.real_service
async def test_a_worker_containers_job_events_reach_the_api_websocket_through_redis() -> None:
    """The worker bootstraps the same container (publisher -> forwarder -> Redis streams), so
    what its jobs announce reaches websockets served by another process."""
    url = redis_url()
    kind = f"test.progress.{uuid.uuid4().hex[:8]}"
    async with live_server(REDIS_URL=url, JOB_QUEUE="memory") as live:
        owner = await live.api.member()
        worker = await bootstrap(make_settings(REDIS_URL=url, JOB_QUEUE="memory"))
        try:
            assert worker.jobs is not None
            assert worker.live is not live.container.live

            async def handler(job: Job, progress: JobProgress) -> dict[str, Any]:
                await progress(50)
                return {"ok": True}

            worker.jobs.queue.register(kind, handler)
            async with live.socket(owner) as ws:
                await subscribe(ws, "user:me")
                job = await worker.jobs.queue.enqueue(kind, {}, owner_id=owner.user_id)
                seen = await receive_until(ws, lambda m: m.get("event") == "job.succeeded", wait=10)
        finally:
            await worker.close()
    events = _job_events(seen)
    assert [e["event"] for e in events][-1] == "job.succeeded"
    assert events[0]["data"]["state"] == "running"
    assert all(e["data"]["job_id"] == job.id for e in events)
