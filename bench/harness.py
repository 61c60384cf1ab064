"""What the reliability benchmarks share (bench/faults.py, bench/drain.py): the portal in this process
(Django, the real API through a test client signed in against AD), a broker of their own (a Redis on
127.0.0.1:6390+ with an append-only file, as docker-compose.yml runs it; never the shared 6379), real
Celery workers and beat (tests/support/workers.py) against the benchmark's PostgreSQL database, and
a folder of the test domain's scratch share with a snapshot of its own (tests/support/scratch.py)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import django

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vdiprotect.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")
os.environ.setdefault("RESTORE_MAX_ACTIVE_PER_USER", "100000")  # the benchmark queues many for one person
# As deployed (DEBUG off), but over plain HTTP on loopback: the test client's host and no TLS redirect.
os.environ.update(DEBUG="false", SECURE_SSL_REDIRECT="false", STATIC_MANIFEST="false",
                  SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false",
                  ALLOWED_HOSTS=os.environ.get("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1"))
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from restore.models import FINAL_STATES, RestoreJob  # noqa: E402
from tests.conftest import read_env_file, TestDomain  # noqa: E402
from tests.support.broker import RedisServer, free_port, use_broker, wait_for  # noqa: E402
from tests.support.scratch import SHARE, ScratchArea, give_root  # noqa: E402
from tests.support.workers import Workers  # noqa: E402

WORKER_APPNAME = "vdiprotect-bench-worker"
__all__ = ["WORKER_APPNAME", "SHARE", "FINAL_STATES", "RestoreJob", "wait_for", "Bench", "sha256_bytes"]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Bench:
    """Broker + workers + beat + alice signed in + a scratch area. Use as a context manager."""

    def __init__(self, *, workers: int = 2, worker_env: dict | None = None):
        self.workdir = Path(tempfile.mkdtemp(prefix="vdiprotect-bench-"))
        self.broker = RedisServer(self.workdir / "redis", port=free_port(6390), aof=True)
        self.n_workers, self.worker_env = workers, dict(worker_env or {})
        self.testenv = TestDomain(read_env_file())
        self.area: ScratchArea | None = None
        self.throttled = 0.0  # seconds waited on 429 answers
        self.pool: Workers | None = None

    def __enter__(self) -> "Bench":
        # One benchmark at a time: they share alice's "scratch" root and the benchmark database.
        self.lock = open(Path(tempfile.gettempdir()) / "vdiprotect-bench.lock", "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.broker.start()
        use_broker(self.broker.url)
        self.pool = Workers(self.broker.url, self.workdir)
        self.client = self.sign_in("alice")
        self.area = ScratchArea(self.testenv, prefix="bench").create()
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.stop_all()
        self.broker.kill()
        if self.area is not None:
            self.area.remove()
        self.lock.close()

    # --- the portal ------------------------------------------------------------------------------
    def sign_in(self, username: str) -> Client:
        client = Client()
        response = client.post("/signin/", {"username": username, "password": self.testenv.password})
        assert response.status_code == 302, f"sign-in of {username} failed: {response.status_code}"
        return client

    def give_area(self, username: str = "alice") -> None:
        give_root(username, self.area)

    def start_restore(self, paths: list[str], *, client: Client | None = None, **options) -> tuple[int, str | None]:
        """(status, job id or None) of POST /api/v1/restores, as a person's script would send it."""
        body = {"items": [{"root": "scratch", "path": p, "at": self.area.snapshots[0]} for p in paths], **options}
        for _ in range(30):  # a 429 (the per-person throttles stay on) is waited out as its Retry-After says
            response = (client or self.client).post("/api/v1/restores", body, content_type="application/json")
            if response.status_code != 429:
                break
            self.throttled += min(60.0, float(response.get("Retry-After") or 1))
            time.sleep(min(60.0, float(response.get("Retry-After") or 1)))
        job = response.json().get("id") if response.status_code in (201, 202) else None
        return response.status_code, job

    # --- workers ---------------------------------------------------------------------------------
    def worker_environment(self) -> dict:
        # PGAPPNAME names the workers' PostgreSQL sessions, so a fault can terminate exactly those.
        return {"RESTORE_STALE_SECONDS": str(settings.RESTORE_STALE_SECONDS), "PGAPPNAME": WORKER_APPNAME,
                **self.worker_env}

    def start_worker(self):
        return self.pool.start(**self.worker_environment())

    def start_workers(self, beat: bool = True) -> None:
        for _ in range(self.n_workers):
            self.start_worker()
        if beat:
            self.pool.start_beat(**self.worker_environment())

    def live_workers(self) -> list:
        return [p for p in self.pool.procs if p.poll() is None and "beat" not in " ".join(p.args)]

    # --- the tree --------------------------------------------------------------------------------
    def make_history(self, sizes_mib: list[int], *, seed: int = 21) -> dict[str, dict]:
        """Files of these sizes (random bytes) as they were in one snapshot, then a small current copy of
        each written since: {name: {"snapshot": sha, "current": bytes}}."""
        rng = random.Random(seed)
        files = {}
        for n, mib in enumerate(sizes_mib):
            name = f"file{n:02d}-{mib}MiB.bin"
            digest = hashlib.sha256()
            with self.area.alice.create_file(SHARE, self.area.path(name), overwrite=True) as handle:
                for off in range(0, mib << 20, 4 << 20):
                    block = rng.randbytes(min(4 << 20, (mib << 20) - off))
                    handle.write(off, block)
                    digest.update(block)
            self.area.age(name, timedelta(days=1))
            files[name] = {"snapshot": digest.hexdigest()}
        self.area.mkdir("Restored")
        self.snapshot()
        for name in files:
            files[name]["current"] = f"the current copy of {name}, edited since the snapshot\n".encode()
            self.area.write(name, files[name]["current"])
        return files

    def snapshot(self) -> str:
        for attempt in range(5):  # the snapshot copies the whole scratch share: others' files may vanish meanwhile
            try:
                return self.area.snapshot("-10 minutes")
            except subprocess.CalledProcessError:
                if attempt == 4:
                    raise
                time.sleep(2)

    def ended(self, job_ids) -> dict:
        return dict(RestoreJob.objects.filter(pk__in=job_ids, state__in=FINAL_STATES).values_list("pk", "state"))

    def database_name(self) -> str:
        return connection.settings_dict["NAME"]


def timed_wait(predicate, deadline: float, every: float = 0.2):
    """(value, seconds) once ``predicate`` is true, or (None, seconds) at the deadline."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        value = predicate()
        if value:
            return value, time.monotonic() - start
        time.sleep(every)
    return None, time.monotonic() - start
