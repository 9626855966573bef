"""The SMTP notifier against a real SMTP server (aiosmtpd): implicit TLS, STARTTLS that must
happen, certificates checked, AUTH, and every failure (down, hanging, refused) raised as
``NotificationFailed`` within the timeout and without the password."""

from __future__ import annotations

import time

import pytest

from adapters.notify.smtp import Security, SmtpNotifier
from domain.ports import NotificationFailed, Recipient
from tests.support.services import LOOPBACK, free_port
from tests.support.smtp import SmtpServer, silent_server, smtp_server

ADA = Recipient(user_id="u-ada", email="ada@example.com", display_name="Ada Lovelace")
PASSWORD = "s3cret-pa55"


def notifier_for(server: SmtpServer, security: Security, **overrides: object) -> SmtpNotifier:
    options: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": security,
        "sender": "Trellis <trellis@example.com>",
        "timeout_seconds": 5.0,
        "tls_context": server.client_tls,
    }
    options.update(overrides)
    return SmtpNotifier(**options)  # type: ignore[arg-type]


async def test_implicit_tls_delivers_with_from_to_and_subject() -> None:
    # (AUTH is checked over STARTTLS: aiosmtpd offers AUTH on implicit TLS only with a warning)
    with smtp_server(tls="implicit") as server:
        notifier = notifier_for(server, "tls")
        assert await notifier.notify(ADA, "3 overdue task(s)", "- Site: fence") is True
        [received] = server.inbox.messages()
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.mail_from == "trellis@example.com"
    assert received.message["To"] == "Ada Lovelace <ada@example.com>"
    assert received.message["From"] == "Trellis <trellis@example.com>"
    assert received.message["Subject"] == "3 overdue task(s)"
    assert received.message.get_content().strip() == "- Site: fence"


async def test_starttls_is_required_never_skipped_when_the_server_does_not_offer_it() -> None:
    with smtp_server(tls="none") as server:
        with pytest.raises(NotificationFailed):
            await notifier_for(server, "starttls").notify(ADA, "s", "b")
        assert server.inbox.messages() == []


async def test_an_untrusted_certificate_is_refused() -> None:
    with smtp_server(tls="implicit") as server:
        with pytest.raises(NotificationFailed):
            await notifier_for(server, "tls", tls_context=None).notify(ADA, "s", "b")  # system CAs only
        assert server.inbox.messages() == []


async def test_a_wrong_password_fails_without_showing_it() -> None:
    with smtp_server(tls="starttls", login=("trellis", PASSWORD)) as server:
        notifier = notifier_for(server, "starttls", username="trellis", password="wrong-Pa55word")
        with pytest.raises(NotificationFailed) as failure:
            await notifier.notify(ADA, "s", "b")
        assert server.inbox.messages() == []
    assert "wrong-Pa55word" not in str(failure.value)
    assert "authentication refused" in str(failure.value)


async def test_a_refused_recipient_is_a_failure() -> None:
    with smtp_server() as server:
        server.inbox.refuse.add("ada@example.com")
        with pytest.raises(NotificationFailed, match="SMTPRecipientsRefused"):
            await notifier_for(server, "none").notify(ADA, "s", "b")


async def test_a_server_that_is_down_fails_at_once() -> None:
    notifier = SmtpNotifier(host=LOOPBACK, port=free_port(), security="none", sender="t@example.com")
    started = time.monotonic()
    with pytest.raises(NotificationFailed):
        await notifier.notify(ADA, "s", "b")
    assert time.monotonic() - started < 2


async def test_a_hanging_server_is_bounded_by_the_timeout() -> None:
    async with silent_server() as (host, port):
        notifier = SmtpNotifier(host=host, port=port, security="tls", sender="t@example.com", timeout_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(NotificationFailed, match=r"did not finish within 0\.5 s"):
            await notifier.notify(ADA, "s", "b")
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 2


async def test_auth_over_starttls_logs_in_with_the_configured_user() -> None:
    with smtp_server(tls="starttls", login=("trellis", PASSWORD)) as server:
        notifier = notifier_for(server, "starttls", username="trellis", password=PASSWORD)
        assert await notifier.notify(ADA, "s", "b") is True
        assert server.inbox.logins == ["trellis"]
        assert len(server.inbox.messages()) == 1
