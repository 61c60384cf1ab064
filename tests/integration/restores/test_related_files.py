"""Related files in real restores: for every built-in rule, the restored bytes of the file and of
everything that belongs with it come from the chosen snapshot, never a mix with other times.

Restores run alongside the originals in the shared sample shares (a new "(restored ...)" folder or
file, removed after each test), so the fixtures the other tests read stay as they are.
"""

from __future__ import annotations

import pytest

from restore import smb
from restore.models import JobState, Phase, RestoreJob
from restore.restores import runner as copying
from tests.support.history import CASES, FF, FOLDER_OF, SHARE_OF, T3, generation, on_disk, sha, stream_bytes, top_of

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


def restore_and_run(client, root: str, path: str, snapshot: smb.Snapshot, **options) -> RestoreJob:
    body = {"items": [{"root": root, "path": path, "at": snapshot.token}], **options}
    response = client.post("/api/v1/restores", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert copying.run_job(response.json()["id"]) == JobState.DONE
    return RestoreJob.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.rule)
def test_a_restore_brings_the_file_and_its_related_files_from_the_chosen_snapshot(alice, testenv, case, cleanup):
    snapshot = generation(testenv, case.root, case.generation)
    job = restore_and_run(alice, case.root, case.path, snapshot)
    items = list(job.items.order_by("seq"))
    cleanup.append((case.root, top_of(items[0].target_path, items[0].path)))
    assert all(i.phase == Phase.DONE for i in items), [(i.path, i.phase, i.note) for i in items]
    restored = {i.path.replace("\\", "/") for i in items}
    assert {k for k in case.pulled if ":" not in k} <= restored
    for item in items:
        then = on_disk(testenv, case.root, item.path, snapshot)
        now = on_disk(testenv, case.root, item.target_path, None)
        if item.kind == "folder":
            assert sorted(p.name for p in now.iterdir()) == sorted(p.name for p in then.iterdir())
            continue
        assert now.read_bytes() == then.read_bytes(), item.path
        assert item.sha256_source == item.sha256_target == sha(then.read_bytes())
    for key in (k for k in case.pulled if ":" in k):  # alternate data streams come with their file
        path, name = key.split(":")
        (item,) = [i for i in items if i.path.replace("\\", "/") == path]
        now = on_disk(testenv, case.root, item.target_path, None)
        assert stream_bytes(now, name) == stream_bytes(on_disk(testenv, case.root, path, snapshot), name)


def test_a_database_comes_back_with_the_snapshots_wal_not_the_live_one(alice, testenv, cleanup):
    t3 = generation(testenv, "profile", T3)
    job = restore_and_run(alice, "profile", f"{FF}/places.sqlite", t3)
    by_path = {i.path.replace("\\", "/"): i for i in job.items.all()}
    cleanup.append(("profile", top_of(by_path[f"{FF}/places.sqlite"].target_path, f"{FF}/places.sqlite")))
    for name in ("places.sqlite", "places.sqlite-wal"):
        item = by_path[f"{FF}/{name}"]
        restored = on_disk(testenv, "profile", item.target_path, None).read_bytes()
        assert restored == on_disk(testenv, "profile", f"{FF}/{name}", t3).read_bytes()
    live_wal = on_disk(testenv, "profile", f"{FF}/places.sqlite-wal", None).read_bytes()
    assert on_disk(testenv, "profile", by_path[f"{FF}/places.sqlite-wal"].target_path, None).read_bytes() != live_wal
    # the set keeps its names, side by side in a folder of its own
    assert by_path[f"{FF}/places.sqlite"].target_path.rsplit("\\", 1)[1] == "places.sqlite"


def test_unticked_related_files_stay_behind(alice, testenv, cleanup):
    snapshot = generation(testenv, "data", 1)
    job = restore_and_run(alice, "data", "Documents/ledger.sqlite", snapshot,
                          exclude_related=["Documents/ledger.sqlite-shm"])
    paths = {i.path.replace("\\", "/") for i in job.items.all()}
    cleanup.append(("data", top_of(job.items.order_by("seq")[0].target_path, "Documents\\ledger.sqlite")))
    assert "Documents/ledger.sqlite-wal" in paths and "Documents/ledger.sqlite-shm" not in paths


def test_the_dry_run_lists_related_items_with_their_reasons(alice, testenv):
    snapshot = generation(testenv, "data", 0)
    body = {"items": [{"root": "data", "path": "Pictures/IMG_0001.jpg", "at": snapshot.token}], "dry_run": True}
    plan = alice.post("/api/v1/restores", body, content_type="application/json").json()
    related = [i for i in plan["items"] if i["origin"].startswith("related: ")]
    assert {i["source"]["path"] for i in related} == {"Pictures/IMG_0001.xmp", "Pictures/IMG_0001.thm"}
    assert all(i["reason"] for i in related)
    assert SHARE_OF and FOLDER_OF  # the sample shares the cases above name
