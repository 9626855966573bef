"""POST /api/v1/analysis/text through HTTP: the local analyzer, and Azure against the fake server."""

from __future__ import annotations

from tests.integration.http.helpers import assert_error, assert_success
from tests.integration.providers.conftest import ApiFactory
from tests.support.fake_providers import FakeProviders, Reply

TEXT = "The crew did a great job and everyone is happy with the new roof."


async def test_local_analyzer_by_default(make_api: ApiFactory, fake: FakeProviders) -> None:
    async with make_api(weather=False) as api:
        member = await api.member()
        response = await api.client.post("/api/v1/analysis/text", json={"text": TEXT}, headers=member.headers)
        data = assert_success(response)
        assert data["analyzer"] == "local"
        assert data["sentiment"] == "positive"
        assert data["language"] == "en"
        assert set(data["scores"]) == {"positive", "neutral", "negative"}
        assert data["key_phrases"]
    assert fake.requests == []


async def test_azure_when_configured(make_api: ApiFactory, fake: FakeProviders) -> None:
    async with make_api(weather=False, azure=True) as api:
        member = await api.member()
        response = await api.client.post("/api/v1/analysis/text", json={"text": TEXT}, headers=member.headers)
        data = assert_success(response)
        assert data["analyzer"] == "azure"
        assert data["sentiment"] == "positive"
        assert data["scores"] == {"positive": 0.96, "neutral": 0.03, "negative": 0.01}
        fake.script("language", *[Reply(500, {"error": {"code": "InternalServerError", "message": "x"}})] * 4)
        failed = await api.client.post("/api/v1/analysis/text", json={"text": TEXT}, headers=member.headers)
        assert_error(failed, 503, "text_analysis_unavailable")


async def test_azure_wrong_key_is_503_naming_the_settings(make_api: ApiFactory) -> None:
    async with make_api(weather=False, azure=True, AZURE_LANGUAGE_KEY="wrong") as api:
        member = await api.member()
        response = await api.client.post("/api/v1/analysis/text", json={"text": TEXT}, headers=member.headers)
        assert "AZURE_LANGUAGE_KEY" in assert_error(response, 503, "text_analysis_unavailable")["message"]


async def test_text_is_validated(make_api: ApiFactory) -> None:
    async with make_api(weather=False) as api:
        member = await api.member()
        for body in ({"text": ""}, {"text": "x" * 5001}, {}, {"text": "ok", "extra": 1}):
            response = await api.client.post("/api/v1/analysis/text", json=body, headers=member.headers)
            assert_error(response, 422, "validation_error")
        blank = await api.client.post("/api/v1/analysis/text", json={"text": "   "}, headers=member.headers)
        assert_error(blank, 422, "validation_error", "body.text")
        assert_success(
            await api.client.post("/api/v1/analysis/text", json={"text": "x" * 5000}, headers=member.headers)
        )
        assert_error(await api.client.post("/api/v1/analysis/text", json={"text": "hi"}), 401, "unauthenticated")
