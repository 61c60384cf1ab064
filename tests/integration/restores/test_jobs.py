"""Restore jobs against the real Samba shares: every mode and conflict policy, dry runs, denied
targets, cancel, limits, download. Jobs are run in this process with copying.run_job (the Celery
task is a thin wrapper; tests/integration/restores/test_faults.py runs real workers).

The oracle is the file system behind the share: the snapshot's directory on disk for what must
come back, the live directory for what was written, Samba's own SD for the owner.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.core import mail

from restore.models import AuditEvent, JobState, Phase, RestoreJob
from restore.nt.descriptors import parse_security_descriptor
from restore.restores import runner as copying
from tests.support.history import sha
from tests.support.scratch import SHARE, ScratchArea

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

V1 = b"quarterly report, as it was\n" * 100
LIVE = b"quarterly report, edited since\n" * 50
ZONE = b"[ZoneTransfer]\r\nZoneId=3\r\n"


@pytest.fixture(scope="module")
def area(testenv):
    """The history: everything written two days ago, snapshot S, then live changes."""
    area = ScratchArea(testenv).create()
    try:
        area.mkdir("Project")
        area.mkdir("Project\\Sub")
        area.mkdir("Restored")
        area.mkdir("ReadOnly")
        area.set_acl("ReadOnly", {"alice": 0x1200A9})  # read and list, nothing else
        old = timedelta(days=2)
        area.write("report.txt", V1)
        area.write("report.txt:Zone.Identifier", ZONE)
        area.age("report.txt", old)
        area.write("Project\\plan.txt", b"the plan\n", age=old)
        area.write("Project\\Sub\\deep.txt", b"deep\n", age=old)
        area.write("ledger.db", bytes(range(256)) * 1024, age=old)
        area.snapshot("-1 hour")
        area.write("report.txt", LIVE)  # changed since
        area.delete("Project\\plan.txt")  # deleted since
        area.write("Project\\new-after.txt", b"created after the snapshot\n")  # new since
        area.delete("ledger.db")
        yield area
    finally:
        area.remove()


@pytest.fixture(autouse=True)
def _clean_restored_files(area):
    """Each test starts from the history above: what a test restored is removed afterwards."""
    before = {p for p in area.disk().rglob("*")}
    yield
    for path in sorted(set(area.disk().rglob("*")) - before, key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
    (area.disk("report.txt")).write_bytes(LIVE) if area.disk("report.txt").read_bytes() != LIVE else None


def restore(client, *items, **options):
    body = {"items": [{"root": "scratch", "path": p, "at": t} for p, t in items], **options}
    return client.post("/api/v1/restores", body, content_type="application/json")


def run(response) -> RestoreJob:
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert copying.run_job(job_id) in (JobState.DONE, JobState.PARTIAL)
    return RestoreJob.objects.get(pk=job_id)


def no_temporaries(area) -> bool:
    return not [p for p in area.disk().rglob("~vdiprotect-*")]


# --- dry run ---------------------------------------------------------------------------------------


def test_a_dry_run_says_what_would_be_written_where_and_writes_nothing(alice_in_area, area):
    token = area.snapshots[0]
    before = sorted(area.disk().rglob("*"))
    response = restore(alice_in_area, ("report.txt", token), dry_run=True)
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["would_start"] and plan["files"] == 1 and plan["bytes"] == len(V1)
    (item,) = plan["items"]
    assert item["action"] == "create" and item["source"] == {"root": "scratch", "path": "report.txt", "at": token}
    assert item["target"]["path"].startswith("report (restored ") and item["target"]["path"].endswith(").txt")
    assert sorted(area.disk().rglob("*")) == before
    assert not RestoreJob.objects.exists()
    assert AuditEvent.objects.filter(action="dry_run", actor_username="alice").count() == 1


def test_the_dry_run_of_a_folder_replace_names_what_is_left_untouched(alice_in_area, area):
    plan = restore(alice_in_area, ("Project", area.snapshots[0]), mode="replace", dry_run=True).json()
    actions = {i["source"]["path"]: (i["action"], i["target"]["path"]) for i in plan["items"]}
    assert actions["Project"] == ("exists", "Project")
    assert actions["Project/plan.txt"] == ("create", "Project/plan.txt")  # deleted since: comes back
    assert actions["Project/Sub/deep.txt"][0] == "skip"  # the same version is there
    assert plan["untouched"] == ["Project/new-after.txt"]


# --- modes -----------------------------------------------------------------------------------------


def test_alongside_restores_the_snapshot_bytes_times_streams_and_owner_beside_the_original(alice_in_area, area,
                                                                                           testenv):
    token = area.snapshots[0]
    job = run(restore(alice_in_area, ("report.txt", token)))
    item = job.items.get()
    assert job.state == JobState.DONE and item.phase == Phase.DONE and item.verified
    restored = area.disk(item.target_path.split("\\", 1)[1] if "\\" in item.target_path else item.target_path)
    assert restored.read_bytes() == area.disk("report.txt", token).read_bytes() == V1
    assert item.sha256_source == item.sha256_target == sha(V1)
    assert int(restored.stat().st_mtime) == int(area.disk("report.txt", token).stat().st_mtime)
    assert area.disk("report.txt").read_bytes() == LIVE  # the original is untouched
    streams = area.alice.list_streams(SHARE, area.path(item.target_path))
    assert ("Zone.Identifier", len(ZONE)) in streams and item.streams[0]["sha256"] == sha(ZONE)
    with area.alice.open_read(SHARE, area.path(item.target_path) + ":Zone.Identifier") as handle:
        assert handle.read(0, 100) == ZONE
    sd = parse_security_descriptor(area.svc.security_descriptor(SHARE, area.path(item.target_path)))
    assert sd.owner == area.sids["alice"]  # restored for alice, owned by alice; the DACL inherited
    assert no_temporaries(area)
    assert job.files_done == 1 and job.bytes_done == len(V1)


def test_replace_keeps_the_current_copy_then_puts_the_snapshot_version_in_place(alice_in_area, area):
    token = area.snapshots[0]
    job = run(restore(alice_in_area, ("report.txt", token), mode="replace"))
    item = job.items.get()
    assert item.phase == Phase.DONE and item.verified
    assert area.disk("report.txt").read_bytes() == V1
    kept = item.keep_path
    assert kept.startswith("report (before restore ") and kept.endswith(").txt")
    assert area.disk(kept).read_bytes() == LIVE
    assert no_temporaries(area)


def test_a_folder_replace_brings_back_the_tree_and_leaves_newer_files_alone(alice_in_area, area):
    job = run(restore(alice_in_area, ("Project", area.snapshots[0]), mode="replace"))
    assert job.state == JobState.DONE
    assert area.disk("Project/plan.txt").read_bytes() == b"the plan\n"
    assert area.disk("Project/new-after.txt").read_bytes() == b"created after the snapshot\n"
    assert area.live_names("Project") == ["Sub", "new-after.txt", "plan.txt"]


def test_to_folder_puts_the_original_names_into_a_folder_the_person_may_write(alice_in_area, area):
    job = run(restore(alice_in_area, ("ledger.db", area.snapshots[0]), ("Project", area.snapshots[0]), mode="to_folder",
                      target={"root": "scratch", "path": "Restored"}))
    assert job.state == JobState.DONE
    assert area.disk("Restored/ledger.db").read_bytes() == bytes(range(256)) * 1024
    assert area.disk("Restored/Project/plan.txt").read_bytes() == b"the plan\n"
    assert area.disk("Restored/Project/Sub/deep.txt").read_bytes() == b"deep\n"
    assert not area.disk("Restored/Project/new-after.txt").exists()


def test_download_streams_a_zip_of_the_snapshot_versions_with_their_checksums(alice_in_area, area):
    token = area.snapshots[0]
    created = restore(alice_in_area, ("report.txt", token), ("Project", token), mode="download")
    assert created.status_code == 201 and created.json()["state"] == "ready"
    response = alice_in_area.get(created.json()["download_url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("scratch/report.txt") == V1
    assert archive.read("scratch/Project/plan.txt") == b"the plan\n"
    sums = archive.read("SHA256SUMS.txt").decode()
    assert f"{sha(V1)}  scratch/report.txt" in sums
    assert RestoreJob.objects.get(pk=created.json()["id"]).state == JobState.DONE
    assert area.live_names("") == ["Project", "ReadOnly", "Restored", "report.txt"]  # nothing written


# --- conflict policies -------------------------------------------------------------------------------


def test_conflict_rename_numbers_the_second_restored_copy(alice_in_area, area):
    token = area.snapshots[0]
    first = run(restore(alice_in_area, ("report.txt", token))).items.get().target_path
    second = run(restore(alice_in_area, ("report.txt", token), conflict="rename")).items.get().target_path
    assert second == first.replace(").txt", ") (2).txt")
    assert area.disk(second).read_bytes() == V1


def test_conflict_skip_leaves_an_existing_restored_copy_alone(alice_in_area, area):
    token = area.snapshots[0]
    first = run(restore(alice_in_area, ("report.txt", token))).items.get().target_path
    area.disk(first).write_bytes(b"changed by hand")
    job = run(restore(alice_in_area, ("report.txt", token), conflict="skip"))
    assert job.items.get().phase == Phase.SKIPPED
    assert area.disk(first).read_bytes() == b"changed by hand"


def test_conflict_overwrite_keeps_the_copy_it_overwrites(alice_in_area, area):
    token = area.snapshots[0]
    first = run(restore(alice_in_area, ("report.txt", token))).items.get().target_path
    area.disk(first).write_bytes(b"changed by hand")
    item = run(restore(alice_in_area, ("report.txt", token), conflict="overwrite")).items.get()
    assert item.target_path == first and area.disk(first).read_bytes() == V1
    assert area.disk(item.keep_path).read_bytes() == b"changed by hand"


# --- refusals ------------------------------------------------------------------------------------


def test_a_target_the_person_may_not_write_is_refused_with_a_clear_error_and_nothing_written(alice_in_area, area):
    before = sorted(area.disk().rglob("*"))
    response = restore(alice_in_area, ("report.txt", area.snapshots[0]), mode="to_folder",
                       target={"root": "scratch", "path": "ReadOnly"})
    assert response.status_code == 403
    assert "You may not create files in 'ReadOnly'" in response.json()["detail"]
    assert sorted(area.disk().rglob("*")) == before and not RestoreJob.objects.exists()
    assert AuditEvent.objects.filter(action="access_denied", actor_username="alice").exists()


def test_the_worker_checks_the_target_again_and_writes_nothing_when_the_right_is_gone(alice_in_area, area):
    response = restore(alice_in_area, ("report.txt", area.snapshots[0]), mode="to_folder",
                       target={"root": "scratch", "path": "Restored"})
    assert response.status_code == 201
    area.set_acl("Restored", {"alice": 0x1200A9})
    try:
        assert copying.run_job(response.json()["id"]) == JobState.PARTIAL
    finally:
        area.set_acl("Restored", {"alice": 0x1F01FF})
    item = RestoreJob.objects.get(pk=response.json()["id"]).items.get()
    assert item.phase == Phase.FAILED and "may not create files in 'Restored'" in item.note
    assert area.live_names("Restored") == []


@pytest.mark.parametrize("path, message", [
    ("../bob", "'..'"), ("C:/x", "drive letters"), ("\\\\srv\\share", "UNC"), ("Project/a:b", "stream"),
    ("report.txt/@GMT-2026.01.01-00.00.00", "@GMT"), ("CON", "reserved"), ("a\x00b", "NUL"),
])
def test_bad_paths_are_refused_with_400_and_nothing_happens(alice_in_area, area, path, message):
    response = restore(alice_in_area, (path, area.snapshots[0]))
    assert response.status_code == 400 and message in response.json()["detail"]
    assert not RestoreJob.objects.exists()


def test_a_restore_needs_a_snapshot_and_known_options(alice_in_area, area):
    assert restore(alice_in_area, ("report.txt", "")).status_code == 400
    assert restore(alice_in_area, ("report.txt", area.snapshots[0]), mode="teleport").status_code == 400
    assert restore(alice_in_area, ("report.txt", area.snapshots[0]), conflict="maybe").status_code == 400
    assert alice_in_area.post("/api/v1/restores", {"items": []}, content_type="application/json").status_code == 400


def test_another_persons_files_and_jobs_answer_404(alice_in_area, area, bob):
    outside = {"items": [{"root": "data", "path": "..\\bob", "at": area.snapshots[0]}]}
    assert alice_in_area.post("/api/v1/restores", outside, content_type="application/json").status_code == 400
    job_id = restore(alice_in_area, ("report.txt", area.snapshots[0])).json()["id"]
    assert bob.get(f"/api/v1/restores/{job_id}").status_code == 404
    assert bob.post(f"/api/v1/restores/{job_id}/cancel").status_code == 404
    assert restore(bob, ("report.txt", area.snapshots[0])).status_code == 404  # no "scratch" root for bob


def test_a_person_has_at_most_the_configured_number_of_active_restores(alice_in_area, area, settings):
    settings.RESTORE_MAX_ACTIVE_PER_USER = 1
    assert restore(alice_in_area, ("report.txt", area.snapshots[0])).status_code == 201
    response = restore(alice_in_area, ("ledger.db", area.snapshots[0]))
    assert response.status_code == 429 and "already has 1 restores" in response.json()["detail"]


def test_cancelling_a_queued_restore_ends_it_and_writes_nothing(alice_in_area, area):
    job_id = restore(alice_in_area, ("report.txt", area.snapshots[0])).json()["id"]
    response = alice_in_area.post(f"/api/v1/restores/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert copying.run_job(job_id) == "ended"
    assert area.live_names("") == ["Project", "ReadOnly", "Restored", "report.txt"]


# --- bookkeeping -----------------------------------------------------------------------------------


def test_the_job_reports_state_progress_items_and_hashes_and_mails_the_owner(
        alice_in_area, area, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = run(restore(alice_in_area, ("report.txt", area.snapshots[0]), ("ledger.db", area.snapshots[0])))
    body = alice_in_area.get(f"/api/v1/restores/{job.id}").json()
    assert body["state"] == "done" and body["progress"]["percent"] == 100
    assert body["progress"]["files_done"] == body["progress"]["files_total"] == 2
    assert [i["verified"] for i in body["items"]] == [True, True]
    assert body["items"][1]["sha256_target"] == sha(bytes(range(256)) * 1024)
    (message,) = mail.outbox
    assert message.to == ["alice@corp.example.test"] and "2 restored and verified, 0 failed" in message.body
    actions = list(AuditEvent.objects.filter(actor_username="alice", action__startswith="restore_")
                   .values_list("action", "result"))
    assert actions == [("restore_created", "ok"), ("restore_item", "ok"), ("restore_item", "ok"),
                       ("restore_finished", "ok")]


def test_running_a_finished_job_again_changes_nothing(alice_in_area, area):
    job = run(restore(alice_in_area, ("report.txt", area.snapshots[0])))
    names = area.live_names("")
    assert copying.run_job(job.id) == "ended"
    assert area.live_names("") == names


def test_the_my_restores_list_shows_only_my_jobs(alice_in_area, area, bob):
    restore(alice_in_area, ("report.txt", area.snapshots[0]))
    assert len(alice_in_area.get("/api/v1/restores").json()) == 1
    assert bob.get("/api/v1/restores").json() == []
