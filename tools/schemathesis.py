"""Schemathesis against a real ``./dev run`` process: ``just schemathesis``; in CI as tests/e2e/test_schemathesis.py.

Starts the service on a free loopback port (embedded defaults, rate limits raised so fuzzing
is not throttled, argon2 made cheap), signs up and logs in a member, and runs the
``schemathesis`` CLI with every check it has over all phases against the service's own
``/openapi.json``, bounded by ``--max-time``. Prints the requests sent (from the HAR report)
and exits with schemathesis's status. Extra arguments go to ``schemathesis run``
(e.g. ``just schemathesis --max-time 30``).

Narrowed, each for a reason the product keeps on purpose:

- ``BasicAuth`` is dropped from the document the fuzzer reads: five wrong passwords for an
  account answer 429 for 15 minutes (documented brute-force protection), and the
  ``ignored_auth`` check repeats one invalid Basic credential on every route and accepts only
  401/403. Bearer tokens (missing, invalid, valid) are still checked on every route.
- The weather routes talk to the loopback fake OpenWeatherMap of the tests
  (``tests/support/fake_providers.py``): nothing leaves the machine, and without a provider they
  would answer 503 ``weather_unavailable`` by design.
- ``POST /api/v1/auth/logout-all`` is sent with a second member's token: it revokes every token
  of its caller, and the fuzzer's own must live for the rest of the run.
- ``positive_data_acceptance`` also accepts one more status on seven operations (``BEYOND_JSON_SCHEMA``),
  each for a rule JSON Schema cannot state: the password policy on signup (422 ``weak_password``);
  a ``post_id`` that must name a post the collection's owner can see (referential integrity, 422);
  and the sniffed type of an uploaded file (a part declared ``image/png`` must be a PNG, 415) on
  ``POST /api/v1/files`` and on completing a chunked upload; and on the list routes with keyset paging,
  a ``cursor`` is an opaque token the server issued and signed, and ``page`` and ``cursor`` exclude
  each other (422). Every other check stays on for them.

``tools/schemathesis_hooks.py`` plays the client's part the document cannot: real files of the
declared types in upload parts, and the true ``Content-Digest`` of a chunked-upload part.

The run is reproducible: ``--seed`` is fixed (``SCHEMATHESIS_SEED``, default
``DEFAULT_SEED``) and printed; pass another ``--seed`` to explore.

tests/e2e/test_schemathesis.py runs it in CI and asserts the request count from the HAR report.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery 42"  # noqa: S105 - a throwaway account on a throwaway server
MAX_SECONDS = int(os.environ.get("SCHEMATHESIS_MAX_SECONDS") or 120)
DEFAULT_SEED = 20261123
SEED = int(os.environ.get("SCHEMATHESIS_SEED") or DEFAULT_SEED)
HOOKS = ROOT / "tools" / "schemathesis_hooks.py"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]
# Every check is switched on here, not with --checks all: a check named on the command line
# overrides the per-operation exception below.
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis's default for the check
# positive_data_acceptance also accepts one more status on these operations, each for a rule the
# server applies that JSON Schema cannot state. Every other check stays on for them.
BEYOND_JSON_SCHEMA = [
    ("POST /api/v1/auth/signup", "422", "the password policy (12+ characters, not common, not the e-mail)"),
    ("POST /api/v1/collections/{collection_id}/posts", "422", "post_id must name a post the owner can see"),
    ("POST /api/v1/files", "415", "the file's bytes are sniffed: an allowed type must be a real file of it"),
    ("POST /api/v1/files/uploads/{upload_id}/complete", "415", "the same sniffing, on the joined parts"),
    *(
        (f"GET /api/v1/{path}", "422", "a cursor is an opaque token the server signed; page and cursor exclude")
        for path in ("projects", "projects/{project_id}/tasks", "posts")
    ),
]
CONFIG = (
    f"hooks = {json.dumps(str(HOOKS))}\n"
    + "".join(f"[checks.{name}]\nenabled = true\n" for name in CHECKS)
    + "".join(
        # include-name: one operation (include-path plus include-method would be two filters, either matching)
        f"\n[[operations]]\n# {reason}\ninclude-name = {json.dumps(name)}\n"
        f"checks.positive_data_acceptance.expected-statuses = {json.dumps([*POSITIVE, status])}\n"
        for name, status, reason in BEYOND_JSON_SCHEMA
    )
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def fake_weather() -> str:
    """The tests' fake OpenWeatherMap, on a loopback port, served from a thread of its own."""
    sys.path.insert(0, str(ROOT))
    from tests.support.fake_providers import FakeProviders

    fake = FakeProviders()
    asyncio.run(fake.start())  # its server keeps running in its own thread and loop
    return fake.base_url


def start(work: Path, weather_url: str) -> tuple[subprocess.Popen[bytes], str]:
    from tests.support.fake_providers import OWM_KEY

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "APP_ENV": "development",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        "RATE_LIMIT_AUTH": "1000000/minute",
        "OPENWEATHER_API_KEY": OWM_KEY,
        "OPENWEATHER_BASE_URL": weather_url,
    }
    env.pop("MONGODB_URL", None)
    env.pop("REDIS_URL", None)
    with (work / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "dev"), "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}; see {work / 'server.log'}")
        if healthy(base_url):
            return process, base_url
        time.sleep(0.1)
    stop(process)
    raise SystemExit("the server was not ready within 120 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def member_token(base_url: str, email: str = "fuzzer@schemathesis.example") -> str:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        signup = client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "display_name": "Fuzz"})
        signup.raise_for_status()
        login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        token: str = login.json()["data"]["access_token"]
        return token


def bearer_only(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = [s for s in operation["security"] if "BasicAuth" not in s]
    document["components"]["securitySchemes"].pop("BasicAuth", None)
    return document


def main(extra: list[str]) -> int:
    work = Path(tempfile.mkdtemp(prefix="trellis-schemathesis-"))
    process, base_url = start(work, fake_weather())
    try:
        token = member_token(base_url)
        throwaway = member_token(base_url, "logout-all@schemathesis.example")
        schema_path = work / "openapi.json"
        schema_path.write_text(json.dumps(bearer_only(httpx.get(f"{base_url}/openapi.json", timeout=10).json())))
        logout_all = (
            "\n[[operations]]\n# it revokes every token of its caller: not the fuzzer's own\n"
            'include-name = "POST /api/v1/auth/logout-all"\n'
            f"headers = {{ Authorization = {json.dumps('Bearer ' + throwaway)} }}\n"
        )
        (work / "schemathesis.toml").write_text(CONFIG + logout_all)  # found in the working directory
        har = work / "requests.har"
        seed = [] if any(a.startswith("--seed") for a in extra) else [f"--seed={SEED}"]
        print(f"schemathesis: seed {seed[0].split('=')[1] if seed else 'from the arguments'}", flush=True)
        argv = [
            *(sys.executable, "-m", "schemathesis.cli", "run", str(schema_path), "--url", base_url),
            *("--header", f"Authorization: Bearer {token}"),
            *("--max-time", str(MAX_SECONDS), "--max-examples", "40"),
            *("--workers", "4", "--request-timeout", "10", "--generation-database", "none"),
            *("--suppress-health-check", "all", "--report", "har", "--report-har-path", str(har)),
            *seed,
            *extra,
        ]
        env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false"}
        result = subprocess.run(argv, cwd=work, env=env, timeout=MAX_SECONDS + 120, check=False)
        requests = len(json.loads(har.read_text())["log"]["entries"]) if har.exists() else 0
        print(f"schemathesis: {requests} requests; exit status {result.returncode}; work directory {work}")
        status = result.returncode
    finally:
        stop(process)
    if re.search("Traceback", (work / "server.log").read_text(errors="replace")):
        print(f"the server logged a traceback: {work / 'server.log'}")
        status = status or 1
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
