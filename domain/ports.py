"""Ports: what the core needs from the outside world, as ``typing.Protocol``s.

Every port has an in-memory adapter (``adapters/memory``) that honours the same contract as
the real one; ``tests/contract`` holds one suite per port, run against every adapter.

Repository contract (all repositories):
- They store and return copies: mutating a returned object changes nothing stored, and
  mutating an object after ``add``/``update`` changes nothing stored.
- Soft-deleted records (``deleted_at`` set) are invisible to every read: ``get``, ``list``,
  the lookups and the totals. Setting ``deleted_at`` through ``update`` is how a record is
  soft-deleted.
- ``update(entity, expected_version)`` stores the entity only if the stored version equals
  ``expected_version``; the stored (and returned) copy then has ``version = expected + 1``.
  A stale version raises ``VersionConflict``; a missing or deleted record raises ``NotFound``.
- ``list`` applies filters, then sorts by the requested field (ties broken by id, ascending,
  so pages never overlap), then pages; ``Page.total`` counts every match, not just the page.
  ``None`` values sort before every value ascending and after every value descending.
- ``list_keyset`` (projects, tasks, posts) returns the same matches in the same order as
  ``list``, but from a position (``KeysetRequest.after``: a sort value + an id, see
  ``domain.paging.follows``) instead of an offset, and without a total: the first ``size``
  matches strictly after that position, and ``next`` = the last item's position when more
  follow (None on the last page). Its cost does not grow with how far into the list the
  position is (MongoDB: a range query on the (filters, sort field, ``_id``) index).
- A store that cannot be reached raises ``DependencyUnavailable`` — never a driver error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from domain.analysis import TextAnalysis
from domain.board import Project, Task, Visibility
from domain.content import Collection, Post
from domain.events import DomainEvent
from domain.files import StoredFile
from domain.identity import Principal, Role, User
from domain.jobs import Job, JobState
from domain.paging import KeysetPage, KeysetRequest, Page, PageRequest
from domain.weather import CurrentWeather, Forecast, GeoPoint

# --- repositories -------------------------------------------------------------------------


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Store a new user; ``EmailTaken`` if a live user already has the (lower-cased) e-mail."""

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None:
        """Look up by e-mail, case-insensitively."""

    async def get_by_identity(self, issuer: str, subject: str) -> User | None: ...

    async def update(self, user: User, expected_version: int) -> User:
        """Conditional write; ``EmailTaken`` if the new e-mail belongs to another live user."""

    async def list(self, page: PageRequest) -> Page[User]: ...


@dataclass(frozen=True, slots=True)
class ProjectQuery:
    """Filters for listing projects.

    ``viewer_id`` restricts to what that user may see (owned by them, or public); ``None``
    means no restriction (an admin). ``q`` is a case-insensitive substring of the title.
    """

    viewer_id: str | None
    visibility: Visibility | None = None
    q: str | None = None
    owner_id: str | None = None


class ProjectRepository(Protocol):
    async def add(self, project: Project) -> None: ...

    async def get(self, project_id: str) -> Project | None: ...

    async def update(self, project: Project, expected_version: int) -> Project: ...

    async def list(self, query: ProjectQuery, page: PageRequest) -> Page[Project]: ...

    async def list_keyset(self, query: ProjectQuery, page: KeysetRequest) -> KeysetPage[Project]: ...

    async def purge_deleted(self, deleted_before: datetime) -> tuple[str, ...]:
        """Remove for good every project soft-deleted before ``deleted_before``; their ids."""


@dataclass(frozen=True, slots=True)
class TaskQuery:
    project_id: str
    tag: str | None = None


class TaskRepository(Protocol):
    async def add(self, task: Task) -> None: ...

    async def get(self, task_id: str) -> Task | None: ...

    async def update(self, task: Task, expected_version: int) -> Task: ...

    async def list(self, query: TaskQuery, page: PageRequest) -> Page[Task]: ...

    async def list_keyset(self, query: TaskQuery, page: KeysetRequest) -> KeysetPage[Task]: ...

    async def progress_totals(self, project_id: str) -> tuple[int, int]:
        """(number of live tasks, sum of their progress) for the project."""

    async def soft_delete_for_project(self, project_id: str, at: datetime) -> int:
        """Soft-delete every live task of the project (bumping versions); returns how many."""

    async def stats_for_projects(self, project_ids: Sequence[str]) -> dict[str, ProjectStats]:
        """Live-task statistics for each of ``project_ids``, computed for all of them at once
        (one aggregation on MongoDB, never one query per project). Every requested id is a key;
        a project without live tasks gets ``ProjectStats()``. Whether the projects themselves
        exist or are visible is the caller's business."""

    async def purge_deleted(self, deleted_before: datetime) -> int:
        """Remove for good every task soft-deleted before ``deleted_before``; how many."""


@dataclass(frozen=True, slots=True)
class ProjectStats:
    """Counts over a project's live tasks: all of them, the completed ones (progress 100), and
    per tag (untagged tasks are counted in ``task_count`` only)."""

    task_count: int = 0
    completed: int = 0
    by_tag: Mapping[str, int] = field(default_factory=dict)


class UnitOfWork(Protocol):
    """The repositories, plus all-or-nothing transactions across them.

    Inside ``async with uow.transaction():`` every write through the repositories commits
    together when the block exits normally and none of them does if it raises. Reads inside
    the block see the block's own writes. Outside a transaction each write stands alone.
    """

    @property
    def users(self) -> UserRepository: ...

    @property
    def projects(self) -> ProjectRepository: ...

    @property
    def tasks(self) -> TaskRepository: ...

    @property
    def posts(self) -> PostRepository: ...

    @property
    def collections(self) -> CollectionRepository: ...

    def transaction(self) -> AbstractAsyncContextManager[None]: ...


# --- small services ---------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new opaque, unique, URL-safe identifier."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """Hand events on after the write committed. Must not raise for subscriber failures."""


# --- identity -----------------------------------------------------------------------------


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password: str, password_hash: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int  # seconds
    jti: str


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    roles: frozenset[Role]
    jti: str
    issued_at: datetime
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        return Principal(user_id=self.subject, roles=self.roles)


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    subject: str
    family_id: str
    token_id: str
    expires_at: datetime
    issued_at: datetime


class TokenService(Protocol):
    def issue_access(self, principal: Principal, now: datetime) -> IssuedToken: ...

    def verify_access(self, token: str, now: datetime) -> AccessClaims:
        """Check signature (algorithm pinned, key by ``kid``), ``iss``, ``aud``, ``exp``;
        raise ``InvalidToken`` on any failure."""

    def issue_refresh(self, subject: str, family_id: str, token_id: str, now: datetime) -> IssuedToken: ...

    def read_refresh(self, token: str, now: datetime) -> RefreshClaims:
        """Decrypt and check a refresh token; ``InvalidToken`` if tampered or expired."""


class RefreshTokenStore(Protocol):
    """Server-side state of refresh-token families (rotation and revocation)."""

    async def start_family(self, family_id: str, subject: str, token_id: str, expires_at: datetime) -> None: ...

    async def rotate(self, family_id: str, presented_token_id: str, new_token_id: str) -> bool:
        """Make ``new_token_id`` current if ``presented_token_id`` is; on reuse of an older id
        revoke the whole family. True only when the rotation happened."""

    async def revoke_family(self, family_id: str) -> None: ...

    async def is_revoked(self, family_id: str) -> bool: ...


# --- cache and idempotency (Redis, or memory when embedded) ------------------------------


class Cache(Protocol):
    """A read cache of opaque bytes (cache-aside). Every entry has a TTL.

    Invalidation of whole groups of entries (all list pages of a project, say) is by
    *generation*: a key that depends on a scope embeds ``await generation(scope)``; a write
    calls ``bump(scope)`` after it committed and before its response returns. ``bump`` is one
    O(1) atomic step; every later ``generation(scope)`` returns the new value, so entries built
    under an older generation are never read again (they age out by their TTL). Race-free: a
    reader that loaded stale data can only store it under the generation it read *before* the
    write, which no reader uses after the bump.

    Generations never repeat for a scope, even if the counter itself is evicted or expires:
    a counter that is missing starts again from a value no earlier counter handed out.

    A cache that cannot be reached raises ``DependencyUnavailable("redis")`` (never a driver
    error) and the caller treats that as a miss / a bypass; the memory cache never fails.
    ``set`` raises ``ValueError`` for ``ttl_seconds < 1``.
    """

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None`` when absent or expired."""

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """Store (replace) ``value``; it disappears after ``ttl_seconds``."""

    async def delete(self, *keys: str) -> None:
        """Remove the keys; absent keys are ignored."""

    async def generation(self, scope: str) -> int:
        """The current generation of ``scope`` (created on first use)."""

    async def bump(self, scope: str) -> int:
        """Move ``scope`` to a new, strictly greater generation and return it."""

    async def lookup(self, scope: str, key: str) -> tuple[int, bytes | None]:
        """``generation(scope)`` and the value stored under ``f"{key}:{generation}"``, in one step
        (one round trip on Redis): what a cache-aside read of an entry under one scope needs."""

    async def ping(self) -> None:
        """Return when the cache answers; ``DependencyUnavailable`` otherwise."""


class IdempotencyState(StrEnum):
    CLAIMED = "claimed"  # nothing stored: the caller now owns the key and must complete or release it
    IN_FLIGHT = "in_flight"  # another request with the same key and fingerprint is running
    COMPLETED = "completed"  # a response is stored: replay it
    MISMATCH = "mismatch"  # the key was used for a different request (fingerprint differs)


@dataclass(frozen=True, slots=True)
class IdempotentResponse:
    """A stored response: what is replayed for a repeated Idempotency-Key."""

    fingerprint: str  # of the request that produced it (method, path, body hash …)
    status: int
    headers: tuple[tuple[str, str], ...]  # the subset worth replaying (Location, Content-Type, …)
    body: bytes


class IdempotencyStore(Protocol):
    """Responses to POSTs, kept per ``scope_key`` (the application builds it from the principal
    and the Idempotency-Key) for ``ttl`` (24 h by default).

    ``begin`` is atomic: of several concurrent ``begin`` calls on a fresh key exactly one gets
    ``CLAIMED``; the others get ``IN_FLIGHT`` (same fingerprint) or ``MISMATCH``. A claim
    expires after a short claim TTL (longer than any request may run), so a crashed request
    does not block its key for a day. A store that cannot be reached raises
    ``DependencyUnavailable``.
    """

    async def begin(self, scope_key: str, fingerprint: str) -> tuple[IdempotencyState, IdempotentResponse | None]:
        """Claim the key, or report why not; the stored response comes only with ``COMPLETED``."""

    async def complete(self, scope_key: str, response: IdempotentResponse) -> None:
        """Store the response (replacing the claim) for the full TTL. If a response is already
        stored, the first one stays."""

    async def release(self, scope_key: str) -> None:
        """Drop an unfinished claim (the request failed; a retry may run it). A stored response
        is never dropped."""


# --- rate limits (Redis, or memory when embedded) -------------------------------------------


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of counting one request against a rate such as ``120/minute``."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until a slot frees up (>= 1 when refused)


class RateLimiter(Protocol):
    """Counts events per key in a window; atomic across processes sharing the store.

    ``rate`` is ``N/unit`` (``120/minute``, ``5 per 15 minutes``). A store that cannot be
    reached raises ``DependencyUnavailable``; callers decide whether to fail open.
    """

    async def hit(self, rate: str, *key: str) -> RateDecision:
        """Count one event; ``allowed`` is False (and nothing is counted) when the rate is spent."""

    async def peek(self, rate: str, *key: str) -> RateDecision:
        """Whether one more event would be allowed, counting nothing."""

    async def clear(self, rate: str, *key: str) -> None: ...


# --- OpenID Connect identity providers ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalProfile:
    """Who the provider says signed in, from a fully checked ID token."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


class IdentityProvider(Protocol):
    """One OpenID provider, found by discovery from its issuer URL (authorisation code + PKCE).

    A provider that cannot be reached (connection refused, timeout, 5xx, unusable discovery or
    JWKS document) raises ``IdentityProviderUnavailable``; a refused code or an ID token that
    fails any check raises ``OidcLoginFailed``. Never a driver error.
    """

    @property
    def name(self) -> str: ...

    async def authorization_url(self, *, state: str, nonce: str, code_challenge: str) -> str:
        """The authorization endpoint URL: ``response_type=code``, the client id, the redirect URI,
        ``scope=openid email profile``, ``state``, ``nonce`` and ``code_challenge`` (method S256)."""

    async def exchange_code(self, *, code: str, code_verifier: str, nonce: str, now: datetime) -> ExternalProfile:
        """Redeem ``code`` at the token endpoint (with the PKCE verifier) and check the ID token:
        signature by ``kid`` from the JWKS (cached; fetched again once on an unknown ``kid``),
        algorithm from a pinned list (never ``none`` or HMAC), ``iss``, ``aud`` (and ``azp``),
        ``exp``/``iat`` against ``now``, and ``nonce``."""


# --- weather and text analysis (issue 9) ----------------------------------------------------


class WeatherProvider(Protocol):
    """Current weather, the 5-day/3-hour forecast and geocoding (OpenWeatherMap).

    Metric units. A provider that is not configured, refuses our key, cannot be reached, times
    out, answers 429/5xx past its retries, answers a malformed body, or whose circuit is open
    raises ``WeatherUnavailable``; a place name that geocodes to nothing raises ``UnknownPlace``.
    Never a driver error.
    """

    async def current(self, lat: float, lon: float) -> CurrentWeather: ...

    async def forecast(self, lat: float, lon: float) -> Forecast: ...

    async def geocode(self, place: str) -> GeoPoint:
        """The best match for a place name (``"Oslo"``, ``"Oslo,NO"``)."""


class TextAnalyzer(Protocol):
    """Sentiment, language and key phrases of texts (Azure AI Language, or local and offline).

    ``analyze`` returns one ``TextAnalysis`` per text, in order; batching within the service's
    limits is the adapter's business. Every text is 1 to ``TEXT_MAX`` characters. A service that
    fails, refuses our key or cannot be reached raises ``TextAnalysisUnavailable``.
    """

    @property
    def name(self) -> str:
        """``azure`` or ``local``: what ``TextAnalysis.analyzer`` says."""

    async def analyze(self, texts: Sequence[str]) -> list[TextAnalysis]: ...


# --- background jobs (issue 10) -----------------------------------------------------------


class JobProgress(Protocol):
    async def __call__(self, percent: float) -> None:
        """Record the running job's progress (0–100; clamped)."""


class JobHandler(Protocol):
    async def __call__(self, job: Job, progress: JobProgress) -> dict[str, Any]:
        """Do the work of ``job`` and return its result (JSON-able). ``JobFailed`` fails the job
        at once (no retry); any other exception fails the attempt (retried with backoff)."""


class JobObserver(Protocol):
    async def __call__(self, job: Job) -> None:
        """Told by the queue, after the status was stored, each time a job's state or progress
        changed (a copy of the job). Must not raise; it must not slow the job down either."""


class JobQueue(Protocol):
    """Jobs handed to workers, and their status (``domain.jobs.Job``).

    - ``enqueue`` stores the job as ``queued`` and returns it; a worker runs it: ``running``,
      then ``succeeded`` (with ``result``, progress 100) or, when an attempt raises, ``queued``
      again after an exponential backoff until ``max_attempts`` are spent, then ``failed``
      (a dead letter) with every attempt's error in ``errors``. ``JobFailed`` fails at once.
    - An attempt longer than the queue's per-job timeout fails with a timeout error.
    - ``stop_worker(grace)`` lets the running jobs finish for ``grace`` seconds, then cancels
      them and puts them back in the queue (``queued``) for the next worker.
    - ``list`` pages jobs by state, newest first; ``retry`` puts a ``failed`` job back (attempts
      reset); ``NotFound`` for an unknown id, ``Conflict`` for a job that has not failed.
    - A store that cannot be reached raises ``DependencyUnavailable``.
    - A ``JobObserver`` given to the adapter is awaited after each stored change of a running
      job (running, progress, queued again, succeeded, failed).
    """

    def register(self, kind: str, handler: JobHandler) -> None: ...

    async def enqueue(self, kind: str, payload: Mapping[str, Any], owner_id: str | None) -> Job: ...

    async def get(self, job_id: str) -> Job | None: ...

    async def list(self, state: JobState | None, page: PageRequest) -> Page[Job]: ...

    async def retry(self, job_id: str) -> Job: ...

    async def start_worker(self, concurrency: int = 2) -> None: ...

    async def stop_worker(self, grace_seconds: float = 10.0) -> None: ...


class ScheduleStore(Protocol):
    """What scheduled runs share across scheduler processes: a lock per job and its last run.

    ``acquire`` is atomic: of several schedulers exactly one gets a token until it releases it
    or ``ttl_seconds`` pass (a crashed scheduler never blocks a job for longer).
    """

    async def acquire(self, name: str, ttl_seconds: float) -> str | None: ...

    async def release(self, name: str, token: str) -> None: ...

    async def last_run(self, name: str) -> datetime | None: ...

    async def mark_run(self, name: str, at: datetime) -> int:
        """Record a finished run; returns how many runs of ``name`` were recorded so far."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom a notification goes to, as the application looked them up (a live, active user)."""

    user_id: str
    email: str | None
    display_name: str = ""


class NotificationFailed(Exception):
    """``Notifier.notify`` could not deliver (server down, refused, timed out); the caller logs,
    counts and goes on. The message names no secret."""


class Notifier(Protocol):
    """Delivers a message to a user: the log by default, e-mail (SMTP) when configured.

    ``notify`` returns True once the message is handed over, False when this channel cannot
    reach the recipient at all (e-mail, and the user has no address); it raises
    ``NotificationFailed`` for a delivery that failed, within the adapter's own timeout.
    """

    async def notify(self, recipient: Recipient, subject: str, body: str) -> bool: ...


# --- content: posts and collections (issue 9) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class PostQuery:
    """Filters for listing posts.

    ``viewer_id`` restricts to the posts that user may see (``domain.content.can_view_post``):
    posts without a project, and posts whose project is live and public or owned by the viewer.
    The adapters apply it by joining each post to its project at query time (memory: the same
    store; MongoDB: ``$lookup`` on ``projects._id``), so a project's visibility lives in ONE
    place and a project turning personal hides its posts at once, totals included. ``None``
    means no restriction (an admin). ``ids`` restricts to those post ids (a collection's).
    """

    viewer_id: str | None
    project_id: str | None = None
    author_id: str | None = None
    ids: frozenset[str] | None = None


class PostRepository(Protocol):
    async def add(self, post: Post) -> None: ...

    async def get(self, post_id: str) -> Post | None:
        """The live post whoever may see it; the caller applies the visibility rule."""

    async def update(self, post: Post, expected_version: int) -> Post: ...

    async def list(self, query: PostQuery, page: PageRequest) -> Page[Post]: ...

    async def list_keyset(self, query: PostQuery, page: KeysetRequest) -> KeysetPage[Post]: ...

    async def soft_delete_for_project(self, project_id: str, at: datetime) -> int:
        """Soft-delete every live post on the project (bumping versions); returns how many."""

    async def purge_deleted(self, deleted_before: datetime) -> int:
        """Remove for good every post soft-deleted before ``deleted_before``; how many."""


@dataclass(frozen=True, slots=True)
class CollectionQuery:
    """``owner_id``: only that user's collections; ``None``: every collection (maintenance)."""

    owner_id: str | None


class CollectionRepository(Protocol):
    async def add(self, collection: Collection) -> None: ...

    async def get(self, collection_id: str) -> Collection | None: ...

    async def update(self, collection: Collection, expected_version: int) -> Collection: ...

    async def list(self, query: CollectionQuery, page: PageRequest) -> Page[Collection]: ...

    async def purge_deleted(self, deleted_before: datetime) -> int:
        """Remove for good every collection soft-deleted before ``deleted_before``; how many."""


# --- files (issue 8) ------------------------------------------------------------------------


class FileRepository(Protocol):
    """Stored-file records (``domain.files.StoredFile``); the repository contract above applies."""

    async def add(self, stored: StoredFile) -> None: ...

    async def get(self, file_id: str) -> StoredFile | None: ...

    async def update(self, stored: StoredFile, expected_version: int) -> StoredFile: ...

    async def list_stale_uploads(self, started_before: datetime) -> list[StoredFile]:
        """Live records still ``uploading`` that were created before ``started_before``."""

    async def list_deleted(self, deleted_before: datetime, limit: int) -> list[StoredFile]:
        """Up to ``limit`` records soft-deleted before ``deleted_before``, oldest deletion first
        (the purge removes their blobs, then :meth:`purge` s them)."""

    async def purge(self, file_id: str) -> bool:
        """Remove a soft-deleted record for good; False when there is none (a live record is
        never removed: purging is only for what was deleted)."""


class BlobTooLarge(Exception):
    """``BlobStore.put`` received more than ``max_bytes``; nothing was kept."""


class BlobStore(Protocol):
    """Opaque bytes under keys such as ``owner/project/file-id`` (Azure Blob Storage, local disk).

    - ``put`` streams ``chunks`` into ``key`` and returns the size. More than ``max_bytes``
      raises ``BlobTooLarge``; that, or any exception from ``chunks``, leaves nothing stored
      under ``key`` (a previous blob under it is kept). A reader never sees a partial blob.
    - ``read`` returns the bytes ``[offset, offset + length)`` (to the end when ``length`` is
      None) as chunks; ``NotFound`` for a missing key, raised by the call, before any chunk.
    - ``delete`` removes the blob and any staged blocks; a missing key is not an error.
    - Chunked uploads: ``stage_block`` keeps block ``number`` (>= 1, a retry replaces it);
      ``staged_blocks`` maps each staged block number to its size; ``commit_blocks`` joins the
      named blocks in that order into the blob (returns its size) and drops the staged ones.
      ``NotFound`` if a named block is not staged.
    - ``read_url``: a short-lived, read-only URL for the blob where the store supports one
      (Azure SAS), else None.
    - ``older_than`` yields the keys under ``prefix`` (whole blobs, not staged blocks) last
      written before ``before`` (for expiring import spools and export files).
    - A store that cannot be reached raises ``DependencyUnavailable``.
    """

    async def put(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int: ...

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]: ...

    async def size(self, key: str) -> int | None:
        """The blob's size, or None when there is no blob under ``key``."""

    async def delete(self, key: str) -> None: ...

    async def stage_block(self, key: str, number: int, data: bytes) -> None: ...

    async def staged_blocks(self, key: str) -> dict[int, int]: ...

    async def commit_blocks(self, key: str, numbers: Sequence[int]) -> int: ...

    async def read_url(self, key: str, *, expires_in_seconds: int, filename: str, content_type: str) -> str | None: ...

    def older_than(self, prefix: str, before: datetime) -> AsyncIterator[str]: ...

    async def ping(self) -> None: ...


class ContentSniffer(Protocol):
    def sniff(self, head: bytes) -> str | None:
        """The media type the leading bytes show (magic numbers), or None when unknown."""
