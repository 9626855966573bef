"""``trellis seed`` on MongoDB: idempotent demo data, and production's initial admin only."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.mongo import MongoDatabase
from domain.identity import Role
from domain.paging import PageRequest
from domain.ports import ProjectQuery, TaskQuery
from entrypoints.seed import demo_data, run_seed
from entrypoints.settings import Settings, load_settings
from tests.integration.mongo.conftest import drop_database
from tests.support.mongo import ROOT, mongo_url

CHEAP_HASHES = {"PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "64"}
ADMIN_EMAIL = "root@trellis.example"
ADMIN_PASSWORD = "a long and unusual admin passphrase"
ALL = PageRequest(page=1, size=100)


@pytest.fixture
async def seeded_name(database_name: str) -> AsyncIterator[str]:
    """The name of a database the seed creates (through bootstrap); dropped afterwards."""
    yield database_name
    await drop_database(database_name)


def settings_for(database_name: str, **env: str) -> Settings:
    return load_settings(
        {"MONGODB_URL": mongo_url(), "MONGODB_DATABASE": database_name, **CHEAP_HASHES, **env}, dotenv=None
    )


def production_env() -> dict[str, str]:
    """Everything production insists on, so that only the seeding rules are under test."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "APP_ENV": "production",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # never contacted by seeding
        "JWT_PRIVATE_KEY": pem.decode(),
        "REFRESH_TOKEN_KEY": base64.b64encode(bytes(range(32))).decode(),
        "CORS_ALLOWED_ORIGINS": "https://board.example",
    }


async def counts(database_name: str) -> tuple[int, int, int, list[str]]:
    """(users, projects, tasks, user e-mails) as the repositories see them."""
    database = await MongoDatabase.connect(mongo_url(), database_name)
    try:
        uow = database.unit_of_work()
        users = await uow.users.list(ALL)
        projects = await uow.projects.list(ProjectQuery(viewer_id=None), ALL)
        tasks = 0
        for project in projects.items:
            tasks += (await uow.tasks.list(TaskQuery(project_id=project.id), ALL)).total
        return users.total, projects.total, tasks, sorted(user.email for user in users.items)
    finally:
        await database.close()


async def test_seeding_twice_creates_everything_once(seeded_name: str) -> None:
    settings = settings_for(seeded_name, APP_ENV="test")
    users, projects = demo_data(datetime.now(UTC).date())
    expected = (len(users), len(projects), sum(len(p.tasks) for p in projects), sorted(u.email for u in users))

    assert await run_seed(settings, force=False) == 0
    assert await counts(seeded_name) == expected

    assert await run_seed(settings, force=False) == 0
    assert await counts(seeded_name) == expected  # idempotent: keyed by e-mail, owner + title, project + title


async def test_production_refuses_without_force_and_seeds_only_the_admin_with_it(
    seeded_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEED_ADMIN_EMAIL", ADMIN_EMAIL)
    monkeypatch.setenv("SEED_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = settings_for(seeded_name, **production_env())

    assert await run_seed(settings, force=False) == 2
    assert await counts(seeded_name) == (0, 0, 0, [])

    assert await run_seed(settings, force=True) == 0
    assert await run_seed(settings, force=True) == 0  # still one admin
    assert await counts(seeded_name) == (1, 0, 0, [ADMIN_EMAIL])

    database = await MongoDatabase.connect(mongo_url(), seeded_name)
    try:
        admin = await database.unit_of_work().users.get_by_email(ADMIN_EMAIL)
    finally:
        await database.close()
    assert admin is not None
    assert Role.ADMIN in admin.roles
    assert admin.password_hash is not None
    assert ADMIN_PASSWORD not in admin.password_hash


async def test_the_trellis_seed_command_on_mongodb(seeded_name: str, tmp_path: Path) -> None:
    """``trellis seed`` as an operator runs it: a process configured by the environment only."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SEED_", "MONGODB_", "APP_ENV"))},
        "MONGODB_URL": mongo_url(),
        "MONGODB_DATABASE": seeded_name,
        "APP_ENV": "development",
        "PYTHONPATH": str(ROOT),
        **CHEAP_HASHES,
    }

    async def seed() -> tuple[int | None, bytes]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "entrypoints.cli",
            "seed",
            cwd=tmp_path,  # no developer .env is read
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode, output

    first = await seed()
    assert first[0] == 0, first[1].decode(errors="replace")
    after_first = await counts(seeded_name)
    second = await seed()
    assert second[0] == 0, second[1].decode(errors="replace")
    assert await counts(seeded_name) == after_first
    users, projects = demo_data(datetime.now(UTC).date())
    assert after_first[:3] == (len(users), len(projects), sum(len(p.tasks) for p in projects))
