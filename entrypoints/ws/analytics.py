"""The analytics pipeline's moving parts: the event log (a Redis stream read by a consumer group,
or an in-process queue), the counter stores, the consumer loop with retries and a dead-letter
stream, the ``analytics`` channel push, metrics, and ``GET /api/v1/analytics``.

Flow: publisher -> ``AnalyticsFeed`` appends each event to the log (XADD) -> ``AnalyticsConsumer``
(one per process, all in consumer group ``analytics``: each event goes to one of them) validates,
deduplicates by event id, enriches and counts (``application.analytics``) -> XACK; a failing event
is retried ``attempts`` times, then moved to the dead-letter stream and acknowledged. Entries a
crashed consumer left pending are claimed after ``claim_idle_ms``. After a batch the current
counters are pushed to the ``analytics`` channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

import msgspec
import structlog
from litestar import Request, get
from litestar.di import NamedDependency, Provide
from prometheus_client import Counter, Gauge, Histogram
from redis.exceptions import RedisError, ResponseError

from application.analytics import (
    COUNTER_WINDOW_MINUTES,
    AnalyticsProcessor,
    CounterDelta,
    Counters,
    InvalidEvent,
    to_record,
)
from domain.errors import DependencyUnavailable
from domain.events import DomainEvent
from domain.identity import Principal
from entrypoints.http.dependencies import BEARER_SECURITY, provide_principal
from entrypoints.http.envelope import Envelope, ok
from entrypoints.observability.metrics import _metric

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from entrypoints.bootstrap import Container

log = structlog.get_logger("trellis.analytics")

ANALYTICS_EVENTS = _metric(
    Counter,
    "trellis_analytics_events_total",
    "Events handled by the analytics consumer, by outcome: processed, duplicate, retried, dead_lettered.",
    ("outcome",),
)
ANALYTICS_LATENCY = _metric(
    Histogram,
    "trellis_analytics_end_to_end_seconds",
    "Time from an event's occurrence to its counters being updated.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ANALYTICS_LAG = _metric(
    Gauge,
    "trellis_analytics_consumer_lag",
    "Events appended to the analytics log and not yet acknowledged by the consumer group.",
)

Fields = dict[str, str]


# --- event log ---------------------------------------------------------------------------------


class EventLog(Protocol):
    async def append(self, fields: Fields) -> None: ...
    async def read(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, Fields]]: ...
    async def ack(self, entry_id: str) -> None: ...
    async def dead_letter(self, entry_id: str, fields: Fields, reason: str) -> None: ...
    async def lag(self) -> int: ...
    async def dead_letters(self, count: int = 100) -> list[Fields]: ...


class RedisEventLog:
    def __init__(
        self,
        redis: Redis,
        *,
        key: str = "trellis:analytics:events",
        dead_key: str = "trellis:analytics:dead",
        group: str = "analytics",
        maxlen: int = 100_000,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self._redis = redis
        self._key = key
        self._dead_key = dead_key
        self._group = group
        self._maxlen = maxlen
        self._claim_idle_ms = claim_idle_ms
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self._key, self._group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    async def append(self, fields: Fields) -> None:
        await self._redis.xadd(self._key, fields, maxlen=self._maxlen, approximate=True)  # type: ignore[arg-type]

    async def read(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, Fields]]:
        try:
            return await self._read(consumer, count, block_ms)
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            # Redis lost the stream and its group (restarted without persistence, or the key was
            # deleted): make the group again rather than failing every read until a restart
            self._group_ready = False
            return await self._read(consumer, count, block_ms)

    async def _read(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, Fields]]:
        await self._ensure_group()
        claimed = await self._redis.xautoclaim(
            self._key, self._group, consumer, min_idle_time=self._claim_idle_ms, start_id="0-0", count=count
        )
        entries: list[Any] = list(claimed[1]) if claimed else []
        if not entries:
            batches = cast(
                "list[tuple[bytes, list[Any]]]",
                await self._redis.xreadgroup(self._group, consumer, {self._key: ">"}, count=count, block=block_ms),
            )
            for _, batch in batches or []:
                entries.extend(batch)
        return [(_text(entry_id), _decoded(fields)) for entry_id, fields in entries if fields]

    async def ack(self, entry_id: str) -> None:
        await self._redis.xack(self._key, self._group, entry_id)

    async def dead_letter(self, entry_id: str, fields: Fields, reason: str) -> None:
        dead: dict[Any, Any] = {**fields, "error": reason, "entry_id": entry_id}
        await self._redis.xadd(self._dead_key, dead, maxlen=10_000)
        await self.ack(entry_id)

    async def lag(self) -> int:
        await self._ensure_group()
        for group in await self._redis.xinfo_groups(self._key):
            name = _text(group.get("name", b""))
            if name == self._group:
                return int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return 0

    async def dead_letters(self, count: int = 100) -> list[Fields]:
        entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", await self._redis.xrange(self._dead_key, count=count))
        return [_decoded(fields) for _, fields in entries]


class MemoryEventLog:
    """The embedded default: one process, so no group and no claiming; retries and DLQ the same."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._entries: deque[tuple[str, Fields]] = deque(maxlen=maxlen)
        self._dead: deque[Fields] = deque(maxlen=10_000)
        self._available = asyncio.Event()
        self._next = 0

    async def append(self, fields: Fields) -> None:
        self._next += 1
        self._entries.append((str(self._next), dict(fields)))
        self._available.set()

    async def read(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, Fields]]:
        if not self._entries:
            self._available.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(block_ms / 1000):  # unlike 3.11's wait_for, never swallows a cancel
                    await self._available.wait()
        taken: list[tuple[str, Fields]] = []
        while self._entries and len(taken) < count:
            taken.append(self._entries.popleft())
        return taken

    async def ack(self, entry_id: str) -> None:
        return None

    async def dead_letter(self, entry_id: str, fields: Fields, reason: str) -> None:
        self._dead.append({**fields, "error": reason, "entry_id": entry_id})

    async def lag(self) -> int:
        return len(self._entries)

    async def dead_letters(self, count: int = 100) -> list[Fields]:
        return list(self._dead)[:count]


# --- counter stores ----------------------------------------------------------------------------

_APPLY_ONCE = """
-- KEYS: seen, per-minute hash, completed-today counter, sentiment hash
-- ARGV: seen ttl s, event name, completed (0/1), sentiment or '', minute ttl s, day ttl s
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('EXPIRE', KEYS[2], ARGV[5])
if ARGV[3] == '1' then
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[4], ARGV[4], 1) end
return 1
"""


class RedisCounterStore:
    """Counters shared by every process; the seen-marker and the increments change atomically."""

    def __init__(self, redis: Redis, prefix: str = "trellis:analytics", connections: Callable[[], int] = lambda: 0):
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_APPLY_ONCE)
        self._connections = connections
        self._process = uuid.uuid4().hex[:12]

    async def apply_once(self, delta: CounterDelta) -> bool:
        p = self._prefix
        applied = await self._script(
            keys=[
                f"{p}:seen:{delta.event_id}",
                f"{p}:minute:{delta.minute}",
                f"{p}:completed:{delta.day}",
                f"{p}:sentiment",
            ],
            args=[86_400, delta.name, int(delta.task_completed), delta.sentiment or "", 7_200, 2 * 86_400],
        )
        return bool(applied)

    async def report_connections(self) -> None:
        """This process's open sockets, valid for 30 s (a dead process stops counting)."""
        expires = int(time.time() * 1000) + 30_000
        await self._redis.hset(f"{self._prefix}:connections", self._process, f"{self._connections()}:{expires}")

    async def snapshot(self, now: datetime, minutes: int) -> Counters:
        p = self._prefix
        counters = Counters()
        for minute in _minutes(now, minutes):
            raw = await self._redis.hgetall(f"{p}:minute:{minute}")
            if raw:
                counters.events_per_minute[minute] = {_text(k): int(v) for k, v in raw.items()}
        counters.tasks_completed_today = int(await self._redis.get(f"{p}:completed:{now.strftime('%Y-%m-%d')}") or 0)
        counters.posts_by_sentiment = {
            _text(k): int(v) for k, v in (await self._redis.hgetall(f"{p}:sentiment")).items()
        }
        now_ms = int(time.time() * 1000)
        for process, value in (await self._redis.hgetall(f"{p}:connections")).items():
            count, _, expires = _text(value).partition(":")
            if int(expires or 0) < now_ms:
                await self._redis.hdel(f"{p}:connections", process)
            else:
                counters.active_connections += int(count or 0)
        return counters


class MemoryCounterStore:
    def __init__(self, connections: Callable[[], int] = lambda: 0, seen_limit: int = 100_000) -> None:
        self._seen: dict[str, None] = {}
        self._seen_limit = seen_limit
        self._minutes: dict[str, dict[str, int]] = {}
        self._completed: dict[str, int] = {}
        self._sentiment: dict[str, int] = {}
        self._connections = connections

    async def apply_once(self, delta: CounterDelta) -> bool:
        if delta.event_id in self._seen:
            return False
        self._seen[delta.event_id] = None
        while len(self._seen) > self._seen_limit:
            del self._seen[next(iter(self._seen))]
        bucket = self._minutes.setdefault(delta.minute, {})
        bucket[delta.name] = bucket.get(delta.name, 0) + 1
        for old in sorted(self._minutes)[:-120]:  # two hours of minutes
            del self._minutes[old]
        if delta.task_completed:
            self._completed[delta.day] = self._completed.get(delta.day, 0) + 1
        if delta.sentiment:
            self._sentiment[delta.sentiment] = self._sentiment.get(delta.sentiment, 0) + 1
        return True

    async def report_connections(self) -> None:
        return None

    async def snapshot(self, now: datetime, minutes: int) -> Counters:
        return Counters(
            events_per_minute={m: dict(self._minutes[m]) for m in _minutes(now, minutes) if m in self._minutes},
            tasks_completed_today=self._completed.get(now.strftime("%Y-%m-%d"), 0),
            posts_by_sentiment=dict(self._sentiment),
            active_connections=self._connections(),
        )


class ConnectionReporting(Protocol):
    async def report_connections(self) -> None: ...


# --- feed and consumer -------------------------------------------------------------------------


class AnalyticsFeed:
    """Publisher subscriber: every domain event is appended to the analytics log."""

    def __init__(self, log: EventLog, timeout: float = 2.0) -> None:
        self._log = log
        self._timeout = timeout

    async def __call__(self, event: DomainEvent) -> None:
        try:
            await asyncio.wait_for(self._log.append(to_record(event)), self._timeout)
        except (RedisError, OSError, TimeoutError) as error:
            # Redis down: the event is not counted (the write itself stands); a warning, not an
            # error with a stack trace per write for as long as the outage lasts
            log.warning("analytics_event_lost", event_name=event.name, event_id=event.id, error=repr(error))


Push = Callable[[bytes, list[str]], Any]


class AnalyticsConsumer:
    def __init__(
        self,
        log: EventLog,
        processor: AnalyticsProcessor,
        reporter: ConnectionReporting,
        push: Push | None = None,
        *,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        batch: int = 100,
        block_ms: int = 1000,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.log = log
        self.processor = processor
        self._reporter = reporter
        self._push = push
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._batch = batch
        self._block_ms = block_ms
        self._now = now
        self.name = f"consumer-{uuid.uuid4().hex[:12]}"
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="analytics-consumer")

    async def stop(self) -> None:
        self._stopping = True  # a cancel lost in a race still ends the loop at its next turn
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                changed = await self.run_once()
                await self._reporter.report_connections()
                ANALYTICS_LAG.set(await self.log.lag())
                if changed and self._push is not None:
                    await self.push_counters()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                log.warning("analytics_log_unavailable", error=repr(error))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("analytics_consumer_failed")
                await asyncio.sleep(1.0)

    async def run_once(self) -> bool:
        """Handle one batch; True when a counter changed."""
        changed = False
        for entry_id, fields in await self.log.read(self.name, self._batch, self._block_ms):
            changed = await self._handle(entry_id, fields) or changed
        return changed

    async def _handle(self, entry_id: str, fields: Fields) -> bool:
        for attempt in range(1, self._attempts + 1):
            try:
                result = await self.processor.process(fields, self._now())
            except InvalidEvent as error:  # a retry cannot fix the schema
                await self.log.dead_letter(entry_id, fields, f"invalid: {error}")
                ANALYTICS_EVENTS.labels("dead_lettered").inc()
                return False
            except Exception as error:
                if attempt == self._attempts:
                    log.warning("analytics_event_dead_lettered", entry_id=entry_id, error=repr(error))
                    await self.log.dead_letter(entry_id, fields, f"failed after {attempt} attempts: {error!r}")
                    ANALYTICS_EVENTS.labels("dead_lettered").inc()
                    return False
                ANALYTICS_EVENTS.labels("retried").inc()
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
                continue
            await self.log.ack(entry_id)
            ANALYTICS_EVENTS.labels(result.outcome).inc()
            if result.outcome == "processed":
                ANALYTICS_LATENCY.observe(result.delta.latency_seconds)
                return True
            return False
        return False  # pragma: no cover - the loop always returns

    async def push_counters(self) -> None:
        if self._push is None:
            return
        counters = await self.processor.counters(self._now())
        message = {
            "type": "event",
            "channel": "analytics",
            "event": "analytics.counters",
            "data": counters.as_dict(),
            "at": self._now().isoformat().replace("+00:00", "Z"),
        }
        await self._push(json.dumps(message, separators=(",", ":")).encode(), ["analytics"])


# --- HTTP ---------------------------------------------------------------------------------------


class PipelineOut(msgspec.Struct, kw_only=True):
    lag: int


class AnalyticsOut(msgspec.Struct, kw_only=True):
    events_per_minute: dict[str, dict[str, int]]
    tasks_completed_today: int
    posts_by_sentiment: dict[str, int]
    active_connections: int
    pipeline: PipelineOut


def _error(description: str) -> Any:
    from litestar.openapi.datastructures import ResponseSpec

    from entrypoints.http.envelope import ErrorEnvelope

    return ResponseSpec(data_container=ErrorEnvelope, description=description)


@get(
    "/analytics",
    summary="Live counters",
    description="Events per type per minute (the last 5 minutes, UTC), tasks completed today (UTC), posts by "
    "sentiment, open websocket connections (all processes) and the pipeline's lag. The `analytics` websocket "
    "channel pushes the same counters as they change.",
    tags=["analytics"],
    dependencies={"principal": Provide(provide_principal)},
    security=BEARER_SECURITY,
    responses={401: _error("Not authenticated."), 503: _error("The analytics pipeline is unavailable.")},
)
async def analytics_counters(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Envelope[AnalyticsOut]:
    container: Container = request.app.state.container
    consumer = container.live.analytics if container.live is not None else None
    if not isinstance(consumer, AnalyticsConsumer):
        raise DependencyUnavailable("analytics")
    try:
        counters = await consumer.processor.counters(datetime.now(UTC))
        lag = await consumer.log.lag()
    except (RedisError, OSError) as error:
        raise DependencyUnavailable("analytics") from error
    return ok(
        AnalyticsOut(
            events_per_minute=counters.events_per_minute,
            tasks_completed_today=counters.tasks_completed_today,
            posts_by_sentiment=counters.posts_by_sentiment,
            active_connections=counters.active_connections,
            pipeline=PipelineOut(lag=lag),
        ),
        window_minutes=COUNTER_WINDOW_MINUTES,
    )


# --- helpers -------------------------------------------------------------------------------------


def _minutes(now: datetime, count: int) -> list[str]:
    at = now.astimezone(UTC).replace(second=0, microsecond=0)
    return [(at - timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M") for n in range(count - 1, -1, -1)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decoded(fields: Mapping[Any, Any]) -> Fields:
    return {_text(k): _text(v) for k, v in fields.items()}
