"""Faults with real Celery workers and a Redis of the test's own: a worker killed with SIGKILL in
the middle of copying a large file, and a Redis restarted (without persistence) while jobs wait.

The job ends with a verified file, no temporary left and the current copy kept; no queued job is
lost. Workers run as subprocesses (`celery -A vdiprotect worker`) against the test database.
Deadlines below only bound how long a broken build waits; nothing here measures speed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from restore.models import JobState, Phase, RestoreJob
from tests.support.broker import free_port, wait_for
from tests.support.scratch import SHARE, ScratchArea, give_root
from tests.support.workers import Workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.samba]
BIG = 512 * 1024 * 1024
CHUNK = 4 * 1024 * 1024


class Redis:
    """A redis-server of this test's own on loopback, keeping nothing on disk (like this machine's)."""

    def __init__(self, tmp: Path):
        self.port, self.tmp, self.proc = free_port(), tmp, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.tmp)], stdout=subprocess.DEVNULL)
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                                        text=True).stdout.strip() == "PONG", "redis to answer", 20)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def queued(self) -> int:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "llen", "celery"], capture_output=True, text=True)
        return int(out.stdout.strip() or 0)


@pytest.fixture
def redis_server(tmp_path):
    server = Redis(tmp_path)
    server.start()
    from vdiprotect.celery import app

    def use(url):  # the portal's producer connections follow the broker URL
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    before = app.conf.broker_url
    use(server.url)
    try:
        yield server
    finally:
        use(before)
        server.stop()


@pytest.fixture
def workers(redis_server, tmp_path):
    pool = Workers(redis_server.url, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def big_area(testenv):
    """A 512 MiB file in a snapshot, changed live since."""
    area = ScratchArea(testenv, prefix="faults").create()
    try:
        digest = hashlib.sha256()
        block = os.urandom(CHUNK)
        with area.alice.create_file(SHARE, area.path("disk.vhdx")) as handle:
            for n in range(BIG // CHUNK):
                data = block[n:] + block[:n]
                handle.write(n * CHUNK, data)
                digest.update(data)
        area.age("disk.vhdx", timedelta(days=1))
        area.write("a.txt", b"a, as it was\n")
        area.write("b.txt", b"b, as it was\n")
        area.snapshot("-30 minutes")
        area.write("disk.vhdx", b"the current copy, which must not be lost\n")
        area.big_sha256 = digest.hexdigest()
        yield area
    finally:
        area.remove()


def start_restore(client, area, path, **options):
    body = {"items": [{"root": "scratch", "path": path, "at": area.snapshots[0]}], **options}
    response = client.post("/api/v1/restores", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_worker_killed_mid_copy_is_replaced_and_the_job_ends_verified_with_nothing_lost(
        sign_in, big_area, workers):
    client = sign_in("alice")
    give_root("alice", big_area)
    first = workers.start(RESTORE_COPY_METHOD="stream")
    job_id = start_restore(client, big_area, "disk.vhdx", mode="replace")
    wait_for(lambda: 0 < RestoreJob.objects.get(pk=job_id).bytes_done < BIG, "the copy to be under way")
    temporaries = list(big_area.disk().glob("~vdiprotect-*"))
    workers.kill(first)
    assert temporaries, "the worker was killed before it wrote its temporary file"
    job = RestoreJob.objects.get(pk=job_id)
    assert job.state == JobState.RUNNING and job.items.get().phase == Phase.PENDING

    workers.start()  # a new worker finds the job whose worker is gone and finishes it
    job = wait_for(lambda: RestoreJob.objects.filter(pk=job_id, state__in=[JobState.DONE, JobState.PARTIAL,
                                                                              JobState.FAILED]).first(),
                   "the job to end")
    item = job.items.get()
    assert job.state == JobState.DONE and item.verified and job.attempts == 2
    assert item.sha256_source == item.sha256_target == big_area.big_sha256
    restored = big_area.disk("disk.vhdx")
    assert restored.stat().st_size == BIG
    assert hashlib.file_digest(restored.open("rb"), "sha256").hexdigest() == big_area.big_sha256
    assert big_area.disk(item.keep_path).read_bytes() == b"the current copy, which must not be lost\n"
    assert not list(big_area.disk().glob("~vdiprotect-*"))


def test_jobs_queued_when_redis_restarts_without_its_data_are_not_lost(sign_in, big_area, workers, redis_server):
    client = sign_in("alice")
    give_root("alice", big_area)
    jobs = [start_restore(client, big_area, name) for name in ("a.txt", "b.txt")]
    assert redis_server.queued() == 2
    redis_server.stop()
    redis_server.start()
    assert redis_server.queued() == 0  # the messages are gone with the old server
    workers.start()
    for job_id in jobs:
        job = wait_for(lambda: RestoreJob.objects.filter(pk=job_id, state=JobState.DONE).first(), "the job to end")
        assert job.items.get().verified
    for name in ("a.txt", "b.txt"):
        restored = [p for p in big_area.disk().iterdir() if p.name.startswith(name[0] + " (restored ")]
        assert [p.read_bytes() for p in restored] == [f"{name[0]}, as it was\n".encode()]
