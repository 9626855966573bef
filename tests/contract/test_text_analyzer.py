"""TextAnalyzer contract, run against every adapter: the local one and Azure against the fake server.

Then Azure's failure modes over real HTTP: 401, 429 with Retry-After, 500, a hang, a malformed
body — each a ``TextAnalysisUnavailable`` or a retry, never an SDK error.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from adapters.language.azure import AzureTextAnalyzer
from adapters.language.local import LocalTextAnalyzer
from domain.analysis import TEXT_MAX, Sentiment, TextAnalysis
from domain.errors import TextAnalysisUnavailable
from domain.ports import TextAnalyzer
from tests.support.fake_providers import AZURE_KEY, FakeProviders, Reply, fake_providers

POSITIVE = "The crew did a great job today and everyone is happy with the new roof."
NEGATIVE = "Awful morning: the foundation is flooded and the crane broke down again, a terrible delay."


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with fake_providers() as server:
        yield server


def azure_on(fake: FakeProviders, **options: float) -> AzureTextAnalyzer:
    settings = {"timeout": 2.0, "retries": 2, "backoff": 0.01, "max_retry_after": 0.05, **options}
    return AzureTextAnalyzer(fake.base_url, AZURE_KEY, **settings)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "azure"])
async def analyzer(request: pytest.FixtureRequest, fake: FakeProviders) -> AsyncIterator[TextAnalyzer]:
    if request.param == "local":
        yield LocalTextAnalyzer()
        return
    azure = azure_on(fake)
    try:
        yield azure
    finally:
        await azure.aclose()


def check_shape(result: TextAnalysis, analyzer: TextAnalyzer) -> None:
    assert isinstance(result.sentiment, Sentiment)
    for score in (result.scores.positive, result.scores.neutral, result.scores.negative):
        assert 0.0 <= score <= 1.0
    assert abs(result.scores.positive + result.scores.neutral + result.scores.negative - 1.0) < 0.02
    assert isinstance(result.language, str)
    assert result.language
    assert all(isinstance(p, str) and p for p in result.key_phrases)
    assert result.analyzer == analyzer.name


async def test_one_result_per_text_in_order(analyzer: TextAnalyzer) -> None:
    results = await analyzer.analyze([POSITIVE, NEGATIVE])
    assert len(results) == 2
    for result in results:
        check_shape(result, analyzer)
    assert results[0].sentiment is Sentiment.POSITIVE
    assert results[1].sentiment is Sentiment.NEGATIVE
    assert results[0].language == "en"
    assert results[1].key_phrases


async def test_more_texts_than_one_request_holds(analyzer: TextAnalyzer) -> None:
    texts = [POSITIVE if i % 2 == 0 else NEGATIVE for i in range(23)]
    results = await analyzer.analyze(texts)
    assert [r.sentiment for r in results] == [
        Sentiment.POSITIVE if i % 2 == 0 else Sentiment.NEGATIVE for i in range(23)
    ]


async def test_nothing_to_analyse_is_an_empty_list(analyzer: TextAnalyzer) -> None:
    assert await analyzer.analyze([]) == []


async def test_the_longest_text_is_accepted(analyzer: TextAnalyzer) -> None:
    text = ("The roof is great. " * 400)[:TEXT_MAX]
    (result,) = await analyzer.analyze([text])
    check_shape(result, analyzer)


def test_names() -> None:
    assert LocalTextAnalyzer.name == "local"
    assert AzureTextAnalyzer.name == "azure"


# --- Azure over real HTTP: what goes on the wire, and every failure -----------------------------


async def test_azure_calls_analyze_text_with_api_version_and_batches_of_ten(fake: FakeProviders) -> None:
    azure = azure_on(fake)
    try:
        await azure.analyze([POSITIVE] * 12)
    finally:
        await azure.aclose()
    calls = [r for r in fake.requests if r.kind == "language"]
    assert {r.path for r in calls} == {"/language/:analyze-text"}
    assert {r.query["api-version"] for r in calls} == {"2023-04-01"}
    kinds = [r.json["kind"] for r in calls]
    assert (
        kinds.count("LanguageDetection") == kinds.count("SentimentAnalysis") == kinds.count("KeyPhraseExtraction") == 2
    )
    assert max(len(r.json["analysisInput"]["documents"]) for r in calls) == 10
    sentiment = next(r.json for r in calls if r.json["kind"] == "SentimentAnalysis")
    assert sentiment["parameters"].get("opinionMining") in (None, False)


async def test_azure_wrong_key_is_unavailable_without_retrying(fake: FakeProviders) -> None:
    azure = AzureTextAnalyzer(fake.base_url, "wrong-key", retries=3, backoff=0.01)
    try:
        with pytest.raises(TextAnalysisUnavailable, match="AZURE_LANGUAGE_KEY"):
            await azure.analyze([POSITIVE])
    finally:
        await azure.aclose()
    assert fake.count("language") == 1


async def test_azure_429_is_retried_honouring_a_bounded_retry_after(fake: FakeProviders) -> None:
    fake.script("language", Reply(429, {"error": {"code": "429", "message": "Rate limit"}}, {"Retry-After": "3600"}))
    azure = azure_on(fake, max_retry_after=0.2)
    started = time.monotonic()
    try:
        (result,) = await azure.analyze([POSITIVE])
    finally:
        await azure.aclose()
    elapsed = time.monotonic() - started
    assert result.sentiment is Sentiment.POSITIVE
    assert 0.2 <= elapsed < 2.0  # waited, but never the hour the server asked for
    assert fake.count("language") == 4  # the refused one, then the three kinds


async def test_azure_500s_past_the_retries_are_unavailable(fake: FakeProviders) -> None:
    error = Reply(500, {"error": {"code": "InternalServerError", "message": "boom"}})
    fake.script("language", error, error, error)
    azure = azure_on(fake, retries=2)
    try:
        with pytest.raises(TextAnalysisUnavailable):
            await azure.analyze([POSITIVE])
    finally:
        await azure.aclose()
    assert fake.count("language") == 3


async def test_azure_a_500_then_success_is_a_retry(fake: FakeProviders) -> None:
    fake.script("language", Reply(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    azure = azure_on(fake)
    try:
        (result,) = await azure.analyze([NEGATIVE])
    finally:
        await azure.aclose()
    assert result.sentiment is Sentiment.NEGATIVE


async def test_azure_a_hanging_service_times_out(fake: FakeProviders) -> None:
    fake.script("language", Reply(hang=True), Reply(hang=True))
    azure = azure_on(fake, timeout=0.3, retries=1)
    started = time.monotonic()
    try:
        with pytest.raises(TextAnalysisUnavailable):
            await azure.analyze([POSITIVE])
    finally:
        await azure.aclose()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("body", [b"<html>gateway</html>", b'{"kind": "SentimentAnalysisResults"}', b"[]"])
async def test_azure_malformed_bodies_are_unavailable(fake: FakeProviders, body: bytes) -> None:
    fake.script("language", Reply(200, body))
    azure = azure_on(fake)
    try:
        with pytest.raises(TextAnalysisUnavailable):
            await azure.analyze([POSITIVE])
    finally:
        await azure.aclose()


async def test_azure_unreachable_is_unavailable() -> None:
    from tests.support.services import free_port

    azure = AzureTextAnalyzer(f"http://127.0.0.1:{free_port()}", AZURE_KEY, retries=1, backoff=0.01, timeout=1.0)
    try:
        with pytest.raises(TextAnalysisUnavailable):
            await azure.analyze([POSITIVE])
    finally:
        await azure.aclose()
