"""The composition root: the ONE place where settings choose adapters and hand them to services.

Nothing else in the code base constructs an adapter. Tests build a container here too
(with embedded defaults, or a different clock), so they exercise the same wiring as the
service.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import structlog

from adapters.memory.clock import SystemClock
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.ids import UuidGenerator
from adapters.memory.refresh_tokens import MemoryRefreshTokenStore
from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.security.oidc import OidcIdentityProvider
from adapters.security.passwords import Argon2PasswordHasher
from adapters.security.tokens import (
    JoseTokenService,
    generate_development_key,
    generate_refresh_key,
    load_private_key_pem,
)
from application.accounts import AccountService
from application.analysis import PostAnalysisScheduler, TextAnalysisService
from application.caching import CacheInvalidator, ReadCache
from application.collections import CollectionService
from application.common import Ports
from application.files import FileService
from application.jobs import JobService
from application.maintenance import MaintenanceService
from application.notifications import LiveNotifier
from application.oidc import OidcLoginService
from application.posts import PostService
from application.projects import ProjectService
from application.tasks import TaskService
from application.transfer import TransferLimits, TransferService
from application.users import UserAdminService
from application.weather import WeatherService
from domain.ports import (
    BlobStore,
    Cache,
    Clock,
    IdempotencyStore,
    JobQueue,
    Notifier,
    PasswordHasher,
    RateLimiter,
    RefreshTokenStore,
    ScheduleStore,
    TextAnalyzer,
    UnitOfWork,
    WeatherProvider,
)
from entrypoints.cache_metrics import LoggingCacheObserver
from entrypoints.http.cursors import CursorCodec, derive_cursor_key
from entrypoints.settings import Settings, SettingsError
from entrypoints.ws.hub import LiveHub

log = structlog.get_logger("trellis.bootstrap")

READINESS_TIMEOUT_SECONDS = 1.0

Check = Callable[[], Awaitable[None]]
Closer = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Container:
    settings: Settings
    ports: Ports
    publisher: InMemoryEventPublisher
    hasher: PasswordHasher
    accounts: AccountService
    projects: ProjectService
    tasks: TaskService
    users: UserAdminService
    posts: PostService  # issue 9
    collections: CollectionService  # issue 9
    checks: dict[str, Check] = field(default_factory=dict)
    closers: list[Closer] = field(default_factory=list)
    # issue 6: live events (channels plugin + numbered history), fed by every domain event
    live: LiveHub | None = None
    # issue 5: read cache, idempotent POSTs, rate limits (Redis when REDIS_URL, else memory)
    cache: Cache | None = None
    idempotency: IdempotencyStore | None = None
    rate_limiter: RateLimiter | None = None
    # issue 7: sign-in with OpenID providers (OIDC_<NAME>_*); no providers configured, an empty one
    oidc: OidcLoginService | None = None
    # issue 9: weather (OpenWeatherMap, cached) and text analysis (Azure AI Language, else local)
    weather: WeatherService | None = None
    analysis: TextAnalysisService | None = None
    post_analysis: PostAnalysisScheduler | None = None
    # issue 8: files (Azure Blob Storage when AZURE_STORAGE_CONNECTION_STRING, else local disk)
    files: FileService | None = None
    # issue 10: background jobs (SAQ on Redis, else in-process), schedules, import/export
    jobs: JobsWiring | None = None
    # issue 12: signs the ?cursor= of keyset pages (key derived from REFRESH_TOKEN_KEY, else random)
    cursors: CursorCodec = field(default_factory=lambda: CursorCodec(secrets.token_bytes(32)))

    async def readiness(self) -> dict[str, str]:
        """Each configured dependency's state, each checked with a short timeout, concurrently."""

        async def one(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), READINESS_TIMEOUT_SECONDS)
            except TimeoutError:
                return "timeout"
            except Exception:
                return "unavailable"
            return "ok"

        names = list(self.checks)
        states = await asyncio.gather(*(one(self.checks[n]) for n in names))
        return dict(zip(names, states, strict=True))

    async def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                await closer()
            except Exception:
                log.exception("shutdown_step_failed")
        self.closers.clear()


def _announce_default(component: str, detail: str) -> None:
    log.warning("embedded_default", component=component, detail=detail)


async def bootstrap(settings: Settings, *, clock: Clock | None = None) -> Container:
    """Build every adapter the settings ask for and the services on top of them."""
    if settings.production and (problems := settings.production_problems()):
        raise SettingsError(f"APP_ENV=production refuses to start: set {problems[0]}")

    checks: dict[str, Check] = {}
    closers: list[Closer] = []

    uow: UnitOfWork
    if settings.mongodb_url:
        from adapters.mongo.database import MongoDatabase

        database = await MongoDatabase.connect(settings.mongodb_url, settings.mongodb_database)
        closers.append(database.close)
        if settings.production and not database.supports_transactions:
            await database.close()
            raise SettingsError(
                "MONGODB_URL: the server cannot run multi-document transactions; use a replica set "
                "(a single-node one is enough) so writes stay all-or-nothing"
            )
        checks["mongodb"] = database.ping
        uow = database.unit_of_work()
    else:
        _announce_default("storage", "in-memory repositories; data is lost on restart (set MONGODB_URL)")
        uow = MemoryUnitOfWork()

    refresh_store: RefreshTokenStore
    if settings.redis_url:
        from adapters.redis.client import create_client
        from adapters.redis.refresh_tokens import RedisRefreshTokenStore

        redis = create_client(settings.redis_url)
        closers.append(redis.aclose)
        refresh_store = RedisRefreshTokenStore(redis)

        async def ping_redis() -> None:
            await redis.ping()

        checks["redis"] = ping_redis
    else:
        _announce_default("sessions", "in-process refresh-token store; sessions end on restart (set REDIS_URL)")
        refresh_store = MemoryRefreshTokenStore()

    if settings.jwt_private_key:
        signing_key = load_private_key_pem(settings.jwt_private_key, settings.jwt_key_id)
    else:
        _announce_default("signing_key", "generated HS256 key; tokens die with the process (set JWT_PRIVATE_KEY)")
        signing_key = generate_development_key()
    if settings.refresh_token_key is None:
        _announce_default("refresh_key", "generated refresh-token key (set REFRESH_TOKEN_KEY)")
    tokens = JoseTokenService(
        signing_key=signing_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        refresh_key=settings.refresh_token_key or generate_refresh_key(),
        access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    hasher = Argon2PasswordHasher(
        time_cost=settings.password_hash_time_cost, memory_cost=settings.password_hash_memory_kib
    )

    publisher = InMemoryEventPublisher()
    ports = Ports(uow=uow, clock=clock or SystemClock(), ids=UuidGenerator(), publisher=publisher)
    cache, idempotency, rate_limiter = _cache_idempotency_and_limits(settings, closers)
    # CACHE_TTL_SECONDS=0 turns the read cache off: every read goes to the repositories
    ttl = settings.cache_ttl_seconds
    read_cache = ReadCache(cache if ttl else None, max(ttl, 1), LoggingCacheObserver())
    publisher.subscribe(CacheInvalidator(read_cache))  # awaited by publish: bumped before the response
    live = await _live_events(settings, publisher, closers)  # after the cache: a notified client reads fresh
    # Revoked access-token jtis: in Redis beside the cache (shared by every process); in memory a
    # cache of their own, so read-cache churn never evicts a revocation.
    revocations = cache if settings.redis_url else _memory_revocations()
    container = Container(
        settings=settings,
        ports=ports,
        publisher=publisher,
        hasher=hasher,
        accounts=AccountService(
            ports, hasher, tokens, refresh_store, login_throttle=rate_limiter, revocations=revocations
        ),
        projects=ProjectService(ports, read_cache),
        tasks=TaskService(ports, read_cache),
        users=UserAdminService(ports),
        posts=PostService(ports),
        collections=CollectionService(ports),
        checks=checks,
        closers=closers,
        cache=cache,
        idempotency=idempotency,
        rate_limiter=rate_limiter,
        live=live,
    )
    container.oidc = _oidc_login(settings, ports, container.accounts, closers)
    if settings.refresh_token_key is not None:  # shared by replicas and restarts, like the OIDC state key
        container.cursors = CursorCodec(derive_cursor_key(settings.refresh_token_key))
    _weather_and_analysis(settings, container, closers)
    blobs = await _blob_store(settings, checks, closers)
    container.files = await _files(settings, ports, database.database if settings.mongodb_url else None, blobs)
    container.jobs = await _jobs(settings, ports, closers, blobs, container.weather, container.files)
    return container


async def _blob_store(settings: Settings, checks: dict[str, Check], closers: list[Closer]) -> BlobStore:
    """Blobs (files, import spools, export files) on Azure (the connection string) or local disk."""
    blobs: BlobStore
    if settings.azure_storage_connection_string:
        from adapters.azure.blob import AzureBlobStore

        azure = AzureBlobStore.from_connection_string(
            settings.azure_storage_connection_string, settings.azure_storage_container
        )
        closers.append(azure.close)
        await azure.ensure_container()
        checks["azure_blob"] = azure.ping
        blobs = azure
    else:
        from adapters.local.blob import LocalBlobStore

        _announce_default(
            "file_storage",
            f"files on local disk under {settings.file_storage_root} "
            "(set AZURE_STORAGE_CONNECTION_STRING for Azure Blob Storage)",
        )
        blobs = LocalBlobStore(settings.file_storage_root)
    return blobs


async def _files(settings: Settings, ports: Ports, mongo: Any | None, blobs: BlobStore) -> FileService:
    """File records beside the other records; their blobs in the blob store."""
    from adapters.local.sniffing import MagicSniffer
    from application.files import FileLimits
    from domain.ports import FileRepository

    records: FileRepository
    if mongo is not None:
        from adapters.mongo.files import MongoFileRepository

        records = MongoFileRepository(mongo)
    else:
        from adapters.memory.files import MemoryFileRepository

        records = MemoryFileRepository()
    limits = FileLimits(
        max_bytes=settings.file_max_bytes,
        allowed_types=settings.file_allowed_types,
        chunked_max_bytes=settings.file_chunked_max_bytes,
    )
    return FileService(ports, records, blobs, MagicSniffer(), limits)


def _oidc_login(settings: Settings, ports: Ports, accounts: AccountService, closers: list[Closer]) -> OidcLoginService:
    """One OidcIdentityProvider per configured provider, sharing one HTTP client with timeouts."""
    providers: dict[str, OidcIdentityProvider] = {}
    if settings.oidc_providers:
        # Sign-ins are rare: no pooled keep-alive connections to hold open (or to leak across event loops).
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(5.0, connect=3.0),
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
        )
        closers.append(http.aclose)
        for provider in settings.oidc_providers:
            providers[provider.name] = OidcIdentityProvider(
                provider.name,
                issuer=provider.issuer,
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                redirect_uri=provider.redirect_uri,
                http=http,
                breaker_threshold=settings.provider_breaker_threshold,
                breaker_cooldown=settings.provider_breaker_cooldown_seconds,
            )
    # The state cookie's key: derived from the refresh-token key when one is configured (so it
    # survives restarts and is shared by replicas), else random for this process.
    if settings.refresh_token_key is not None:
        state_key = hmac.new(settings.refresh_token_key, b"trellis-oidc-state", hashlib.sha256).digest()
    else:
        state_key = secrets.token_bytes(32)
    return OidcLoginService(ports, accounts, providers, state_key)


def _cache_idempotency_and_limits(
    settings: Settings, closers: list[Closer]
) -> tuple[Cache, IdempotencyStore, RateLimiter]:
    """The read cache, the Idempotency-Key store and the rate limiter: Redis (one shared pool) or memory."""
    from adapters.ratelimit.limiter import InProcessRateLimiter, RedisRateLimiter

    if settings.redis_url:
        from adapters.redis.cache import RedisCache
        from adapters.redis.client import create_client
        from adapters.redis.idempotency import RedisIdempotencyStore

        client = create_client(settings.redis_url)
        closers.append(client.aclose)
        return RedisCache(client), RedisIdempotencyStore(client), RedisRateLimiter(client, key_prefix="trellis:rl")
    from adapters.memory.cache import MemoryCache
    from adapters.memory.idempotency import MemoryIdempotencyStore

    _announce_default("cache", "in-process read cache; each process caches on its own (set REDIS_URL)")
    _announce_default("idempotency", "in-process Idempotency-Key store; replays end on restart (set REDIS_URL)")
    _announce_default("rate_limits", "in-process rate-limit counters, per process (set REDIS_URL)")
    return MemoryCache(), MemoryIdempotencyStore(), InProcessRateLimiter()


def _memory_revocations() -> Cache:
    from adapters.memory.cache import MemoryCache

    return MemoryCache(max_entries=100_000)


async def _live_events(settings: Settings, publisher: InMemoryEventPublisher, closers: list[Closer]) -> LiveHub:
    """Websocket fan-out: Redis streams when REDIS_URL (history shared by every process), else in-process."""
    from litestar.channels.backends.base import ChannelsBackend

    from entrypoints.ws.backends import SequencedMemoryBackend, SequencedRedisStreamBackend
    from entrypoints.ws.forwarder import EventForwarder
    from entrypoints.ws.hub import LiveLimits

    limits = LiveLimits()
    backend: ChannelsBackend
    if settings.redis_url:
        from adapters.redis.client import create_client

        client = create_client(settings.redis_url)
        closers.append(client.aclose)
        backend = SequencedRedisStreamBackend(limits.history, redis=client)
    else:
        _announce_default("live_events", "in-process websocket fan-out and history; one process only (set REDIS_URL)")
        backend = SequencedMemoryBackend(limits.history)
    hub = LiveHub.create(backend, limits)
    await hub.start()
    closers.append(hub.stop)
    publisher.subscribe(EventForwarder(hub.publish))
    hub.analytics = _analytics_pipeline(settings, publisher, hub, closers)
    return hub


def _analytics_pipeline(
    settings: Settings, publisher: InMemoryEventPublisher, hub: LiveHub, closers: list[Closer]
) -> object:
    """Events -> a Redis stream read by consumer group ``analytics`` (in-process queue when embedded)."""
    from application.analytics import AnalyticsProcessor
    from entrypoints.ws.analytics import (
        AnalyticsConsumer,
        AnalyticsFeed,
        MemoryCounterStore,
        MemoryEventLog,
        RedisCounterStore,
        RedisEventLog,
    )

    def connections() -> int:
        return hub.connections

    if settings.redis_url:
        from adapters.redis.client import create_client

        client = create_client(settings.redis_url)
        closers.append(client.aclose)
        log_r, store_r = RedisEventLog(client), RedisCounterStore(client, connections=connections)
        consumer = AnalyticsConsumer(log_r, AnalyticsProcessor(store_r), store_r, hub.publish, block_ms=250)
        feed = AnalyticsFeed(log_r)
    else:
        _announce_default("analytics", "in-process analytics queue and counters (set REDIS_URL)")
        log_m, store_m = MemoryEventLog(), MemoryCounterStore(connections=connections)
        consumer = AnalyticsConsumer(log_m, AnalyticsProcessor(store_m), store_m, hub.publish)
        feed = AnalyticsFeed(log_m)
    publisher.subscribe(feed)
    consumer.start()
    closers.append(consumer.stop)
    return consumer


def _weather_and_analysis(settings: Settings, container: Container, closers: list[Closer]) -> None:
    """OpenWeatherMap when OPENWEATHER_API_KEY is set (else the weather routes answer 503 naming it:
    no invented weather); Azure AI Language when its endpoint and key are set, else the local analyzer."""
    from adapters.language.local import LocalTextAnalyzer
    from adapters.weather.openweathermap import OpenWeatherMapProvider

    backoff = settings.provider_retry_backoff_ms / 1000
    provider: WeatherProvider | None = None
    if settings.openweather_api_key:
        owm = OpenWeatherMapProvider(
            settings.openweather_api_key,
            base_url=settings.openweather_base_url,
            backoff=backoff,
            breaker_threshold=settings.provider_breaker_threshold,
            breaker_cooldown=settings.provider_breaker_cooldown_seconds,
        )
        closers.append(owm.aclose)
        provider = owm
    else:
        _announce_default("weather", "no weather provider: weather routes answer 503 (set OPENWEATHER_API_KEY)")
    container.weather = WeatherService(
        container.ports,
        provider,
        container.cache,
        ttl_seconds=settings.weather_cache_seconds,
        not_configured="Weather is not configured on this server: set OPENWEATHER_API_KEY.",
    )
    analyzer: TextAnalyzer
    if settings.azure_language_endpoint and settings.azure_language_key:
        from adapters.language.azure import AzureTextAnalyzer

        azure = AzureTextAnalyzer(
            settings.azure_language_endpoint,
            settings.azure_language_key,
            backoff=backoff,
            timeout=settings.language_timeout_seconds,
            budget=settings.language_budget_seconds,
            breaker_threshold=settings.provider_breaker_threshold,
            breaker_cooldown=settings.provider_breaker_cooldown_seconds,
        )
        closers.append(azure.aclose)
        analyzer = azure
    else:
        _announce_default(
            "text_analysis",
            "local analyzer (VADER sentiment, simple key phrases; analyzer=local) "
            "(set AZURE_LANGUAGE_ENDPOINT and AZURE_LANGUAGE_KEY)",
        )
        analyzer = LocalTextAnalyzer()
    container.analysis = TextAnalysisService(analyzer)
    container.post_analysis = _post_analysis(container, analyzer)
    if container.post_analysis is not None:
        container.publisher.subscribe(container.post_analysis)
        closers.append(container.post_analysis.stop)


def _post_analysis(container: Container, analyzer: TextAnalyzer) -> PostAnalysisScheduler | None:
    """Posts analysed after create/update, stored by the posts use case ``record_analysis``.

    The hook: built once the posts service (with ``record_analysis``) is in the container.
    """
    record = getattr(getattr(container, "posts", None), "record_analysis", None)
    if record is None:
        return None
    uow = container.ports.uow

    async def post_text(post_id: str) -> str | None:
        post = await uow.posts.get(post_id)
        return None if post is None else f"{post.title}\n\n{post.body}".strip()

    return PostAnalysisScheduler(analyzer, post_text, record)


@dataclass(slots=True)
class JobsWiring:
    """Issue 10: the job queue and what runs on it or on the scheduler."""

    queue: JobQueue
    service: JobService
    maintenance: MaintenanceService
    schedule: ScheduleStore
    #: the configured channel (log, or SMTP); the maintenance service delivers through
    #: ``LiveNotifier(ports, notifier)``, so each message is also a ``notification.sent`` event
    notifier: Notifier
    embedded_worker: bool
    transfer: TransferService


def _notifier(settings: Settings) -> Notifier:
    """E-mail over SMTP when SMTP_URL is set; else each notification goes to the log. Either way
    the maintenance service wraps it in ``LiveNotifier`` (websocket delivery, ``notification.sent``)."""
    if settings.smtp is None:
        from adapters.memory.jobs import LogNotifier

        return LogNotifier()
    from adapters.notify.smtp import SmtpNotifier

    smtp = settings.smtp
    return SmtpNotifier(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        sender=smtp.sender,
        username=smtp.username,
        password=smtp.password,
        timeout_seconds=smtp.timeout_seconds,
    )


async def _jobs(
    settings: Settings,
    ports: Ports,
    closers: list[Closer],
    blobs: BlobStore,
    weather: WeatherService | None = None,
    files: FileService | None = None,
) -> JobsWiring:
    """SAQ on Redis (run ``trellis worker``) when JOB_QUEUE=redis, else the in-process queue whose
    worker runs inside this process. Job changes are published as ``job.*`` events through the
    container's event publisher, so a worker's reach the API's websockets over the same Redis streams."""
    from adapters.memory.jobs import MemoryJobQueue, MemoryScheduleStore
    from application.jobs import JobEvents
    from entrypoints.observability.jobs import JobMetrics, TracedJobQueue

    queue: JobQueue
    schedule: ScheduleStore
    attempts, backoff, timeout = settings.job_max_attempts, settings.job_backoff_seconds, settings.job_timeout_seconds
    if settings.job_queue == "redis" and settings.redis_url:
        from adapters.queue.saq_jobs import SaqJobQueue, create_queue_client
        from adapters.queue.schedule import RedisScheduleStore

        client = create_queue_client(settings.redis_url)
        saq = SaqJobQueue(
            client,
            max_attempts=attempts,
            backoff_seconds=backoff,
            timeout_seconds=timeout,
            install_signal_handlers=False,
            observer=JobMetrics(JobEvents(ports)),
        )
        closers.append(saq.close)
        queue, schedule, embedded = TracedJobQueue(saq), RedisScheduleStore(client), False
    else:
        _announce_default("jobs", "in-process job queue; queued jobs are lost on restart (set REDIS_URL)")
        memory = MemoryJobQueue(
            max_attempts=attempts,
            backoff_seconds=backoff,
            timeout_seconds=timeout,
            observer=JobMetrics(JobEvents(ports)),
        )
        queue, schedule, embedded = TracedJobQueue(memory), MemoryScheduleStore(), True
    notifier = _notifier(settings)
    limits = TransferLimits(
        import_max_bytes=settings.import_max_bytes,
        export_inline_max_tasks=settings.export_inline_max_tasks,
        export_retention=timedelta(seconds=settings.export_retention_seconds),
        # past every attempt's timeout and backoff, no job can still need its spool
        spool_max_age=timedelta(seconds=max(24 * 3600, attempts * (timeout + 300))),
    )
    wiring = JobsWiring(
        queue=queue,
        service=JobService(queue),
        maintenance=MaintenanceService(ports, LiveNotifier(ports, notifier), settings.retention_days, weather, files),
        schedule=schedule,
        notifier=notifier,
        embedded_worker=embedded,
        transfer=TransferService(ports, queue, blobs, limits),
    )
    from entrypoints.transfer_jobs import register_transfer_jobs

    register_transfer_jobs(queue, wiring.transfer)
    if embedded:
        await queue.start_worker(settings.worker_concurrency)

        async def stop_embedded() -> None:
            await queue.stop_worker(float(settings.worker_shutdown_grace_seconds))

        closers.append(stop_embedded)
    return wiring
