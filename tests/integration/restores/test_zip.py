"""The zip download (mode ``download``) against the real shares, as its receiver and an auditor see
it: one SHA-256 per member, of the bytes sent, listed in SHA256SUMS.txt that ``sha256sum -c``
accepts and that matches the snapshot's files on disk; members are "sent", never "verified"; the
job is done only once the last chunk was taken; a download cut short is "interrupted", says so,
and can be fetched again; every member is in the audit trail before its bytes leave.
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory

from restore.models import AuditEvent, JobState, Phase, RestoreJob
from tests.support.scratch import ScratchArea
from tests.support.history import sha

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

REPORT = b"the report as it was then\n" * 2000  # 52 kB: more than one chunk of the zip
PLAN = b"the plan\n"
BIG = bytes(range(256)) * 8192  # 2 MiB: two 1 MiB reads from the file server


@pytest.fixture(scope="module")
def area(testenv):
    area = ScratchArea(testenv, prefix="zip").create()
    try:
        area.mkdir("Project")
        old = timedelta(days=3)
        area.write("report.txt", REPORT, age=old)
        area.write("Project\\plan.txt", PLAN, age=old)
        area.write("big.bin", BIG, age=old)
        area.snapshot("-1 hour")
        area.write("report.txt", b"edited since\n")  # the live copy differs: the zip must be the snapshot's
        yield area
    finally:
        area.remove()


def start_zip(client, area, *paths) -> dict:
    body = {"items": [{"root": "scratch", "path": p, "at": area.snapshots[0]} for p in paths], "mode": "download"}
    created = client.post("/api/v1/restores", body, content_type="application/json")
    assert created.status_code == 201, created.content
    return created.json()


@contextmanager
def connection_kept():
    """Like Django's test client: the request signals must not close this test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class Served:
    """A response body as a WSGI server holds it: iterated chunk by chunk, closed when the client goes."""

    def __init__(self, client, url):
        cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
        statuses = []
        with connection_kept():
            self.body = WSGIHandler()(RequestFactory().get(url, HTTP_COOKIE=cookie).environ,
                                      lambda status, headers, exc_info=None: statuses.append(status))
        assert statuses == ["200 OK"], statuses

    def __iter__(self):
        return iter(self.body)

    def close(self):
        with connection_kept():
            self.body.close()


def job_api(client, job: dict) -> dict:
    return client.get(f"/api/v1/restores/{job['id']}").json()


def test_the_zip_carries_sha256sums_that_sha256sum_accepts_and_that_match_the_snapshot_on_disk(alice_in_area, area,
                                                                                              tmp_path):
    job = start_zip(alice_in_area, area, "report.txt", "Project", "big.bin")
    response = alice_in_area.get(job["download_url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).extractall(tmp_path)

    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS.txt"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 3
    snapshot = area.snapshots[0]
    expected = {f"scratch/{rel}": sha(area.disk(rel, snapshot).read_bytes())
                for rel in ("report.txt", "Project/plan.txt", "big.bin")}
    listed = dict(reversed(line.split("  ", 1)) for line in (tmp_path / "SHA256SUMS.txt").read_text().splitlines())
    assert listed == expected  # what the snapshot holds on disk, not what the live share holds now


def test_a_member_is_sent_with_one_hash_and_never_called_verified(alice_in_area, area):
    job = start_zip(alice_in_area, area, "report.txt")
    b"".join(alice_in_area.get(job["download_url"]).streaming_content)
    body = job_api(alice_in_area, job)
    assert body["state"] == "done" and body["progress"]["files_done"] == 1
    (item,) = body["items"]
    assert item["phase"] == "sent" and item["verified"] is False
    assert item["sha256"] == sha(area.disk("report.txt", area.snapshots[0]).read_bytes())
    assert item["sha256_source"] is None and item["sha256_target"] is None  # nothing was compared
    page = alice_in_area.get(f"/restores/{job['id']}/").content.decode()
    assert "Sent in the zip" in page and "verified" not in page.lower() and "✔" not in page
    assert item["sha256"][:17] in page


def test_every_member_is_audited_before_its_bytes_leave_and_an_auditor_finds_it_by_path(alice_in_area, area, testenv):
    job = start_zip(alice_in_area, area, "report.txt", "Project")
    response = alice_in_area.get(job["download_url"])
    received = b""
    chunks = iter(response.streaming_content)
    while REPORT[:200] not in received:  # up to the first chunk that carries report.txt's bytes
        received += next(chunks)
    started = AuditEvent.objects.get(action="download_started", details__job=job["id"])
    member = AuditEvent.objects.get(action="zip_member", path="report.txt", details__job=job["id"])
    assert started.id < member.id and member.actor_username == "alice" and member.acting_for_username == ""
    assert (member.root, member.snapshot, member.result) == ("scratch", area.snapshots[0], "ok")
    assert member.details["size"] == len(REPORT) and member.details["zip_name"] == "scratch/report.txt"
    assert not AuditEvent.objects.filter(action="zip_member", path="Project\\plan.txt").exists()  # not yet sent
    received += b"".join(chunks)

    paths = list(AuditEvent.objects.filter(action="zip_member", details__job=job["id"]).order_by("id")
                 .values_list("path", flat=True))
    assert paths == ["report.txt", "Project", "Project\\plan.txt"]
    done = AuditEvent.objects.get(action="download_completed", details__job=job["id"])
    assert done.result == "ok" and done.details["sha256"] == {
        "scratch/report.txt": sha(REPORT), "scratch/Project/plan.txt": sha(PLAN)}

    auditor = Client()
    assert auditor.post("/signin/", {"username": "auditor1", "password": testenv.password}).status_code == 302
    found = auditor.get("/api/v1/audit", {"path": "plan.txt", "person": "alice"}).json()
    assert "zip_member" in [r["action"] for r in found["results"]]


def test_a_download_cut_short_leaves_the_job_interrupted_and_it_can_be_fetched_again(alice_in_area, area):
    job = start_zip(alice_in_area, area, "report.txt", "big.bin")
    response = Served(alice_in_area, job["download_url"])
    chunks = iter(response)
    received = b""
    while BIG[:4096] not in received:  # report.txt sent whole, big.bin begun
        received += next(chunks)
    response.close()  # the client went away: the server closes the response

    body = job_api(alice_in_area, job)
    assert body["state"] == "interrupted" and body["state"] != "done"
    assert "stopped after 1 of 2 file(s)" in body["error"] and "download it again" in body["error"]
    assert [i["phase"] for i in body["items"]] == ["sent", "pending"]
    assert body["download_url"] == job["download_url"]
    aborted = AuditEvent.objects.get(action="download_aborted", details__job=job["id"])
    assert aborted.result == "failed" and aborted.details["sha256"] == {"scratch/report.txt": sha(REPORT)}
    assert AuditEvent.objects.filter(action="zip_member", details__job=job["id"]).count() == 2  # both left, whole or not
    page = alice_in_area.get(f"/restores/{job['id']}/").content.decode()
    assert "Download interrupted" in page and "Download the zip again" in page

    again = zipfile.ZipFile(io.BytesIO(b"".join(alice_in_area.get(job["download_url"]).streaming_content)))
    assert again.read("scratch/big.bin") == BIG and again.read("scratch/report.txt") == REPORT
    assert again.testzip() is None
    body = job_api(alice_in_area, job)
    assert body["state"] == "done" and body["error"] == "" and [i["phase"] for i in body["items"]] == ["sent"] * 2


def test_the_job_is_done_only_after_the_last_chunk_was_taken(alice_in_area, area):
    job = start_zip(alice_in_area, area, "report.txt")
    chunks = iter(alice_in_area.get(job["download_url"]).streaming_content)
    received = b""
    while b"PK\x05\x06" not in received:  # up to the zip's end record
        received += next(chunks)
    assert RestoreJob.objects.get(pk=job["id"]).state == JobState.SENDING
    assert RestoreJob.objects.get(pk=job["id"]).items.get().phase == Phase.SENT
    with pytest.raises(StopIteration):
        next(chunks)
    assert RestoreJob.objects.get(pk=job["id"]).state == JobState.DONE


def test_a_cancelled_zip_is_not_served(alice_in_area, area):
    job = start_zip(alice_in_area, area, "report.txt")
    assert alice_in_area.post(f"/api/v1/restores/{job['id']}/cancel").json()["state"] == "cancelled"
    assert alice_in_area.get(f"/api/v1/restores/{job['id']}/download").status_code == 404
    assert job_api(alice_in_area, job)["download_url"] is None
