"""``Notifier`` over SMTP (aiosmtplib): one message per call, a fresh connection each time.

Security comes from the URL scheme the settings parsed: ``starttls`` (``smtp://``, STARTTLS is
required: a server that does not offer it is a failure, never a silent plaintext send),
``tls`` (``smtps://``, implicit TLS) or ``none`` (``smtp+insecure://``, a local mail catcher).
Every delivery is bounded by ``timeout_seconds`` as a whole (connect, greeting, TLS, AUTH,
DATA). The password is kept out of ``repr`` and out of every message this adapter raises.
"""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Literal

import aiosmtplib

from domain.ports import NotificationFailed, Recipient

Security = Literal["starttls", "tls", "none"]


def _one_line(text: str) -> str:
    """Header values on one line: a CR or LF in a subject must not start a new header."""
    return " ".join(text.split())


class SmtpNotifier:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._security = security
        self._sender = sender
        self._username = username
        self._password = password
        self._timeout = timeout_seconds
        self._tls_context = tls_context  # None: the system's trusted CAs, hostname checked

    def __repr__(self) -> str:
        user = f"{self._username}@" if self._username else ""
        return f"SmtpNotifier({self._security}://{user}{self._host}:{self._port}, from={self._sender!r})"

    def message(self, recipient: Recipient, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = formataddr((_one_line(recipient.display_name), recipient.email or ""))
        message["Subject"] = _one_line(subject)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        message.set_content(body)
        return message

    async def notify(self, recipient: Recipient, subject: str, body: str) -> bool:
        if not recipient.email:
            return False
        message = self.message(recipient, subject, body)
        try:
            async with asyncio.timeout(self._timeout):
                await aiosmtplib.send(
                    message,
                    hostname=self._host,
                    port=self._port,
                    username=self._username,
                    password=self._password,
                    use_tls=self._security == "tls",
                    start_tls=self._security == "starttls",
                    tls_context=self._tls_context,
                    timeout=self._timeout,
                )
        except TimeoutError:
            raise NotificationFailed(
                f"SMTP server {self._host}:{self._port} did not finish within {self._timeout:g} s"
            ) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise NotificationFailed(
                f"SMTP delivery via {self._host}:{self._port} failed: {_describe(error)}"
            ) from None
        return True


def _describe(error: BaseException) -> str:
    """The error's class and the server's reply code, never the reply text of an AUTH exchange
    (some servers echo what they were sent)."""
    code = getattr(error, "code", None)
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return f"authentication refused ({code})"
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}" + (f" {code}" if code else "") + (f": {message}" if message else "")
