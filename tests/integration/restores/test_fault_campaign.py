"""The fault campaign's short variant (issue 21): `scripts/bench faults --rounds 6`, one round of each
fault (worker SIGKILL, SIGTERM, Redis kill -9 + restart, SMB cut, PostgreSQL backends terminated, smbd
restart as the workers see it) against real workers, a Redis of its own and the test domain, judged
over SMB. It fails on any partial file, lost current copy, leftover temporary, duplicate, stuck or
late job, 5xx or broken audit chain. The long campaign and its figures: docs/reliability.md."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.samba, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]


def test_six_rounds_of_faults_lose_nothing_leave_nothing_and_end_every_job_within_30_seconds():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the benchmark's own database
    run = subprocess.run([str(REPO / "scripts" / "bench"), "faults", "--rounds", "6"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=1200)
    table = run.stdout[run.stdout.find("\n6 rounds"):]
    assert run.returncode == 0, f"the campaign failed:\n{table or run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    for kind in ("sigkill", "sigterm", "redis", "smb_cut", "pg_terminate", "samba"):
        assert f"\n{kind} " in table, f"no round of {kind}:\n{table}"
    assert "PASS" in table
