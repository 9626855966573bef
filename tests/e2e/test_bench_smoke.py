"""``bench/run.py --quick`` runs end to end and writes a results JSON of the documented shape.

A smoke test, not a benchmark: one cheap HTTP scenario on the embedded Trellis and the bare
Litestar ceiling (wrk), and a small websocket fan-out. Nothing here asserts a timing; it checks
that the harness starts, measures, stops what it started, and that every ratio is a number.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.real_service]

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_writes_its_json(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk is not installed (apt-get install wrk; `just test-deps` does it)")
    out = tmp_path / "bench.json"
    argv = [sys.executable, "bench/run.py", "--quick", "--only", "get_project,fanout"]
    argv += ["--targets", "trellis,bare-litestar", "--ws-clients", "20", "--ws-writes", "3", "--json", str(out)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=100, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| trellis | GET /projects/{id} (cached) |" in done.stdout

    report = json.loads(out.read_text())
    assert report["machine"]["nproc"] >= 1
    assert report["settings"]["quick"] is True
    rows = {(r["target"], r["scenario"]): r for r in report["rows"]}
    assert set(rows) == {("trellis", "get_project"), ("bare-litestar", "get_project")}
    for row in rows.values():
        for key in ("rps", "p50_ms", "p99_ms"):
            assert isinstance(row[key], float), (key, row)
            assert math.isfinite(row[key]), (key, row)
            assert row[key] > 0, (key, row)
        assert row["errors"] == 0
    ratio = rows[("trellis", "get_project")]["vs_ceiling"]
    assert isinstance(ratio, float)
    assert math.isfinite(ratio)
    assert ratio > 0
    assert rows[("bare-litestar", "get_project")]["vs_ceiling"] == 1.0

    (fanout,) = report["fanout"]
    assert (fanout["subscribers"], fanout["writes"], fanout["missing_receipts"]) == (20, 3, 0)
    for key in ("last_receipt_ms", "all_receipts_ms", "last_receipt_from_request_ms"):
        assert all(isinstance(v, float) and math.isfinite(v) for v in fanout[key].values()), (key, fanout[key])
    assert report["import"] is None
