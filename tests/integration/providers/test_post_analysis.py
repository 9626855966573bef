"""Posts analysed after they are written (PostAnalysisScheduler), with Azure over real HTTP.

The posts use case is not wired here: ``record`` and ``post_text`` are the two hooks it plugs into
(``PostService.record_analysis`` and the post repository), so this tests the scheduling, the
retry with backoff while Azure fails (the post stays pending) and the bounded give-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.language.azure import AzureTextAnalyzer
from application.analysis import PostAnalysisScheduler
from domain.analysis import Sentiment, TextAnalysis
from domain.events import DomainEvent
from tests.support.fake_providers import AZURE_KEY, FakeProviders, Reply, fake_providers

TEXTS = {"p1": "Great progress on the roof, the crew is happy.", "p2": "The cellar is flooded, awful."}
SERVER_ERROR = Reply(500, {"error": {"code": "InternalServerError", "message": "boom"}})


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with fake_providers() as server:
        yield server


@pytest.fixture
async def azure(fake: FakeProviders) -> AsyncIterator[AzureTextAnalyzer]:
    analyzer = AzureTextAnalyzer(fake.base_url, AZURE_KEY, retries=0, backoff=0.001, timeout=2.0)
    try:
        yield analyzer
    finally:
        await analyzer.aclose()


def event(name: str, post_id: str) -> DomainEvent:
    return DomainEvent(id="e", name=name, actor_id="u", at=datetime.now(UTC), data={"post_id": post_id})


class Posts:
    def __init__(self) -> None:
        self.recorded: dict[str, TextAnalysis] = {}

    async def text(self, post_id: str) -> str | None:
        return TEXTS.get(post_id)

    async def record(self, post_id: str, analysis: TextAnalysis) -> None:
        self.recorded[post_id] = analysis


async def test_created_and_updated_posts_are_analysed_in_the_background(azure: AzureTextAnalyzer) -> None:
    posts = Posts()
    scheduler = PostAnalysisScheduler(azure, posts.text, posts.record, backoff=0.001)
    await scheduler(event("post.created", "p1"))
    await scheduler(event("post.updated", "p2"))
    await scheduler(event("post.deleted", "p1"))  # not a write of the text: ignored
    assert scheduler.running == 2  # the publisher (and so the response) did not wait
    await scheduler.wait_idle()
    assert posts.recorded["p1"].sentiment is Sentiment.POSITIVE
    assert posts.recorded["p2"].sentiment is Sentiment.NEGATIVE
    assert posts.recorded["p1"].analyzer == "azure"
    assert scheduler.outcomes == {"p1": "analyzed", "p2": "analyzed"}


async def test_while_azure_fails_the_post_stays_pending_and_is_retried(
    azure: AzureTextAnalyzer, fake: FakeProviders
) -> None:
    fake.script("language", SERVER_ERROR, SERVER_ERROR)
    posts = Posts()
    scheduler = PostAnalysisScheduler(azure, posts.text, posts.record, attempts=4, backoff=0.001)
    await scheduler(event("post.created", "p1"))
    await scheduler.wait_idle()
    assert scheduler.outcomes["p1"] == "analyzed"
    assert posts.recorded["p1"].sentiment is Sentiment.POSITIVE


async def test_after_the_last_attempt_the_post_is_left_pending(azure: AzureTextAnalyzer, fake: FakeProviders) -> None:
    fake.script("language", *[SERVER_ERROR] * 3)
    posts = Posts()
    scheduler = PostAnalysisScheduler(azure, posts.text, posts.record, attempts=3, backoff=0.001)
    await scheduler(event("post.created", "p1"))
    await scheduler.wait_idle()
    assert scheduler.outcomes["p1"] == "pending"
    assert posts.recorded == {}
    assert fake.count("language") == 3


async def test_a_deleted_post_is_not_analysed_and_stop_cancels(azure: AzureTextAnalyzer, fake: FakeProviders) -> None:
    posts = Posts()
    scheduler = PostAnalysisScheduler(azure, posts.text, posts.record, backoff=0.001)
    await scheduler(event("post.created", "gone"))
    await scheduler.wait_idle()
    assert scheduler.outcomes == {"gone": "gone"}
    fake.script("language", Reply(hang=True))
    await scheduler(event("post.created", "p1"))
    await scheduler.stop()
    assert scheduler.running == 0
    assert posts.recorded == {}
