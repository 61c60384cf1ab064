"""A server-side restore (copychunk, Samba on ext4 refuses block clones) whose source the server
cannot read half-way fails clearly and leaves nothing behind: no partial target, no temporary.
(The streamed path's read error mid-stream is in tests/integration/smb/test_data_path.py.)

The failure is real: another session holds an exclusive byte-range lock in the middle of the
source in its snapshot, so Samba's copychunk stops there with STATUS_FILE_LOCK_CONFLICT after the
first request (16 MiB, sent alone) succeeded.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from restore import smb
from restore.models import JobState, Phase, RestoreJob
from restore.restores import runner as copying
from restore.smb import servercopy
from tests.integration.smb.test_data_path import lock
from tests.support import people
from tests.support.scratch import SERVER, SHARE, ScratchArea

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def area(testenv):
    area = ScratchArea(testenv, prefix="ssfail").create()
    try:
        area.mkdir("Restored")
        area.write("large.bin", os.urandom(40 * MIB), age=timedelta(days=1))
        area.snapshot("-1 hour")
        yield area
    finally:
        area.remove()


def test_a_server_side_restore_whose_source_read_fails_half_way_fails_clearly_with_nothing_left(
        alice_in_area, area, testenv, settings):
    settings.RESTORE_COPY_METHOD = "auto"  # same server: copied by the server itself
    servercopy.forget_refusals()
    response = alice_in_area.post("/api/v1/restores", {
        "items": [{"root": "scratch", "path": "large.bin", "at": area.snapshots[0]}], "mode": "to_folder",
        "target": {"root": "scratch", "path": "Restored"}}, content_type="application/json")
    assert response.status_code == 201, response.content
    alice = people.client(testenv, "alice")
    at = smb.Snapshot.from_token(area.snapshots[0]).at
    with alice.open_read(SHARE, area.path("large.bin"), at) as holder:
        lock(holder, 30 * MIB, 1)  # past the first copychunk request (16 MiB): the copy fails half-way
        assert copying.run_job(response.json()["id"]) == JobState.PARTIAL
    item = RestoreJob.objects.get(pk=response.json()["id"]).items.get()
    assert item.phase == Phase.FAILED
    assert item.note.startswith("the file server failed") and "LOCK_CONFLICT" in item.note, item.note
    assert list(area.disk("Restored").iterdir()) == []  # no temporary, no partial file
    assert (SERVER, SHARE) in servercopy._no_clone  # the clone was refused first: copychunk did the copy
