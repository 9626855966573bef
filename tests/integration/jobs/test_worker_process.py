"""``trellis worker`` as its own process against a real redis-server (and the MongoDB-wire test
server, so the API in this process and the worker share the records): an import queued over
HTTP is run by the worker; SIGTERM stops the worker cleanly (exit 0)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.helpers import Api
from tests.integration.mongo.test_http import running_api
from tests.support.mongo import mongo_url
from tests.support.redis import redis_url

pytestmark = [
    pytest.mark.real_service,
    pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning"),
]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "REDIS_URL": redis_url(),
        "MONGODB_URL": mongo_url(),
        "MONGODB_DATABASE": f"jobs_{uuid.uuid4().hex[:12]}",
        "IMPORT_SPOOL_DIR": str(tmp_path),
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "64",
        "WORKER_SHUTDOWN_GRACE_SECONDS": "5",
        "LOG_FORMAT": "json",
    }


class WorkerProcess:
    """``trellis worker`` in its own process group, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "trellis"), "worker"],
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
        await run_import_through_the_worker(api, worker)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=30) == 0, worker.log()[-3000:]
    assert "worker_stopped" in worker.log()


async def run_import_through_the_worker(api: Api, worker: WorkerProcess) -> None:
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
        out, err = await asyncio.wait_for(command.communicate(), 60)
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
        assert "metrics_serving" in process.log()
    finally:
        process.stop()
    assert process.process.returncode == 0, process.log()[-3000:]
