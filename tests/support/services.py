"""Start real servers (Redis, the MongoDB-wire server, Azurite, an OpenID provider, …) for tests.

Each server runs on a free loopback port, is started by a fixture and torn down after it.
When the server cannot be had, the test is skipped — unless ``REQUIRE_REAL_SERVICES=1``
(set by ``.ci/run``), which turns that into a failure so CI never goes green on skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

LOOPBACK = "127.0.0.1"


def require_real_services() -> bool:
    return os.environ.get("REQUIRE_REAL_SERVICES", "") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when real services are required."""
    if require_real_services():
        pytest.fail(f"required real service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def find_executable(name: str, *extra_dirs: Path) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@dataclass
class RunningServer:
    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Die abruptly, as a crashed dependency would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(
    name: str,
    argv: Sequence[str],
    port: int,
    *,
    host: str = LOOPBACK,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    ready: Callable[[], bool] | None = None,
    timeout: float = 30.0,
) -> RunningServer:
    """Start ``argv`` and wait until ``ready()`` (default: the port accepts connections)."""
    log_dir = Path(tempfile.mkdtemp(prefix=f"trellis-{name}-"))
    log_path = log_dir / "server.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        list(argv),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    log_file.close()
    server = RunningServer(name=name, host=host, port=port, process=process, log_path=log_path)
    check = ready or (lambda: port_open(host, port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} before it was ready:\n{server.log_tail()}")
        if check():
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{name} was not ready within {timeout:.0f}s:\n{server.log_tail()}")


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    port: int,
    **kwargs: object,
) -> Iterator[RunningServer]:
    server = start_server(name, argv, port, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
