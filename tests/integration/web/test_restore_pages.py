"""The restore pages against the real shares: the dialog shows the dry run before anything is
written, starting leads to the job page whose progress part htmx polls, and "My restores" lists it."""

from __future__ import annotations

import pytest

from restore.models import RestoreJob
from restore.restores import runner as copying
from tests.support.history import generation, on_disk, top_of

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


def test_the_dialog_shows_the_plan_then_the_job_page_follows_the_restore(sign_in, testenv, cleanup):
    alice = sign_in("alice")
    t1 = generation(testenv, "data", 0)
    query = {"root": "data", "path": "Documents/notes.txt", "at": t1.token}
    dialog = alice.get("/restores/new", query)
    assert dialog.status_code == 200
    page = dialog.content.decode()
    assert "What this restore will do" in page and "notes (restored " in page and "Start restore" in page
    assert not RestoreJob.objects.exists()  # showing the plan writes nothing

    started = alice.post("/restores/new", {**query, "mode": "alongside", "conflict": "rename", "start": "1"})
    assert started.status_code == 302
    job = RestoreJob.objects.get()
    assert started["Location"] == f"/restores/{job.id}/"
    assert 'hx-trigger="every 1s"' in alice.get(started["Location"]).content.decode()  # queued: polled

    copying.run_job(job.id)
    item = job.items.order_by("seq")[0]  # notes.txt (its folder's desktop.ini may come with it)
    cleanup.append(("data", top_of(item.target_path, item.path)))
    part = alice.get(started["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "Done" in part and "hx-trigger" not in part and item.sha256_target[:17] in part
    assert on_disk(testenv, "data", item.target_path, None).read_bytes() == \
        on_disk(testenv, "data", "Documents/notes.txt", t1).read_bytes()
    assert str(job.id) in alice.get("/restores/").content.decode()


def test_the_dialog_refuses_bad_paths_and_hides_other_peoples_files(sign_in, testenv):
    alice = sign_in("alice")
    t1 = generation(testenv, "data", 0)
    assert alice.get("/restores/new", {"root": "data", "path": "../bob", "at": t1.token}).status_code == 400
    assert alice.get("/restores/new", {"root": "nope", "path": "x", "at": t1.token}).status_code == 404
    assert alice.get("/restores/00000000-0000-0000-0000-000000000000/").status_code == 404
