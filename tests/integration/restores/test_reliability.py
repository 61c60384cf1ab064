"""What the fault campaign of issue 21 found, each against the real servers (PostgreSQL, Redis, the
Samba test domain, real Celery workers where the fault is theirs):

* starting a restore and a worker's audit record never deadlock (one lock order: restore/audit/locks.py);
* a worker whose database connection is terminated mid-copy gives the job back and finishes it within
  seconds, instead of leaving it ``running`` until the stale sweep;
* a job failed during a file-server outage leaves no temporary and no current copy renamed aside once
  the server answers again (the sweep tidies);
* a broker that is down when a restore starts is not a failure: 201, and the job runs once it is back.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from restore.audit import locks
from restore.audit import trail as audit
from restore.audit.verify import verify_chain
from restore.models import AuditEvent, JobState, Phase, RestoreJob
from restore.restores import claims
from restore.restores import runner as copying
from restore.restores.naming import kept_name, temp_name
from restore.restores.tasks import sweep_restores
from restore.versions import paths
from tests.support.broker import RedisServer, free_port, use_broker, wait_for
from tests.support.scratch import SHARE, ScratchArea, give_root
from tests.support.workers import Workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.samba]

OLD = b"the report, as it was in the snapshot\n" * 64
CURRENT = b"the current copy, edited since: must never be lost\n"
BIG = 192 * 1024 * 1024
FINAL = (JobState.DONE, JobState.PARTIAL, JobState.FAILED, JobState.CANCELLED)


@pytest.fixture(scope="module")
def area(testenv):
    area = ScratchArea(testenv, prefix="reliab").create()
    try:
        area.write("report.txt", OLD, age=timedelta(days=1))
        block = os.urandom(4 << 20)
        digest = hashlib.sha256()
        with area.alice.create_file(SHARE, area.path("disk.vhdx")) as handle:
            for n in range(BIG // len(block)):
                data = block[n:] + block[:n]
                handle.write(n * len(block), data)
                digest.update(data)
        area.big_sha256 = digest.hexdigest()
        area.snapshot("-30 minutes")
        area.write("report.txt", CURRENT)
        area.write("disk.vhdx", CURRENT)
        yield area
    finally:
        area.remove()


@pytest.fixture(autouse=True)
def _fresh_live_tree(area):
    """Each test starts with the live report.txt and disk.vhdx as above and nothing else."""
    yield
    for p in area.disk().iterdir():
        if p.name not in ("report.txt", "disk.vhdx"):
            p.unlink()
    for name in ("report.txt", "disk.vhdx"):
        area.write(name, CURRENT)


@pytest.fixture
def broker(tmp_path, settings):
    """A Redis of this test's own as the broker (it may be stopped); the cache stays where it is."""
    server = RedisServer(tmp_path / "redis", aof=False)
    server.start()
    before = settings.CELERY_BROKER_URL
    use_broker(server.url)
    try:
        yield server
    finally:
        use_broker(before)
        server.kill()


def start_restore(client, area, path, **options):
    body = {"items": [{"root": "scratch", "path": path, "at": area.snapshots[0]}], **options}
    response = client.post("/api/v1/restores", body, content_type="application/json")
    assert response.status_code in (201, 202), (response.status_code, response.content[:500])
    return response.json()["id"]


def ended(job_id):
    return RestoreJob.objects.filter(pk=job_id, state__in=FINAL).first()


def temporaries(area):
    return [p.name for p in area.disk().glob("~vdiprotect-*")]


def test_starting_a_restore_while_a_worker_audits_for_the_same_person_does_not_deadlock(alice, area, broker):
    """The interleaving that deadlocked (issue 21, 94 of 1,000 starts): the worker holds the audit chain
    head and then checks its record's foreign key to the person; the start holds the person's row and
    then wants the head. With FOR UPDATE on the person PostgreSQL had to kill one of them."""
    give_root("alice", area)
    alice_user = get_user_model().objects.get(username="alice")
    outcome = {}

    def a_worker_writing_an_audit_record():
        try:
            with connection.cursor() as cursor, transaction.atomic():
                locks.chain_head()  # as trail.record does first
                outcome["worker holds the head"] = True

                def start_waits_for_a_lock():
                    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
                    return cursor.fetchone()[0] > 0

                wait_for(start_waits_for_a_lock, "the start to wait for the chain head", 30)
                audit.record(audit.Context(actor=alice_user, role="user"), audit.Action.RESTORE_ITEM,
                             audit.Result.OK, details={"worker": "simulated"})
            outcome["worker"] = "committed"
        except Exception as exc:  # DeadlockDetected arrives as an OperationalError
            outcome["worker"] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    worker = threading.Thread(target=a_worker_writing_an_audit_record)
    worker.start()
    wait_for(lambda: outcome.get("worker holds the head"), "the worker to hold the chain head", 30)
    job_id = start_restore(alice, area, "report.txt")  # holds alice's row, then waits for the head
    worker.join(60)

    assert outcome["worker"] == "committed"
    assert RestoreJob.objects.filter(pk=job_id, state=JobState.QUEUED).exists()
    assert AuditEvent.objects.filter(action="restore_created", details__job=job_id).count() == 1
    assert verify_chain().ok


def test_many_starts_for_one_person_while_workers_audit_never_deadlock(signed_in, area, broker, settings):
    """The drain's shape in small: 4 clients of alice start restores while 2 'workers' append audit records."""
    settings.RESTORE_MAX_ACTIVE_PER_USER = 1000
    clients = [signed_in("alice") for _ in range(4)]
    give_root("alice", area)
    alice_user = get_user_model().objects.get(username="alice")
    answers, errors, stop = [], [], threading.Event()

    def starter(client):
        try:
            for _ in range(6):
                body = {"items": [{"root": "scratch", "path": "report.txt", "at": area.snapshots[0]}]}
                answers.append(client.post("/api/v1/restores", body, content_type="application/json").status_code)
        except Exception as exc:
            errors.append(f"start: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def auditor():
        try:
            while not stop.is_set():
                audit.record(audit.Context(actor=alice_user, role="user"), audit.Action.RESTORE_ITEM,
                             audit.Result.OK, details={"worker": "simulated"})
        except Exception as exc:
            errors.append(f"audit: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    writers = [threading.Thread(target=auditor) for _ in range(2)]
    starters = [threading.Thread(target=starter, args=(c,)) for c in clients]
    for t in writers + starters:
        t.start()
    for t in starters:
        t.join(300)
    stop.set()
    for t in writers:
        t.join(60)
    assert errors == [] and answers == [201] * 24, (errors, answers)
    assert verify_chain().ok


def test_a_worker_whose_database_connection_is_terminated_mid_copy_finishes_the_job_within_seconds(
        alice, area, broker, tmp_path):
    give_root("alice", area)
    workers = Workers(broker.url, tmp_path)
    try:
        workers.start(RESTORE_COPY_METHOD="stream")
        job_id = start_restore(alice, area, "disk.vhdx", mode="replace")
        wait_for(lambda: 0 < RestoreJob.objects.get(pk=job_id).bytes_done < BIG, "the copy to be under way", 120)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert cursor.fetchone()[0] >= 1, "the worker had no database connection to terminate"
        terminated = time.monotonic()
        job = wait_for(lambda: ended(job_id), "the job to end after its connection was terminated", 60)
        took = time.monotonic() - terminated
    finally:
        workers.stop_all()
    item = job.items.get()
    assert job.state == JobState.DONE and item.verified, (job.state, job.error, item.note)
    assert took < 30, f"the job ended {took:.0f} s after its database connection was terminated"
    restored = area.disk("disk.vhdx")
    assert hashlib.file_digest(restored.open("rb"), "sha256").hexdigest() == area.big_sha256
    assert area.disk(item.keep_path).read_bytes() == CURRENT
    assert temporaries(area) == []


def test_a_job_failed_during_a_file_server_outage_is_tidied_once_the_server_answers(alice, area, broker, settings):
    """Retries ran out while the server was down: the job fails. It had written its temporary and kept
    the current copy aside (replace mode) before the outage; nothing of that may stay."""
    give_root("alice", area)
    job_id = start_restore(alice, area, "report.txt", mode="replace")
    job, outcome = claims.claim(job_id, "test-worker:1")
    assert outcome == "claimed"
    item = job.items.get()
    # What the runner had done when the server went away: temporary written, current copy renamed aside.
    item.temp_path = paths.join("", temp_name(item.pk))
    item.keep_path = kept_name("report.txt", job.created_at)
    area.write(item.temp_path, OLD[:1000])
    area.alice.rename(SHARE, area.path("report.txt"), area.path(item.keep_path))
    item.phase = Phase.KEPT
    item.save(update_fields=["temp_path", "keep_path", "phase"])

    settings.SMB_PORT = free_port()  # the file server does not answer
    copying.fail(job_id, "the file server could not be reached after 9 attempts")
    sweep_restores()
    assert RestoreJob.objects.get(pk=job_id).state == JobState.FAILED
    assert temporaries(area) == [item.temp_path]  # nothing could be done yet
    assert not area.disk("report.txt").exists()

    settings.SMB_PORT = 445  # the server is back: the next sweep tidies
    sweep_restores()
    assert temporaries(area) == []
    assert area.disk("report.txt").read_bytes() == CURRENT
    assert not area.disk(item.keep_path).exists()
    item.refresh_from_db()
    assert item.phase == Phase.FAILED and item.temp_path == "" and item.keep_path == ""
    assert "put back" in item.note
    sweep_restores()  # tidied once: a later sweep changes nothing
    assert area.disk("report.txt").read_bytes() == CURRENT


def test_a_restore_started_while_the_broker_is_down_is_accepted_and_runs_once_it_is_back(
        alice, area, broker, tmp_path):
    give_root("alice", area)
    workers = Workers(broker.url, tmp_path)
    try:
        workers.start()
        workers.start_beat(RESTORE_SWEEP_SECONDS="2")
        wait_for(lambda: "ready" in (tmp_path / "worker-0.log").read_text(), "the worker to start", 60)
        broker.kill()
        job_id = start_restore(alice, area, "report.txt")  # 201, not 500: the job is committed and will run
        job = RestoreJob.objects.get(pk=job_id)
        assert job.state == JobState.QUEUED and job.enqueued_at is None
        broker.start()
        back = time.monotonic()
        job = wait_for(lambda: ended(job_id), "the job to run once the broker is back", 60)
        took = time.monotonic() - back
    finally:
        workers.stop_all()
    assert job.state == JobState.DONE and job.items.get().verified
    assert took < 30, f"the job ended {took:.0f} s after the broker came back"
    restored = [p for p in area.disk().iterdir() if p.name.startswith("report (restored ")]
    assert [p.read_bytes() for p in restored] == [OLD]
