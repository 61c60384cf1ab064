"""Restores never write through a link planted in a live target folder.

What Samba 4.17 does with a symbolic link in a share (defaults: follow symlinks = yes, wide links =
no), found against the test domain: a link leading out of the share is neither listed nor opened
(not found); a link inside the share is followed silently: listed and opened as the folder it
leads to, without FILE_ATTRIBUTE_REPARSE_POINT, and FILE_OPEN_REPARSE_POINT changes nothing. So the
adapter also compares each folder's ".." with the folder above it: through the link, ".." is the
parent of where it leads. Samba 4.22 lists the link the same way but, opened as itself
(FILE_OPEN_REPARSE_POINT), reports it as a reparse point, as Windows does for junctions and
symbolic links; the adapter checks both ways.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from restore import smb
from restore.models import JobState, Phase, RestoreJob
from restore.restores import runner as copying
from tests.support.scratch import SHARE, ScratchArea

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


@pytest.fixture(scope="module")
def area(testenv):
    """report.txt in a snapshot; live, Target/link is a symbolic link (on the server's disk) to Elsewhere."""
    area = ScratchArea(testenv, prefix="reparse").create()
    try:
        area.mkdir("Target")
        area.mkdir("Elsewhere")
        area.write("report.txt", b"the report\n", age=timedelta(days=1))
        area.snapshot("-1 hour")
        os.symlink("../Elsewhere", area.disk("Target/link"))
        yield area
    finally:
        area.remove()


def nothing_written_through_the_link(area) -> bool:
    return area.live_names("Elsewhere") == []


def test_samba_follows_the_link_without_saying_it_is_one(area):
    listed = {e.name: e for e in area.alice.list_dir(SHARE, area.path("Target"))}
    assert listed["link"].is_dir and not listed["link"].attributes & 0x400


@pytest.mark.parametrize("write", ["create file", "create folder", "rename into", "server-side copy"])
def test_no_write_goes_through_a_link_in_the_target_folder(area, write):
    client, target = area.alice, area.path("Target\\link\\x.txt")
    with pytest.raises(smb.ReparsePoint, match="link"):
        if write == "create file":
            client.create_file(SHARE, target).close()
        elif write == "create folder":
            client.mkdir(SHARE, area.path("Target\\link\\folder"))
        elif write == "rename into":
            area.write("Target\\moving.txt", b"moving\n")
            try:
                client.rename(SHARE, area.path("Target\\moving.txt"), target)
            finally:
                area.delete("Target\\moving.txt")
        else:
            client.server_side_copy(SHARE, area.path("report.txt"), smb.Snapshot.from_token(area.snapshots[0]).at,
                                    SHARE, target)
    assert nothing_written_through_the_link(area)


def test_a_real_folder_beside_the_link_is_written_as_usual(area):
    area.write("Target\\plain.txt", b"plain\n")
    try:
        assert "plain.txt" in area.live_names("Target")
    finally:
        area.delete("Target\\plain.txt")


def test_a_restore_into_the_link_fails_that_item_and_writes_nothing_there(alice_in_area, area):
    response = alice_in_area.post("/api/v1/restores", {
        "items": [{"root": "scratch", "path": "report.txt", "at": area.snapshots[0]}],
        "mode": "to_folder", "target": {"root": "scratch", "path": "Target/link"}}, content_type="application/json")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert copying.run_job(job_id) in (JobState.FAILED, JobState.PARTIAL)
    item = RestoreJob.objects.get(pk=job_id).items.get(path="report.txt")
    assert item.phase == Phase.FAILED and "link" in item.note
    assert nothing_written_through_the_link(area)
    assert not [p for p in area.disk().rglob("~vdiprotect-*")]
