"""SMTP_URL, SMTP_FROM, SMTP_TIMEOUT_SECONDS: parsed, checked (errors never quote the URL, which
holds the password), refused in production when they would send in the clear, and wired by
bootstrap in place of the log notifier."""

from __future__ import annotations

import pytest

from adapters.memory.jobs import LogNotifier
from adapters.notify.smtp import SmtpNotifier
from domain.ports import Recipient
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import SettingsError, load_settings
from tests.integration.http.helpers import make_settings
from tests.support.smtp import smtp_server

FROM = {"SMTP_FROM": "Trellis <noreply@example.com>"}


def test_the_scheme_picks_the_security_and_the_default_port() -> None:
    starttls = load_settings({"SMTP_URL": "smtp://mailer:p%40ss%2Fw0rd@mail.example.com", **FROM}, dotenv=None).smtp
    assert starttls is not None
    assert (starttls.security, starttls.port, starttls.host) == ("starttls", 587, "mail.example.com")
    assert (starttls.username, starttls.password) == ("mailer", "p@ss/w0rd")  # percent-decoded
    assert starttls.timeout_seconds == 10
    assert "p@ss" not in repr(starttls)
    implicit = load_settings({"SMTP_URL": "smtps://mail.example.com", **FROM, "SMTP_TIMEOUT_SECONDS": "3"}, dotenv=None)
    assert implicit.smtp is not None
    assert (implicit.smtp.security, implicit.smtp.port, implicit.smtp.username) == ("tls", 465, None)
    assert implicit.smtp.timeout_seconds == 3
    plain = load_settings({"SMTP_URL": "smtp+insecure://127.0.0.1:1025", **FROM}, dotenv=None).smtp
    assert plain is not None
    assert (plain.security, plain.port) == ("none", 1025)
    assert load_settings({}, dotenv=None).smtp is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMTP_URL": "http://user:hunter2@mail.example.com", **FROM}, "SMTP_URL must start with"),
        ({"SMTP_URL": "smtp://user:hunter2@", **FROM}, "SMTP_URL needs a host"),
        ({"SMTP_URL": "smtp://user:hunter2@mail.example.com:99999", **FROM}, "SMTP_URL is not a valid URL"),
        ({"SMTP_URL": "smtp://user@mail.example.com", **FROM}, "both a user and a password"),
        ({"SMTP_URL": "smtp://user:hunter2@mail.example.com/x?y=1", **FROM}, "no path or query"),
        ({"SMTP_URL": "smtp://user:hunter2@mail.example.com"}, "SMTP_FROM must be set"),
        ({"SMTP_URL": "smtp://user:hunter2@mail.example.com", "SMTP_FROM": "not an address"}, "SMTP_FROM must be"),
        ({"SMTP_URL": "smtp://user:hunter2@mail.example.com", "SMTP_FROM": "a@b.c\r\nBcc: x@y.z"}, "SMTP_FROM must"),
        (FROM, "SMTP_FROM is set but SMTP_URL is not"),
        ({"SMTP_URL": "smtp://mail.example.com", **FROM, "SMTP_TIMEOUT_SECONDS": "0"}, "SMTP_TIMEOUT_SECONDS"),
    ],
)
def test_nonsense_is_refused_naming_the_variable_and_never_the_password(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        load_settings(env, dotenv=None)
    assert "hunter2" not in str(refused.value)


def test_production_refuses_mail_in_the_clear_except_to_a_local_relay() -> None:
    remote = load_settings({"SMTP_URL": "smtp+insecure://u:p@mail.example.com", **FROM}, dotenv=None)
    assert any(problem.startswith("SMTP_URL:") for problem in remote.production_problems())
    local = load_settings({"SMTP_URL": "smtp+insecure://localhost:25", **FROM}, dotenv=None)
    assert not any(problem.startswith("SMTP_URL:") for problem in local.production_problems())
    tls = load_settings({"SMTP_URL": "smtps://u:p@mail.example.com", **FROM}, dotenv=None)
    assert not any(problem.startswith("SMTP_URL:") for problem in tls.production_problems())


async def test_bootstrap_sends_the_digest_by_email_when_smtp_url_is_set() -> None:
    default = await bootstrap(make_settings())
    try:
        assert default.jobs is not None
        assert isinstance(default.jobs.notifier, LogNotifier)
    finally:
        await default.close()
    with smtp_server() as server:
        container = await bootstrap(
            make_settings(SMTP_URL=f"smtp+insecure://{server.host}:{server.port}", SMTP_FROM="t@example.com")
        )
        try:
            assert container.jobs is not None
            notifier = container.jobs.notifier
            assert isinstance(notifier, SmtpNotifier)
            assert await notifier.notify(Recipient("u1", "ada@example.com"), "hello", "body") is True
        finally:
            await container.close()
        [received] = server.inbox.messages()
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.mail_from == "t@example.com"
