"""What every use case shares: the ports it talks to and how it records events."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from domain.errors import PreconditionFailed, VersionConflict
from domain.events import DomainEvent
from domain.ports import Clock, EventPublisher, IdGenerator, UnitOfWork

T = TypeVar("T")

#: how often a use case runs when only a *derived* write (project progress) keeps losing a race
DERIVED_WRITE_ATTEMPTS = 16
#: the first re-run waits up to this long (seconds); each later one up to twice as long …
DERIVED_RETRY_BASE_DELAY = 0.01
#: … but never more than this: about 9 s of waiting at most over all attempts
DERIVED_RETRY_MAX_DELAY = 1.0


@dataclass(slots=True)
class Ports:
    uow: UnitOfWork
    clock: Clock
    ids: IdGenerator
    publisher: EventPublisher


@dataclass(slots=True)
class EventBuffer:
    """Events a use case raised; published only after its writes committed."""

    ports: Ports
    actor_id: str | None
    events: list[DomainEvent] = field(default_factory=list)

    def record(
        self,
        name: str,
        data: Mapping[str, Any],
        *,
        project_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        self.events.append(
            DomainEvent(
                id=self.ports.ids.new_id(),
                name=name,
                actor_id=self.actor_id,
                at=self.ports.clock.now(),
                project_id=project_id,
                user_id=user_id,
                data=dict(data),
            )
        )

    async def publish(self) -> None:
        if self.events:
            await self.ports.publisher.publish(tuple(self.events))
            self.events.clear()


def check_if_match(current_version: int, expected_version: int | None) -> None:
    """``If-Match`` support: a client that names a version may only change that version."""
    if expected_version is not None and expected_version != current_version:
        raise PreconditionFailed()


async def retry_on_derived_conflict(
    attempt: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Run ``attempt``; re-run it when a concurrent writer changed a record we only derive.

    A task change recomputes its project's progress in the same transaction; two changes to
    different tasks of one project race on the project's version. That race is not the
    client's conflict, so the whole transaction is retried on fresh reads. Each attempt reads
    the record the client named again and checks its If-Match again, so a conflict that *is*
    the client's (that record changed) surfaces there as 412 — a VersionConflict alone cannot
    tell which record lost the race, so it is never turned into 412 here.

    On MongoDB the race ends as a write conflict that aborts the losing transaction
    (``TransientTransactionError``, mapped to VersionConflict by the adapter), and only one of
    N concurrent writers to a project commits per round. Re-running at once makes the losers
    collide again, so each re-run waits a random time up to an exponentially growing, capped
    bound ("full jitter", as the drivers' ``with_transaction`` retries): N writers spread out
    and all commit within a bounded number of attempts.
    """
    for number in range(DERIVED_WRITE_ATTEMPTS):
        try:
            return await attempt()
        except VersionConflict:
            if number == DERIVED_WRITE_ATTEMPTS - 1:
                raise
        bound = min(DERIVED_RETRY_MAX_DELAY, DERIVED_RETRY_BASE_DELAY * 2**number)
        await sleep(bound * jitter())
    raise AssertionError("unreachable")  # pragma: no cover
