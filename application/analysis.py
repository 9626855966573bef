"""Text analysis: arbitrary text on request, and posts after they are written.

``TextAnalysisService.analyze_text`` answers synchronously (``POST /analysis/text``).

``PostAnalysisScheduler`` subscribes to the event publisher: on ``post.created`` and
``post.updated`` it starts a background task (the response is not held up) that loads the
post's text, analyses it and stores the result through ``record`` (the posts use case
``record_analysis(post_id, analysis)``, which publishes ``post.analyzed``). Until then the post's
``analysis.status`` stays ``pending``. When the analyser fails, the task retries with exponential
backoff (``attempts`` times, ``backoff`` doubling up to ``max_backoff``); after the last attempt the
post simply stays ``pending`` — it is never lost or changed. What a job queue adds over this: the
retry survives a restart (these tasks die with the process), attempts are visible
(``GET /jobs/{id}``), exhausted ones land in the dead letters, and a scheduled sweep can re-queue
every post still ``pending``. ``stop`` cancels the tasks still running at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from domain.analysis import TEXT_MAX, TextAnalysis
from domain.errors import DomainError, FieldProblem, ValidationFailed
from domain.events import DomainEvent
from domain.identity import Principal
from domain.ports import TextAnalyzer

logger = logging.getLogger(__name__)

POST_WRITE_EVENTS = frozenset({"post.created", "post.updated"})

#: loads what to analyse for a post id (title and body); None when the post is gone
PostText = Callable[[str], Awaitable[str | None]]
#: stores the analysis on the post (``PostService.record_analysis``)
RecordAnalysis = Callable[[str, TextAnalysis], Awaitable[object]]


def text_problems(text: str, field: str = "body.text") -> list[FieldProblem]:
    if not text.strip():
        return [FieldProblem(field, "must not be empty")]
    if len(text) > TEXT_MAX:
        return [FieldProblem(field, f"must be at most {TEXT_MAX} characters")]
    return []


class TextAnalysisService:
    def __init__(self, analyzer: TextAnalyzer) -> None:
        self._analyzer = analyzer

    @property
    def analyzer_name(self) -> str:
        return self._analyzer.name

    async def analyze_text(self, principal: Principal, text: str) -> TextAnalysis:
        """Any signed-in caller may analyse text (the route is rate limited like every other)."""
        problems = text_problems(text)
        if problems:
            raise ValidationFailed(problems)
        return (await self._analyzer.analyze([text]))[0]


class PostAnalysisScheduler:
    """Analyses posts after their response, in background tasks (see the module docstring)."""

    def __init__(
        self,
        analyzer: TextAnalyzer,
        post_text: PostText,
        record: RecordAnalysis,
        *,
        attempts: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        events: Iterable[str] = POST_WRITE_EVENTS,
    ) -> None:
        self._analyzer = analyzer
        self._post_text = post_text
        self._record = record
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._events = frozenset(events)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.outcomes: dict[str, str] = {}  # post id -> analyzed | pending | gone (the latest run)

    async def __call__(self, event: DomainEvent) -> None:
        if event.name not in self._events:
            return
        post_id = str(event.data.get("post_id") or event.data.get("id") or "")
        if post_id:
            self.schedule(post_id)

    def schedule(self, post_id: str) -> None:
        """Start (or restart, for a newer version of the text) the post's analysis."""
        running = self._tasks.pop(post_id, None)
        if running is not None and not running.done():
            running.cancel()
        task = asyncio.get_running_loop().create_task(self._run(post_id), name=f"analyse-post-{post_id}")
        self._tasks[post_id] = task
        task.add_done_callback(lambda done: self._forget(post_id, done))

    def _forget(self, post_id: str, done: asyncio.Task[None]) -> None:
        if self._tasks.get(post_id) is done:
            del self._tasks[post_id]

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Until every scheduled analysis has finished (tests; a graceful drain)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, post_id: str) -> None:
        for attempt in range(self._attempts):
            try:
                text = await self._post_text(post_id)
                if text is None:
                    self.outcomes[post_id] = "gone"
                    return
                analysis = (await self._analyzer.analyze([text[:TEXT_MAX]]))[0]
                await self._record(post_id, analysis)
                self.outcomes[post_id] = "analyzed"
                return
            except asyncio.CancelledError:
                raise
            except DomainError as exc:
                logger.warning("post %s analysis attempt %d failed: %s", post_id, attempt + 1, exc.code)
            except Exception:
                logger.exception("post %s analysis attempt %d failed", post_id, attempt + 1)
            self.outcomes[post_id] = "pending"
            if attempt + 1 < self._attempts:
                await asyncio.sleep(min(self._backoff * (2**attempt), self._max_backoff))
        logger.warning("post %s analysis stays pending after %d attempts", post_id, self._attempts)
