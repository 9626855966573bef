"""``POST /api/v1/analysis/text``: sentiment, language and key phrases of a text, synchronously."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from domain.analysis import TEXT_MAX, TextAnalysis
from domain.identity import Principal
from entrypoints.http.conditional import PRIVATE_NO_CACHE
from entrypoints.http.dependencies import AUTHENTICATED, BEARER_SECURITY, container_of
from entrypoints.http.envelope import Envelope, ok
from entrypoints.http.errors import error_responses
from entrypoints.http.schemas import NOT_BLANK


class TextIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=TEXT_MAX, pattern=NOT_BLANK, description="1–5 000 characters, not blank"),
    ]


class ScoresOut(msgspec.Struct, kw_only=True):
    positive: float
    neutral: float
    negative: float


class TextAnalysisOut(msgspec.Struct, kw_only=True):
    sentiment: Annotated[str, msgspec.Meta(description="`positive`, `neutral`, `negative` or `mixed`")]
    scores: ScoresOut
    language: Annotated[str, msgspec.Meta(description="ISO 639-1 code; `und` when undetermined")]
    key_phrases: list[str]
    analyzer: Annotated[
        str,
        msgspec.Meta(
            description="`azure` (Azure AI Language) or `local` (offline default: VADER sentiment for English, "
            "fewer and simpler key phrases, a stop-word language guess)"
        ),
    ]

    @classmethod
    def of(cls, a: TextAnalysis) -> TextAnalysisOut:
        return cls(
            sentiment=a.sentiment.value,
            scores=ScoresOut(positive=a.scores.positive, neutral=a.scores.neutral, negative=a.scores.negative),
            language=a.language,
            key_phrases=list(a.key_phrases),
            analyzer=a.analyzer,
        )


class AnalysisController(Controller):
    path = "/analysis"
    tags = ["analysis"]  # noqa: RUF012
    dependencies = AUTHENTICATED
    security = BEARER_SECURITY

    @post(
        "/text",
        status_code=200,
        summary="Analyse a text",
        description="Sentiment (label and confidence scores), language and key phrases of `text` (1–5 000 "
        "characters), answered synchronously and stored nowhere. `analyzer` says which analyser answered: "
        "`azure` when AZURE_LANGUAGE_ENDPOINT/KEY are set, else `local`. 503 `text_analysis_unavailable` when "
        "Azure fails after its retries.",
        responses=error_responses(400, 401, 422, 429, 503),
    )
    async def analyse_text(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: JSONBody[TextIn]
    ) -> Response[Envelope[TextAnalysisOut]]:
        service = container_of(request).analysis
        assert service is not None, "bootstrap always builds the analysis service"
        analysis = await service.analyze_text(principal, data.text)
        return Response(ok(TextAnalysisOut.of(analysis)), headers={"Cache-Control": PRIVATE_NO_CACHE})
