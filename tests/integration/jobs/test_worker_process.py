"""``trellis worker`` as its own process against a real redis-server (and the MongoDB-wire test
server, so the API in this process and the worker share the records), with blobs on local disk
and on Azure Blob Storage (Azurite): an import queued over HTTP is spooled into the blob store,
run by the worker, and its spool is gone afterwards; a large export runs in the worker and its
file downloads through the API; SIGTERM stops the worker cleanly (exit 0). SIGTERM while an atomic
import runs: within ``WORKER_SHUTDOWN_GRACE_SECONDS`` the job finishes and the worker exits 0
after it; past the grace the worker exits 0 promptly, the job is back to ``queued`` with nothing
written (the transaction was cancelled), and a second worker imports every row once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.azure.blob import AzureBlobStore
from adapters.local.blob import LocalBlobStore
from domain.jobs import Job, JobState
from domain.ports import BlobStore
from tests.integration.http.helpers import Api, Member
from tests.integration.mongo.test_http import running_api
from tests.support.azurite import azurite_connection_string
from tests.support.mongo import mongo_url
from tests.support.redis import redis_url

pytestmark = [
    pytest.mark.real_service,
    pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning"),
]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def azurite() -> Iterator[str]:
    with azurite_connection_string() as value:
        yield value


@pytest.fixture(params=["local", "azure"])
def blob_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "local":
        return {"FILE_STORAGE_ROOT": str(tmp_path / "blobs")}
    return {
        "AZURE_STORAGE_CONNECTION_STRING": request.getfixturevalue("azurite"),
        "AZURE_STORAGE_CONTAINER": f"w{uuid.uuid4().hex[:20]}",
    }


def blob_store(env: dict[str, str]) -> BlobStore:
    """The store the API and the worker of this test share, as the test reads it."""
    if "AZURE_STORAGE_CONNECTION_STRING" in env:
        return AzureBlobStore(env["AZURE_STORAGE_CONNECTION_STRING"], env["AZURE_STORAGE_CONTAINER"])
    return LocalBlobStore(env["FILE_STORAGE_ROOT"])


async def stored_keys(env: dict[str, str], prefix: str) -> list[str]:
    far = datetime.now(UTC) + timedelta(days=1)
    return [key async for key in blob_store(env).older_than(prefix, far)]


@pytest.fixture
def env(blob_env: dict[str, str]) -> dict[str, str]:
    return {
        **blob_env,
        "APP_ENV": "test",
        "REDIS_URL": redis_url(),
        "MONGODB_URL": mongo_url(),
        "MONGODB_DATABASE": f"jobs_{uuid.uuid4().hex[:12]}",
        "EXPORT_INLINE_MAX_TASKS": "1",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "64",
        "WORKER_SHUTDOWN_GRACE_SECONDS": "5",
        "LOG_FORMAT": "json",
        # every test here signs up and logs in from the same client address against the same
        # Redis: the default 10/minute auth bucket would refuse the module's later sign-ups
        "RATE_LIMIT_AUTH": "1000/minute",
        "RATE_LIMIT_DEFAULT": "10000/minute",
    }


class WorkerProcess:
    """``trellis worker`` in its own process group, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path, command: str = "worker") -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "trellis"), command],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                cwd=ROOT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, marker: str, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if marker in self.log():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"worker never logged {marker}:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(env, tmp_path / "worker.log")
    try:
        process.wait_for("worker_started")
        yield process
    finally:
        process.stop()


async def test_the_worker_process_runs_an_import_and_stops_on_sigterm(
    env: dict[str, str], worker: WorkerProcess
) -> None:
    async with running_api(**env) as api:  # on this test's loop: PyMongo's client is bound to it
        project_id = await run_import_through_the_worker(api, worker)
        assert await stored_keys(env, "imports/") == []  # the worker removed the spool with the outcome
        await run_export_through_the_worker(api, worker, env, project_id)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=30) == 0, worker.log()[-3000:]
    assert "worker_stopped" in worker.log()


async def finished(api: Api, who: Member, job_id: str, worker: WorkerProcess) -> dict[str, Any]:
    job: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = (await api.client.get(f"/api/v1/jobs/{job_id}", headers=who.headers)).json()["data"]
        if job["state"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"the job never finished: {job}\n{worker.log()[-3000:]}")


async def run_export_through_the_worker(api: Api, worker: WorkerProcess, env: dict[str, str], project_id: str) -> None:
    owner = api.members[0]
    started = await api.client.get(f"/api/v1/projects/{project_id}/export?format=xml", headers=owner.headers)
    assert started.status_code == 202, started.text  # 2 tasks > EXPORT_INLINE_MAX_TASKS (1)
    job = await finished(api, owner, started.json()["data"]["id"], worker)
    assert job["state"] == "succeeded", (job, worker.log()[-3000:])
    assert await stored_keys(env, "exports/") == [f"exports/{job['id']}.xml"]
    download = await api.client.get(job["result"]["download_url"], headers=owner.headers)
    assert download.status_code == 200
    assert download.content.count(b"<task>") == 2
    assert b"<title>One</title>" in download.content
    moved = await api.client.get(f"{job['result']['download_url']}?redirect=1", headers=owner.headers)
    if "AZURE_STORAGE_CONNECTION_STRING" not in env:
        assert moved.status_code == 200  # local disk has no presigned URLs: the API streams the file
        return
    assert moved.status_code == 307, moved.text
    async with httpx.AsyncClient(timeout=10) as outside:
        direct = await outside.get(moved.headers["location"])
    assert direct.status_code == 200
    assert direct.content == download.content
    assert direct.headers["content-type"] == "application/xml"


async def run_import_through_the_worker(api: Api, worker: WorkerProcess) -> str:
    owner = await api.member()
    project = await api.create_project(owner, title="Via worker")
    body = b"title,progress\nOne,20\nTwo,40\n"
    response = await api.client.post(
        f"/api/v1/projects/{project['id']}/import",
        files={"file": ("tasks.csv", body, "text/csv")},
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["data"]["id"]
    job: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = (await api.client.get(f"/api/v1/jobs/{job_id}", headers=owner.headers)).json()["data"]
        if job["state"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.1)
    assert job["state"] == "succeeded", (job, worker.log()[-3000:])
    assert job["result"]["accepted"] == 2
    assert sorted(t.title for t in await api.stored_tasks(project["id"])) == ["One", "Two"]
    # the worker process announced the job on the owner's channel through the shared Redis streams
    live = api.container.live
    assert live is not None
    history = [json.loads(m) for m in await live.backend.get_history(f"user:{owner.user_id}")]
    announced = [(m["event"], m["data"]["state"]) for m in history if m["event"].startswith("job.")]
    assert announced[0] == ("job.progress", "running"), announced
    assert announced[-1] == ("job.succeeded", "succeeded"), announced
    assert all(m["data"]["job_id"] == job_id for m in history if m["event"].startswith("job."))
    return str(project["id"])


@pytest.mark.parametrize("blob_env", ["local"], indirect=True)  # the worker tests cover the Azure spool
async def test_the_import_command_draws_progress_and_reports_the_result(env: dict[str, str], tmp_path: Path) -> None:
    cli_env = {k: v for k, v in env.items() if k != "REDIS_URL"}  # JOB_QUEUE=memory: the command runs the job itself
    async with running_api(**cli_env) as api:
        owner = await api.member()
        project = await api.create_project(owner, title="From the command line")
        source = tmp_path / "tasks.csv"
        source.write_text("title,progress\n" + "".join(f"Task {n},{n % 101}\n" for n in range(1500)))
        command = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv" / "bin" / "trellis"),
            "import",
            str(source),
            "--project",
            project["id"],
            "--mode",
            "partial",
            env={**os.environ, **cli_env},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(command.communicate(), 120)
        assert command.returncode == 0, err.decode()[-3000:]
        text = out.decode()
        assert "100% succeeded" in text
        assert '"accepted": 1500' in text
        assert (await api.container.ports.uow.tasks.progress_totals(project["id"]))[0] == 1500


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The worker's /metrics, parsed: (name, sorted labels) -> value."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0)
    response.raise_for_status()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_the_worker_process_serves_its_job_metrics(env: dict[str, str], tmp_path: Path) -> None:
    from tests.support.services import free_port

    port = free_port()
    process = WorkerProcess({**env, "WORKER_METRICS_PORT": str(port)}, tmp_path / "worker-metrics.log")
    try:
        process.wait_for("worker_started")
        succeeded = ("trellis_jobs_total", (("kind", "tasks.import"), ("outcome", "succeeded")))
        timed = ("trellis_job_duration_seconds_count", (("kind", "tasks.import"), ("outcome", "succeeded")))
        before = scrape(port)
        assert before.get(succeeded, 0.0) == 0.0
        async with running_api(**env) as api:
            await run_import_through_the_worker(api, process)
            after = scrape(port)
            assert after[succeeded] == 1.0, {k: v for k, v in after.items() if k[0].startswith("trellis_job")}
            assert after[timed] == 1.0
            # a job no handler knows fails for good: counted, and the dead-letter gauge follows the list
            jobs = api.container.jobs
            assert jobs is not None
            await jobs.queue.enqueue("no.such.kind", {}, owner_id=None)
            dead = ("trellis_jobs_total", (("kind", "no.such.kind"), ("outcome", "dead_lettered")))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                after = scrape(port)
                if after.get(dead) == 1.0 and after[("trellis_jobs_dead_letters", ())] >= 1.0:
                    break
                await asyncio.sleep(0.2)
            assert after.get(dead) == 1.0, process.log()[-2000:]
            assert after[("trellis_jobs_dead_letters", ())] >= 1.0
        assert "metrics_serving" in process.log()
    finally:
        process.stop()
    assert process.process.returncode == 0, process.log()[-3000:]


def test_the_scheduler_process_serves_its_run_metrics(env: dict[str, str], tmp_path: Path) -> None:
    from tests.support.services import free_port

    port = free_port()
    process = WorkerProcess(
        {**env, "WORKER_METRICS_PORT": str(port), "SCHEDULE_PURGE_SECONDS": "1"},
        tmp_path / "scheduler.log",
        command="scheduler",
    )
    ran = ("trellis_scheduled_runs_total", (("job", "purge_deleted"), ("outcome", "succeeded")))
    timed = ("trellis_scheduled_run_duration_seconds_count", (("job", "purge_deleted"),))
    try:
        process.wait_for("scheduler_started")
        deadline = time.monotonic() + 30
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        while time.monotonic() < deadline:
            seen = scrape(port)
            if seen.get(ran, 0.0) >= 2.0:  # due every second: it keeps running
                break
            time.sleep(0.2)
        assert seen.get(ran, 0.0) >= 2.0, process.log()[-3000:]
        assert seen[timed] >= seen[ran]
    finally:
        process.stop()
    assert process.process.returncode == 0, process.log()[-3000:]


# --- SIGTERM while a job runs ----------------------------------------------------------------


def csv_of(rows: int) -> bytes:
    return ("title,progress\n" + "".join(f"Task {n},{n % 101}\n" for n in range(rows))).encode()


async def queue_import(api: Api, owner: Member, project_id: str, body: bytes) -> str:
    response = await api.client.post(
        f"/api/v1/projects/{project_id}/import?mode=atomic",
        files={"file": ("tasks.csv", body, "text/csv")},
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


async def polled(api: Api, job_id: str) -> Job:
    """The job as the queue keeps it (read straight from it: polling over HTTP would hit the rate limit)."""
    jobs = api.container.jobs
    assert jobs is not None
    job = await jobs.queue.get(job_id)
    assert job is not None
    return job


async def running(api: Api, job_id: str, worker: WorkerProcess, past: int = 0) -> Job:
    """Poll until the job runs with progress above ``past`` (past 50: inside the atomic write)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = await polled(api, job_id)
        if job.state is JobState.RUNNING and job.progress > past:
            return job
        assert job.state in (JobState.QUEUED, JobState.RUNNING), (job, worker.log()[-3000:])
        await asyncio.sleep(0.02)
    raise AssertionError(f"the job never got running past {past}%: {job}\n{worker.log()[-3000:]}")


async def settled(api: Api, job_id: str, worker: WorkerProcess, within: float) -> Job:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        job = await polled(api, job_id)
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"the job never finished: {job}\n{worker.log()[-3000:]}")


def stopped_within(worker: WorkerProcess, seconds: float) -> tuple[int, float]:
    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    code = worker.process.wait(timeout=seconds)
    return code, time.monotonic() - started


@pytest.mark.parametrize("blob_env", ["local"], indirect=True)
async def test_sigterm_lets_a_running_job_finish_within_the_grace(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "WORKER_SHUTDOWN_GRACE_SECONDS": "60"}
    worker = WorkerProcess(env, tmp_path / "worker.log")
    rows = 1000  # a few seconds of writing on the MongoDB-wire test server
    try:
        worker.wait_for("worker_started")
        async with running_api(**env) as api:
            owner = await api.member()
            project = await api.create_project(owner, title="Finishes in the grace")
            job_id = await queue_import(api, owner, project["id"], csv_of(rows))
            await running(api, job_id, worker, past=49)  # writing
            signalled = datetime.now(UTC)
            code, took = stopped_within(worker, 90)
            assert code == 0, worker.log()[-3000:]
            job = (await api.client.get(f"/api/v1/jobs/{job_id}", headers=owner.headers)).json()["data"]
            assert job["state"] == "succeeded", (job, worker.log()[-3000:])
            assert job["result"]["accepted"] == rows
            assert job["attempts"] == 1
            # it really was running when SIGTERM came: it finished after the signal, and the worker waited
            assert datetime.fromisoformat(job["finished_at"]) > signalled, (job["finished_at"], signalled)
            assert took < 60 + 15
            assert (await api.container.ports.uow.tasks.progress_totals(project["id"]))[0] == rows
        log = worker.log()
        assert log.index("worker_stopping") < log.index("worker_stopped")
    finally:
        worker.stop()


@pytest.mark.parametrize("blob_env", ["local"], indirect=True)
async def test_sigterm_requeues_a_job_that_outlasts_the_grace(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "WORKER_SHUTDOWN_GRACE_SECONDS": "1", "JOB_BACKOFF_MS": "100"}
    first = WorkerProcess(env, tmp_path / "first.log")
    rows = 3000  # tens of seconds of writing on the MongoDB-wire test server: far past the grace
    second: WorkerProcess | None = None
    try:
        first.wait_for("worker_started")
        async with running_api(**env) as api:
            owner = await api.member()
            project = await api.create_project(owner, title="Outlasts the grace")
            job_id = await queue_import(api, owner, project["id"], csv_of(rows))
            await running(api, job_id, first, past=50)  # inside the one write transaction
            code, took = stopped_within(first, 30)
            assert code == 0, first.log()[-3000:]
            assert took < 1 + 10, took  # the grace, SAQ's 2 s cancellation deadline, closing: generous
            job = (await api.client.get(f"/api/v1/jobs/{job_id}", headers=owner.headers)).json()["data"]
            assert job["state"] == "queued", (job, first.log()[-3000:])
            assert job["errors"] == [], job  # a stop is no failure
            assert job["finished_at"] is None
            # atomic: the cancelled transaction left nothing behind
            assert (await api.container.ports.uow.tasks.progress_totals(project["id"]))[0] == 0

            second = WorkerProcess(env, tmp_path / "second.log")
            second.wait_for("worker_started")
            await settled(api, job_id, second, within=240)
            job = (await api.client.get(f"/api/v1/jobs/{job_id}", headers=owner.headers)).json()["data"]
            assert job["state"] == "succeeded", (job, second.log()[-3000:])
            assert job["result"]["accepted"] == rows
            assert job["errors"] == [], job
            assert (await api.container.ports.uow.tasks.progress_totals(project["id"]))[0] == rows
        second.stop()
        assert second.process.returncode == 0, second.log()[-3000:]
    finally:
        first.stop()
        if second is not None:
            second.stop()
