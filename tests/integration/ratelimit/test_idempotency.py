"""Idempotency-Key on the create routes: replay, key reuse, nothing created twice."""

from __future__ import annotations

import uuid

from tests.integration.http.helpers import assert_error, assert_success
from tests.integration.ratelimit.conftest import AppFactory


async def test_a_repeated_key_replays_the_stored_response_and_creates_nothing(app_with: AppFactory) -> None:
    async with app_with() as api:
        member = await api.member()
        headers = {**member.headers, "Idempotency-Key": uuid.uuid4().hex}
        first = await api.client.post("/api/v1/projects", json={"title": "Once"}, headers=headers)
        created = assert_success(first, 201)
        again = await api.client.post("/api/v1/projects", json={"title": "Once"}, headers=headers)
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["Location"] == first.headers["Location"]
        assert "Idempotent-Replayed" not in first.headers
        assert [p.id for p in await api.stored_projects()] == [created["id"]]
        # tasks too
        task_headers = {**member.headers, "Idempotency-Key": "task-1"}
        path = f"/api/v1/projects/{created['id']}/tasks"
        one = await api.client.post(path, json={"title": "T"}, headers=task_headers)
        two = await api.client.post(path, json={"title": "T"}, headers=task_headers)
        assert (one.status_code, two.status_code) == (201, 201)
        assert one.json() == two.json()
        assert len(await api.stored_tasks(created["id"])) == 1


async def test_the_same_key_with_another_body_is_422_and_keys_are_per_principal(app_with: AppFactory) -> None:
    async with app_with() as api:
        member, other = await api.member(), await api.member()
        key = {"Idempotency-Key": uuid.uuid4().hex}
        assert_success(
            await api.client.post("/api/v1/projects", json={"title": "A"}, headers={**member.headers, **key}), 201
        )
        reused = await api.client.post("/api/v1/projects", json={"title": "B"}, headers={**member.headers, **key})
        assert_error(reused, 422, "idempotency_key_reused")
        theirs = await api.client.post("/api/v1/projects", json={"title": "B"}, headers={**other.headers, **key})
        assert_success(theirs, 201)
        assert "Idempotent-Replayed" not in theirs.headers
        assert len(await api.stored_projects()) == 2


async def test_a_refused_create_is_not_stored_and_signup_is_idempotent(app_with: AppFactory) -> None:
    async with app_with() as api:
        member = await api.member()
        headers = {**member.headers, "Idempotency-Key": "retry-me"}
        bad = await api.client.post("/api/v1/projects", json={"title": ""}, headers=headers)
        assert bad.status_code == 422
        good = await api.client.post("/api/v1/projects", json={"title": ""}, headers=headers)
        assert good.status_code == 422
        assert "Idempotent-Replayed" not in good.headers
        email = f"idem-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": "correct horse battery staple", "display_name": "I"}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        first = await api.client.post("/api/v1/auth/signup", json=body, headers=key)
        second = await api.client.post("/api/v1/auth/signup", json=body, headers=key)
        assert (first.status_code, second.status_code) == (201, 201)
        assert second.headers["Idempotent-Replayed"] == "true"
