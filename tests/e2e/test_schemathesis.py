"""Schemathesis in CI: ``tools/schemathesis.py`` against a real ``./dev run`` process.

The tool starts the service on a free loopback port, signs up a member and runs every
schemathesis check over all phases (examples, coverage, fuzzing, stateful) on the service's own
``/openapi.json`` for a bounded time, with a fixed seed (printed). This test fails on any finding,
on a server traceback, and unless at least ``MIN_REQUESTS`` requests were sent: the count is read
from the HAR report, not assumed. Findings it made are fixed, each with a regression test
(``tests/integration/http/test_openapi_conformance.py`` and the areas' own tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BUDGET_SECONDS = 140  # schemathesis's own --max-time; the server start and the report come on top
MIN_REQUESTS = 2000
REPORT = re.compile(r"^schemathesis: (\d+) requests; exit status (-?\d+)", re.MULTILINE)


@pytest.mark.timeout(BUDGET_SECONDS + 180)
def test_schemathesis_finds_nothing_in_at_least_2000_requests() -> None:
    env = {**os.environ, "SCHEMATHESIS_MAX_SECONDS": str(BUDGET_SECONDS)}
    env.pop("MONGODB_URL", None)
    env.pop("REDIS_URL", None)
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "schemathesis.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUDGET_SECONDS + 150,
        check=False,
    )
    output = run.stdout + run.stderr
    print(output[-20_000:])  # noqa: T201 - the report (seed, findings, counts) is the point
    found = REPORT.search(output)
    assert found is not None, "the tool printed no report line"
    requests, status = int(found.group(1)), int(found.group(2))
    assert "the server logged a traceback" not in output
    assert status == 0, f"schemathesis reported findings (exit status {status}); see the output above"
    assert run.returncode == 0
    assert requests >= MIN_REQUESTS, f"only {requests} requests in {BUDGET_SECONDS} s"
