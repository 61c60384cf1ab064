"""Real Celery workers for tests: `celery -A vdiprotect worker` subprocesses against the test database.

Used by the fault tests (a Redis of their own, workers killed mid-copy) and the browser tests (the
job a page starts really runs, so its progress really reaches Done), and `celery beat` for the demo's
configuration on the embedded database. Each process is the leader of a process group of its own, so it
can be killed with its pool child and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


class Workers:
    """Workers consuming ``broker_url``, each logging to ``<log_dir>/worker-<n>.log``."""

    def __init__(self, broker_url: str, log_dir: Path):
        self.broker_url, self.log_dir, self.procs = broker_url, log_dir, []

    def environment(self, **env) -> dict:
        """The processes' environment: this test run's database and the broker, then ``env`` on top."""
        db = connection.settings_dict
        return {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:"
                                              f"{db['PORT']}/{db['NAME']}",
                "CELERY_BROKER_URL": self.broker_url, "REDIS_URL": settings.REDIS_URL,
                "RESTORE_STALE_SECONDS": "600", **env}

    def start(self, queues: str = "celery,catalog", **env) -> subprocess.Popen:
        """A worker of one process consuming ``queues`` (both by default: restores and catalog builds)."""
        n = len(self.procs)
        return self._spawn(f"worker-{n}", ["worker", "-P", "prefork", "-c", "1", "-Q", queues, "--without-mingle",
                                           "--without-gossip", "-l", "info", "-n", f"w{n}-{os.getpid()}@%h"], env)

    def start_beat(self, **env) -> subprocess.Popen:
        """``celery beat``: the schedule (sweeps, catalog refreshes) in a process of its own, as deployed."""
        return self._spawn("beat", ["beat", "-l", "info", "--schedule", str(self.log_dir / "beat-schedule")], env)

    def _spawn(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "vdiprotect", *argv], cwd=REPO,
                                env=self.environment(**env), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its pool child, with no chance to clean up
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
