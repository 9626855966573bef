"""A post written through HTTP is analysed after the response, and the result is stored on it.

With the embedded defaults the local analyzer runs; the post reads ``analysis.status: pending``
first and ``done`` (with a sentiment and ``analyzer: local``) once the background analysis ran,
and ``post.analyzed`` is published.
"""

from __future__ import annotations

import asyncio

from tests.integration.cache.conftest import served
from tests.integration.http.helpers import assert_success


async def test_a_new_post_is_analysed_after_the_response_and_the_result_is_stored() -> None:
    async with served(RATE_LIMIT_AUTH="1000/minute") as api:
        author = await api.member()
        created = assert_success(
            await api.client.post(
                "/api/v1/posts",
                json={"title": "Great progress", "body": "The survey went wonderfully well and everyone is happy."},
                headers=author.headers,
            ),
            201,
        )
        post_id = created["id"]
        analysis: dict[str, object] = {}
        for _ in range(100):  # bounded: at most ~5 s
            read = assert_success(await api.client.get(f"/api/v1/posts/{post_id}", headers=author.headers))
            analysis = read["analysis"] or {}
            if analysis.get("status") == "done":
                break
            await asyncio.sleep(0.05)
        assert analysis.get("status") == "done", analysis
        assert analysis.get("sentiment") == "positive"
        assert analysis.get("analyzer") == "local"
        names = [event.name for event in api.container.publisher.history]
        assert "post.analyzed" in names
