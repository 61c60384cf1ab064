"""A restore job run by a real Celery worker with SMB_AUTH=kerberos-delegation: the worker reads and
writes in the job owner's own session (S4U2Self + S4U2Proxy from the keytab), whoever queued it.

Oracle: the file server's sessions (``smbstatus``) on the worker process's own connections (found by
its sockets with ``ss``): alice's uid there, by Kerberos (a session with a ticket's end, where an NTLM
session never expires), while the job is still pooled (SMB_PERSON_SESSION_IDLE)."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta

import pytest
from django.conf import settings

from restore.models import JobState, Phase, RestoreJob
from tests.support.broker import wait_for
from tests.support.people import sessions_on_ports, uid_of
from tests.support.scratch import ScratchArea, give_root
from tests.support.workers import Workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.samba]

NOTES = b"restored by the worker, as alice\n" * 10


@pytest.fixture
def area(testenv):
    area = ScratchArea(testenv, prefix="kcdw").create()
    try:
        area.write("notes.txt", NOTES, age=timedelta(days=1))
        area.snapshot("-1 hour")
        area.delete("notes.txt")
        yield area
    finally:
        area.remove()


@pytest.fixture
def delegating_worker(tmp_path):
    workers = Workers(settings.CELERY_BROKER_URL, tmp_path)
    proc = workers.start(queues="celery", SMB_AUTH="kerberos-delegation", SMB_DELEGATION_FALLBACK="refuse",
                         SMB_PERSON_SESSION_IDLE="600")
    yield proc
    workers.stop_all()


def worker_sessions(testenv, group: int) -> list[dict]:
    """The file server's sessions on the connections of the worker's process group."""
    pids = set(subprocess.run(["ps", "-o", "pid=", "-g", str(group)], capture_output=True, text=True).stdout.split())
    sockets = subprocess.run(["ss", "-tnpH", "state", "established", "( dport = :445 )"], capture_output=True,
                             text=True, check=True).stdout.splitlines()
    ports = {line.split()[2].rsplit(":", 1)[1] for line in sockets
             if any(f"pid={pid}," in line for pid in pids) and re.search(r":445\s", line)}
    return sessions_on_ports(testenv, ports)


def test_the_worker_restores_in_the_job_owners_own_session(testenv, signed_in, area, delegating_worker):
    alice = signed_in("alice")
    give_root("alice", area)
    body = {"items": [{"root": "scratch", "path": "notes.txt", "at": area.snapshots[0]}]}
    response = alice.post("/api/v1/restores", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    job = wait_for(lambda: RestoreJob.objects.filter(pk=response.json()["id"], state__in=[
        JobState.DONE, JobState.PARTIAL, JobState.FAILED]).first(), "the worker to finish the job")
    item = job.items.get()
    assert job.state == JobState.DONE and item.phase == Phase.DONE, (job.error, item.note)
    assert area.disk(item.target_path).read_bytes() == NOTES
    sessions = worker_sessions(testenv, delegating_worker.pid)
    alices = [s for s in sessions if s["uid"] == uid_of(testenv, "alice")]
    assert alices, f"no session of alice's on the worker's connections: {sessions}"
    for session in alices:  # a Kerberos session ends with its ticket; an NTLM one never expires
        assert datetime.fromisoformat(session["expiration_time"]).year < 3000
