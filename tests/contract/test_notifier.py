"""The Notifier contract, run against every adapter: the log notifier, SMTP (a real aiosmtpd
server) and the live notifier (over the log one). What each delivered is read back from where it
went: the log notifier's record, the SMTP server's mailbox (To, Subject, body as received), the
``notification.sent`` events published for the recipient's ``user:<id>`` channel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest

from adapters.memory.clock import FixedClock
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.ids import UuidGenerator
from adapters.memory.jobs import LogNotifier
from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.notify.smtp import SmtpNotifier
from application.common import Ports
from application.notifications import LiveNotifier
from domain.events import NOTIFICATION_SENT
from domain.ports import Notifier, Recipient
from tests.support.smtp import smtp_server


@dataclass(slots=True)
class Delivered:
    to: str  # the user id (log) or the e-mail address (SMTP) it reached
    subject: str
    body: str


@dataclass(slots=True)
class Harness:
    notifier: Notifier
    delivered: Callable[[], list[Delivered]]
    #: where a recipient's message lands on this channel; None: this channel cannot reach them
    address: Callable[[Recipient], str | None]


@asynccontextmanager
async def log_harness() -> AsyncIterator[Harness]:
    notifier = LogNotifier()
    yield Harness(
        notifier,
        lambda: [Delivered(user_id, subject, body) for user_id, subject, body in notifier.sent],
        lambda recipient: recipient.user_id,
    )


@asynccontextmanager
async def smtp_harness() -> AsyncIterator[Harness]:
    with smtp_server(tls="starttls", login=("trellis", "s3cret-pa55")) as server:
        notifier = SmtpNotifier(
            host=server.host,
            port=server.port,
            security="starttls",
            sender="Trellis <trellis@example.com>",
            username="trellis",
            password="s3cret-pa55",
            timeout_seconds=5,
            tls_context=server.client_tls,
        )

        def delivered() -> list[Delivered]:
            return [
                Delivered(
                    ",".join(received.rcpt_tos),
                    str(received.message["Subject"]),
                    received.message.get_content().replace("\r\n", "\n"),
                )
                for received in server.inbox.messages()
            ]

        yield Harness(notifier, delivered, lambda recipient: recipient.email)


@asynccontextmanager
async def live_harness() -> AsyncIterator[Harness]:
    publisher = InMemoryEventPublisher()
    ports = Ports(uow=MemoryUnitOfWork(), clock=FixedClock(), ids=UuidGenerator(), publisher=publisher)
    notifier = LiveNotifier(ports, LogNotifier())

    def delivered() -> list[Delivered]:
        return [
            Delivered(str(event.user_id), event.data["subject"], event.data["body"])
            for event in publisher.history
            if event.name == NOTIFICATION_SENT
        ]

    yield Harness(notifier, delivered, lambda recipient: recipient.user_id)


NOTIFIERS: dict[str, Callable[[], AbstractAsyncContextManager[Harness]]] = {
    "log": log_harness,
    "smtp": smtp_harness,
    "live": live_harness,
}


@pytest.fixture(params=list(NOTIFIERS))
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async with NOTIFIERS[request.param]() as value:
        yield value


ADA = Recipient(user_id="u-ada", email="ada@example.com", display_name="Ada Lovelace")
BOB = Recipient(user_id="u-bob", email="bob@example.com", display_name="Bob")


async def test_a_message_reaches_its_recipient_with_subject_and_body(harness: Harness) -> None:
    body = "- Bridge: pour the deck (due 2025-03-01, 40%)\n- Bridge: paint ✓ (due 2025-03-02, 0%)"
    assert await harness.notifier.notify(ADA, "2 overdue task(s)", body) is True
    assert await harness.notifier.notify(BOB, "1 overdue task(s)", "- Site: fence") is True
    [first, second] = harness.delivered()
    assert (first.to, first.subject) == (harness.address(ADA), "2 overdue task(s)")
    assert first.body.rstrip("\n") == body
    assert (second.to, second.subject, second.body.rstrip("\n")) == (
        harness.address(BOB),
        "1 overdue task(s)",
        "- Site: fence",
    )


async def test_a_recipient_the_channel_cannot_reach_is_reported_not_raised(harness: Harness) -> None:
    nobody = Recipient(user_id="u-none", email=None, display_name="No Address")
    delivered = await harness.notifier.notify(nobody, "subject", "body")
    if harness.address(nobody) is None:
        assert delivered is False
        assert harness.delivered() == []
    else:
        assert delivered is True
        assert [d.to for d in harness.delivered()] == [harness.address(nobody)]


async def test_a_line_break_in_the_subject_cannot_add_a_header(harness: Harness) -> None:
    assert await harness.notifier.notify(ADA, "late\r\nBcc: eve@example.com", "body") is True
    [message] = harness.delivered()
    assert "\n" not in message.subject
    assert message.to == harness.address(ADA)  # nobody else got it


async def test_nothing_logged_carries_the_password(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await harness.notifier.notify(ADA, "subject", "body")
    ours = [record for record in caplog.records if not record.name.startswith("mail.log")]  # aiosmtpd: the server
    assert all("s3cret" not in record.getMessage() for record in ours)
    assert "s3cret" not in repr(harness.notifier)
