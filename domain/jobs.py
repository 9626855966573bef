"""Background jobs as the core sees them: what was asked, who asked, how it went.

A job is run by a worker (``JobQueue`` port). A handler raising ``JobFailed`` or any other
error fails the attempt; the queue retries it with exponential backoff until ``max_attempts``
are spent, then the job lands in the dead letters (state ``failed``) where an admin may retry it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.errors import NotFound
from domain.identity import Principal

#: attempts per job, first run included (the first retry waits BACKOFF_BASE seconds, then x2 …)
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_TIMEOUT_SECONDS = 600.0
#: a job keeps at most this many error entries (the latest ones)
MAX_ERRORS = 20


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True)
class Job:
    id: str
    kind: str
    owner_id: str | None
    created_at: datetime
    updated_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    state: JobState = JobState.QUEUED
    progress: int = 0
    result: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    attempts: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def add_error(self, message: str) -> None:
        self.errors = [*self.errors, message][-MAX_ERRORS:]


class JobFailed(Exception):
    """Raised by a handler for a failure worth no retry (bad input): the job fails at once."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


def backoff_delay(attempt: int, base: float = DEFAULT_BACKOFF_SECONDS, cap: float = 300.0) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (exponential: base, 2·base, 4·base … capped)."""
    return float(min(cap, base * (2 ** max(0, attempt - 1))))


def clamp_progress(percent: float) -> int:
    return max(0, min(100, round(percent)))


def can_view_job(principal: Principal, job: Job) -> bool:
    return principal.is_admin or (job.owner_id is not None and job.owner_id == principal.user_id)


def ensure_job_visible(principal: Principal, job: Job | None) -> Job:
    """The job, or NotFound: someone else's job does not exist for the caller."""
    if job is None or not can_view_job(principal, job):
        raise NotFound("The job does not exist.")
    return job
