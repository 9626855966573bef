"""Azure AI Language (Text Analytics) behind the ``TextAnalyzer`` port.

The ``azure-ai-textanalytics`` async client (``TextAnalyticsClient`` with an
``AzureKeyCredential``) calls ``POST {endpoint}/language/:analyze-text?api-version=2023-04-01``
once per task kind: language detection first, then sentiment (opinion mining off) and key
phrases with each document's detected language as its hint.

- Batching: at most ``batch_size`` documents per request (10: the synchronous limit for
  sentiment and key phrases in API 2023-04-01; language detection allows more, we keep one size).
  A document is at most 5 120 characters; the API layer admits up to ``TEXT_MAX`` (5 000).
- Timeouts: connection and read timeouts on the transport, and an overall bound per request.
- Retries: the SDK's own retry policy is switched off (``retry_total=0``) because it sleeps for
  whatever ``Retry-After`` says; here 429 and 5xx, connection errors and timeouts are retried
  with exponential backoff, honouring ``Retry-After`` up to ``max_retry_after`` seconds.
  401/403 (a wrong key or endpoint) are not retried.
- A time budget per analysis (``budget``, default 15 s) across every request, retry and backoff
  of it: a hanging service costs one analysis at most that long, not four attempts of ~11 s.
- A circuit breaker (``domain.breaker``, shared with weather and OpenID): after
  ``breaker_threshold`` consecutive failed requests (or spent budgets) every analysis fails at
  once for ``breaker_cooldown`` seconds, then one trial request is let through.
- Every failure is ``TextAnalysisUnavailable``; never an SDK error.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog
from azure.ai.textanalytics.aio import TextAnalyticsClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from domain.analysis import Sentiment, SentimentScores, TextAnalysis
from domain.breaker import CircuitBreaker
from domain.errors import TextAnalysisUnavailable

log = structlog.get_logger("trellis.text_analysis")

T = TypeVar("T")

BATCH_SIZE = 10
UNKNOWN_LANGUAGE = "und"


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class AzureTextAnalyzer:
    """Implements ``domain.ports.TextAnalyzer`` on Azure AI Language."""

    name = "azure"

    def __init__(
        self,
        endpoint: str,
        key: str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 10.0,
        batch_size: int = BATCH_SIZE,
        budget: float = 15.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"batch_size must be 1 to {BATCH_SIZE}")
        if not budget > 0:
            raise ValueError("budget must be > 0")
        self._timeout = timeout
        self._budget = budget
        self.breaker = CircuitBreaker(breaker_threshold, breaker_cooldown, clock)
        self._retries = max(0, retries)
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._batch_size = batch_size
        self._client = TextAnalyticsClient(
            endpoint,
            AzureKeyCredential(key),
            retry_total=0,
            connection_timeout=connect_timeout,
            read_timeout=timeout,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def analyze(self, texts: Sequence[str]) -> list[TextAnalysis]:
        results: list[TextAnalysis] = []
        try:
            async with asyncio.timeout(self._budget):
                for start in range(0, len(texts), self._batch_size):
                    results += await self._analyze_batch(list(texts[start : start + self._batch_size]))
        except TimeoutError:
            self.breaker.failure()  # the request in flight was cut short: it failed
            log.warning("text_analysis_unavailable", reason="budget spent", budget=self._budget)
            raise TextAnalysisUnavailable() from None
        return results

    async def _analyze_batch(self, texts: list[str]) -> list[TextAnalysis]:
        ids = [str(i) for i in range(len(texts))]
        inputs = [{"id": i, "text": t} for i, t in zip(ids, texts, strict=True)]
        detected = await self._call("language", lambda: self._client.detect_language(inputs))
        languages = [_language(doc) for doc in _documents(detected, len(texts))]
        documents = [
            {"id": i, "text": t, "language": lang if lang != UNKNOWN_LANGUAGE else "en"}
            for i, t, lang in zip(ids, texts, languages, strict=True)
        ]
        sentiments = _documents(
            await self._call("sentiment", lambda: self._client.analyze_sentiment(documents, show_opinion_mining=False)),
            len(texts),
        )
        extracted = await self._call("key_phrases", lambda: self._client.extract_key_phrases(documents))
        phrases = _documents(extracted, len(texts))
        out: list[TextAnalysis] = []
        for sentiment, phrase_doc, language in zip(sentiments, phrases, languages, strict=True):
            try:
                scores = sentiment.confidence_scores
                out.append(
                    TextAnalysis(
                        sentiment=Sentiment(str(sentiment.sentiment)),
                        scores=SentimentScores(float(scores.positive), float(scores.neutral), float(scores.negative)),
                        language=language,
                        key_phrases=tuple(str(p) for p in phrase_doc.key_phrases),
                        analyzer=self.name,
                    )
                )
            except (AttributeError, TypeError, ValueError) as exc:
                log.warning("text_analysis_malformed", error=type(exc).__name__)
                raise TextAnalysisUnavailable("The text analysis service sent a result we could not read.") from None
        return out

    async def _call(self, what: str, request: Callable[[], Awaitable[T]]) -> T:
        if not self.breaker.allow():
            raise TextAnalysisUnavailable(
                f"The text analysis service is failing; not asking it again for {math.ceil(self.breaker.retry_in())} s."
            )
        attempt = 0
        while True:
            try:
                result = await self._attempt(request)
            except TextAnalysisUnavailable:
                self.breaker.failure()
                raise
            except _Retryable as retry:
                if attempt >= self._retries:
                    self.breaker.failure()
                    log.warning("text_analysis_unavailable", task=what, reason=retry.reason, attempts=attempt + 1)
                    raise TextAnalysisUnavailable() from None
                delay = self._backoff * (2**attempt)
                if retry.retry_after is not None:
                    delay = max(delay, retry.retry_after)
                await asyncio.sleep(min(delay, self._max_retry_after))
                attempt += 1
                continue
            self.breaker.success()
            return result

    async def _attempt(self, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await asyncio.wait_for(request(), self._timeout + 1.0)
        except TimeoutError:
            raise _Retryable("timeout") from None
        except ClientAuthenticationError:
            log.error("text_analysis_key_refused")
            raise TextAnalysisUnavailable(
                "The text analysis service refused our key (check AZURE_LANGUAGE_KEY and AZURE_LANGUAGE_ENDPOINT)."
            ) from None
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500:
                headers = getattr(exc.response, "headers", None) or {}
                raise _Retryable(f"http {status}", _retry_after(headers.get("Retry-After"))) from None
            if status in (401, 403):
                log.error("text_analysis_key_refused", status=status)
                raise TextAnalysisUnavailable(
                    "The text analysis service refused our key (check AZURE_LANGUAGE_KEY and AZURE_LANGUAGE_ENDPOINT)."
                ) from None
            if status == 0:  # no status: the body could not be read (malformed response)
                log.warning("text_analysis_malformed", error=type(exc).__name__)
                raise TextAnalysisUnavailable("The text analysis service sent a response we could not read.") from None
            log.warning("text_analysis_refused", status=status, code=getattr(exc.error, "code", None))
            raise TextAnalysisUnavailable("The text analysis service refused the request.") from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise _Retryable(type(exc).__name__) from None
        except AzureError as exc:
            log.warning("text_analysis_failed", error=type(exc).__name__)
            raise TextAnalysisUnavailable() from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a body the SDK could not deserialize
            log.warning("text_analysis_malformed", error=type(exc).__name__)
            raise TextAnalysisUnavailable("The text analysis service sent a response we could not read.") from None


def _documents(results: Any, expected: int) -> list[Any]:
    docs = list(results)
    if len(docs) != expected:
        raise TextAnalysisUnavailable("The text analysis service answered for the wrong number of documents.")
    for doc in docs:
        if getattr(doc, "is_error", False):
            code = getattr(getattr(doc, "error", None), "code", None)
            log.warning("text_analysis_document_error", code=code)
            raise TextAnalysisUnavailable("The text analysis service could not analyse this text.")
    return docs


def _language(doc: Any) -> str:
    code = getattr(getattr(doc, "primary_language", None), "iso6391_name", None)
    if not isinstance(code, str) or not code or code.startswith("("):
        return UNKNOWN_LANGUAGE
    return code


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
