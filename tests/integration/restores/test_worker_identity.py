"""The worker re-reads the owner's groups from AD when a job starts (restore/restores/runner.py current_token):
a person taken out of the group that granted a file cannot restore it through a job queued before,
and when AD cannot be reached a token older than IDENTITY_REFRESH_SECONDS is not used.

The group is one of this test's own, made with samba-tool and deleted afterwards (the standing
groups such as Finance are shared by every other test)."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from restore.models import Identity, JobState, Phase, RestoreJob
from restore.restores import runner as copying
from restore.restores import tasks
from tests.support.scratch import READ, ScratchArea

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

GRANTED = b"shared through a group only\n"
OWN = b"alice's own notes\n"


def samba_tool(testenv, *args: str) -> None:
    state = testenv["TESTENV_STATE"]
    subprocess.run(["samba-tool", *args, "-H", f"{state}/samba/private/sam.ldb", "-s", testenv["TESTENV_SMB_CONF"]],
                   check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def group(testenv):
    """A group of this module's own: (name, SID)."""
    from restore.directory.ldap import Directory

    name = f"h4-restore-{uuid.uuid4().hex[:8]}"
    samba_tool(testenv, "group", "add", name)
    try:
        with Directory() as directory:
            sid = directory.sid_of(f"CN={name},CN=Users,{testenv['TESTENV_BASE_DN']}")
        assert sid, f"samba-tool made {name} but AD does not show it"
        yield name, sid
    finally:
        samba_tool(testenv, "group", "delete", name)


@pytest.fixture(scope="module")
def area(testenv, group):
    """granted.txt: readable by the group only (not by alice herself); own.txt: alice's, inherited."""
    area = ScratchArea(testenv, prefix="groups").create()
    try:
        area.write("granted.txt", GRANTED, age=timedelta(days=1))
        area.sids["group"] = group[1]
        area.set_acl("granted.txt", {"group": READ})
        area.write("own.txt", OWN, age=timedelta(days=1))
        area.snapshot("-1 hour")
        yield area
    finally:
        area.remove()


@pytest.fixture
def alice_in_group(testenv, group):
    samba_tool(testenv, "group", "addmembers", group[0], "alice")
    try:
        yield
    finally:
        subprocess.run(["samba-tool", "group", "removemembers", group[0], "alice", "-H",
                        f"{testenv['TESTENV_STATE']}/samba/private/sam.ldb", "-s", testenv["TESTENV_SMB_CONF"]],
                       capture_output=True)


def queue(client, area, path: str) -> str:
    body = {"items": [{"root": "scratch", "path": path, "at": area.snapshots[0]}]}
    response = client.post("/api/v1/restores", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def restored(area, stem: str) -> list[str]:
    return [n for n in area.live_names() if n.startswith(f"{stem} (restored ")]


@pytest.fixture(autouse=True)
def _clean(area):
    yield
    for name in area.live_names():
        if " (restored " in name:
            area.disk(name).unlink()


def test_a_group_removed_after_the_job_was_queued_no_longer_grants_the_file(testenv, group, area, alice_in_group,
                                                                             alice_in_area):
    assert group[1] in Identity.objects.get(username="alice").token_sids  # read at sign-in
    control = queue(alice_in_area, area, "granted.txt")
    assert copying.run_job(control) == JobState.DONE  # through the group, as long as she is in it
    assert area.disk(restored(area, "granted")[0]).read_bytes() == GRANTED

    job_id = queue(alice_in_area, area, "granted.txt")  # accepted: the stored token still has the group
    samba_tool(testenv, "group", "removemembers", group[0], "alice")
    assert copying.run_job(job_id) == JobState.PARTIAL
    item = RestoreJob.objects.get(pk=job_id).items.get()
    assert item.phase == Phase.FAILED and "may not read" in item.note
    assert len(restored(area, "granted")) == 1  # nothing more was written
    assert group[1] not in Identity.objects.get(username="alice").token_sids  # the stored token follows AD


def test_with_ad_unreachable_a_stale_token_is_not_used_the_job_retries_then_fails_clearly(settings, area,
                                                                                          alice_in_area):
    job_id = queue(alice_in_area, area, "own.txt")
    Identity.objects.filter(username="alice").update(
        refreshed_at=timezone.now() - timedelta(seconds=settings.IDENTITY_REFRESH_SECONDS + 60))
    settings.LDAP_URI = "ldaps://127.0.0.1:1"  # nothing listens there
    settings.RESTORE_RETRIES = 1
    with pytest.raises(copying.DirectoryUnavailable, match="older than IDENTITY_REFRESH_SECONDS"):
        copying.run_job(job_id)
    RestoreJob.objects.filter(pk=job_id).update(state=JobState.QUEUED, worker="")

    tasks.run_restore.apply(args=[job_id])  # eager: the retry runs at once, then it gives up
    job = RestoreJob.objects.get(pk=job_id)
    assert job.state == JobState.FAILED and job.attempts == 3
    assert "Active Directory could not be reached to re-read the person's groups after 2 attempts" in job.error
    assert job.items.get().phase == Phase.FAILED and not restored(area, "own")


def test_with_ad_unreachable_a_token_read_within_identity_refresh_seconds_still_serves(settings, area, alice_in_area):
    job_id = queue(alice_in_area, area, "own.txt")  # alice signed in just now
    settings.LDAP_URI = "ldaps://127.0.0.1:1"
    assert copying.run_job(job_id) == JobState.DONE
    assert area.disk(restored(area, "own")[0]).read_bytes() == OWN
