"""A real SMTP server for tests: aiosmtpd (a dev dependency, so always there) on a free loopback
port, in its own thread, keeping every message it accepts. Plain, STARTTLS or implicit TLS with
a throw-away self-signed certificate; optional AUTH with one user; addresses it refuses."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.services import LOOPBACK, free_port


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


@dataclass(slots=True)
class Inbox:
    """The aiosmtpd handler: keeps what it accepts, refuses the addresses in ``refuse``."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            self.refused += 1
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    inbox: Inbox
    #: trusts the server's self-signed certificate (None for a plain server)
    client_tls: ssl.SSLContext | None


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    tls: Literal["none", "starttls", "implicit"] = "none",
    login: tuple[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """Start aiosmtpd; ``login`` = (user, password) makes AUTH required and checked."""
    inbox = Inbox()
    kwargs: dict[str, Any] = {}
    client_tls: ssl.SSLContext | None = None
    with tempfile.TemporaryDirectory(prefix="trellis-smtp-") as tmp:
        if tls != "none":
            cert, key = _self_signed(Path(tmp))
            server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_tls.load_cert_chain(cert, key)
            client_tls = ssl.create_default_context(cafile=str(cert))
            if tls == "implicit":
                kwargs["ssl_context"] = server_tls
            else:
                kwargs["tls_context"] = server_tls
                kwargs["require_starttls"] = True
        if login is not None:
            if tls == "implicit":
                raise ValueError("aiosmtpd offers AUTH on implicit TLS only with a warning; use STARTTLS")
            expected_user, expected_password = login

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and data.login.decode() == expected_user
                    and data.password.decode() == expected_password
                )
                if ok:
                    inbox.logins.append(expected_user)
                return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls == "starttls")
        controller = Controller(inbox, hostname=LOOPBACK, port=free_port(), server_hostname="localhost", **kwargs)
        controller.start()
        try:
            yield SmtpServer(LOOPBACK, controller.port, inbox, client_tls)
        finally:
            controller.stop()


@asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[str, int]]:
    """Accepts TCP connections and never says a word (no SMTP greeting): a hanging server."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, LOOPBACK, 0, family=socket.AF_INET)
    port = int(server.sockets[0].getsockname()[1])
    try:
        yield LOOPBACK, port
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
