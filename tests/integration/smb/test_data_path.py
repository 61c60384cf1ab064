"""The data path against Samba: pipelined multi-credit reads and writes with buffers handed on
without copies (restore/smb/fastpath.py, handles.py, transfer.py), server-side copy with a block
clone tried first (servercopy.py), and what a restore does when a read fails half-way.

The oracle is the file system behind the share (the live file, or the snapshot's read-only copy)
and SHA-256 of those bytes computed here.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest
from smbprotocol.open import LockFlags, SMB2LockElement, SMB2LockRequest

from restore import smb
from restore.models import JobState, Phase, RestoreJob
from restore.restores import runner as copying
from restore.smb import fastpath, servercopy, wire
from restore.smb import pool as pool_module
from tests.support import people
from tests.support.scratch import SERVER, SHARE, ScratchArea

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

MIB = 1024 * 1024
ODD = 3 * 64 * 1024 + 17  # three full 64 KiB reads, then 17 bytes


@pytest.fixture(scope="module")
def area(testenv):
    """`scratch\\data-path-<hex>`: an odd-sized file, a 24 MiB file, a snapshot, then live edits."""
    area = ScratchArea(testenv, prefix="data-path").create()
    try:
        area.mkdir("Restored")
        area.write("odd.bin", os.urandom(ODD), age=timedelta(days=1))
        area.write("big.bin", os.urandom(24 * MIB), age=timedelta(days=1))
        area.snapshot("-1 hour")
        area.write("big.bin", b"edited since\n")
        yield area
    finally:
        area.remove()


@pytest.fixture
def svc():
    return smb.client_for(SERVER)


def snapshot_bytes(area, rel: str) -> bytes:
    return area.disk(rel, area.snapshots[0]).read_bytes()


def at_of(area):
    return smb.Snapshot.from_token(area.snapshots[0]).at


def test_reads_end_short_at_the_end_of_the_file_and_hand_on_views_of_the_answers(area, svc, settings):
    settings.SMB_IO_SIZE = 64 * 1024
    expected = snapshot_bytes(area, "odd.bin")
    smb.reset_pool()  # a new connection: its very first answers are views too
    with svc.open_read(SHARE, area.path("odd.bin"), at_of(area)) as handle:
        views = list(handle.iter_views())
        assert [len(v) for v in views] == [65536, 65536, 65536, 17]
        assert all(isinstance(v, memoryview) for v in views[:3])  # the zero-copy answers
        assert b"".join(views) == expected
        assert handle.read(ODD - 10, 100) == expected[-10:]  # asked past the end: what there is
        assert handle.read(ODD, 10) == b""
        assert handle.read(0, ODD + 5 * 64 * 1024) == expected  # reads beyond the end come back empty


def test_a_server_granting_few_credits_gets_smaller_requests_and_a_whole_copy(area, svc, monkeypatch):
    """No credit warm-up and no extra credits asked: the connection keeps the few credits Samba
    grants a new session, less than one 4 MiB read costs. Reads and writes shrink to fit."""
    monkeypatch.setattr(pool_module, "CREDIT_TARGET", 0)
    monkeypatch.setattr(fastpath, "CREDIT_GOAL", 0)
    smb.reset_pool()
    try:
        svc.stat(SHARE, area.path())
        connection = smb.client_for(SERVER).pool.connection_for(SERVER, svc.options)
        window = connection.sequence_window
        credits = window["high"] - window["low"]
        assert credits <= 4 * MIB // fastpath.UNIT, f"the connection has {credits} credits"
        with svc.open_read(SHARE, area.path("big.bin"), at_of(area)) as reader:
            sizes = [len(v) for v in reader.iter_views()]
            assert sizes[0] <= credits // (reader.io_depth + 1) * fastpath.UNIT  # its share of the window
            assert max(sizes) <= 8 * MIB
            target = area.path("Restored\\few-credits.bin")
            with svc.create_file(SHARE, target) as writer:
                digest = smb.copy_stream(reader, writer)
        expected = snapshot_bytes(area, "big.bin")
        assert digest == hashlib.sha256(expected).hexdigest()
        assert area.disk("Restored/few-credits.bin").read_bytes() == expected
    finally:
        smb.reset_pool()
        area.disk("Restored/few-credits.bin").unlink(missing_ok=True)


def test_a_block_clone_the_server_refuses_falls_back_to_copychunk(area, svc):
    servercopy.forget_refusals()
    target = area.path("Restored\\copied.bin")
    try:
        copied = svc.server_side_copy(SHARE, area.path("big.bin"), at_of(area), SHARE, target)
        assert copied == 24 * MIB and copied.method == "copychunk"
        assert (SERVER, SHARE) in servercopy._no_clone  # asked once, remembered for the share
        assert area.disk("Restored/copied.bin").read_bytes() == snapshot_bytes(area, "big.bin")
    finally:
        svc.delete(SHARE, target)
    servercopy.forget_refusals()


def test_samba_on_this_file_system_refuses_duplicate_extents(area, svc):
    """The refusal above is Samba's own answer (ext4 has no block cloning): not a skipped attempt."""
    ex = svc._exchange(SHARE)
    with svc.open_read(SHARE, area.path("odd.bin")) as source, svc.create_file(
            SHARE, area.path("Restored\\clone.bin")) as target:
        refused = servercopy._clone(ex, source.file_id, target, ODD)
        target.discard()
    assert refused in ("STATUS_INVALID_DEVICE_REQUEST", "STATUS_NOT_SUPPORTED"), refused
    assert not area.disk("Restored/clone.bin").exists()


def lock(handle, offset: int, length: int) -> None:
    """An exclusive byte-range lock held by ``handle`` (Samba enforces it on other handles' reads)."""
    element = SMB2LockElement()
    element["offset"], element["length"] = offset, length
    element["flags"] = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
    request = SMB2LockRequest()
    request["file_id"] = handle.file_id
    request["locks"] = [element]
    (reply,) = handle._exchange.call(request)
    reply.check(handle.path, "lock")


def test_a_read_error_mid_stream_fails_the_copy_and_leaves_no_target(area, svc, testenv):
    alice = people.client(testenv, "alice")
    target = area.path("Restored\\half.bin")
    with alice.open_read(SHARE, area.path("big.bin"), at_of(area)) as holder:
        lock(holder, 12 * MIB, 1)  # the middle of the file: the reads before it succeed
        with pytest.raises(smb.SmbError) as failure:
            copying._streamed_copy(svc, SHARE, area.path("big.bin"), at_of(area), svc, SHARE, target, None)
    assert "read" in str(failure.value) and "LOCK_CONFLICT" in str(failure.value)
    assert not area.disk("Restored/half.bin").exists()


def test_a_restore_whose_source_read_fails_half_way_fails_clearly_with_nothing_left(
        alice_in_area, area, testenv, settings):
    settings.RESTORE_COPY_METHOD = "stream"
    response = alice_in_area.post("/api/v1/restores", {
        "items": [{"root": "scratch", "path": "big.bin", "at": area.snapshots[0]}], "mode": "to_folder",
        "target": {"root": "scratch", "path": "Restored"}}, content_type="application/json")
    assert response.status_code == 201, response.content
    alice = people.client(testenv, "alice")
    with alice.open_read(SHARE, area.path("big.bin"), at_of(area)) as holder:
        lock(holder, 20 * MIB, 1)
        assert copying.run_job(response.json()["id"]) == JobState.PARTIAL
    item = RestoreJob.objects.get(pk=response.json()["id"]).items.get()
    assert item.phase == Phase.FAILED
    assert item.note.startswith("the file server failed: read") and "LOCK_CONFLICT" in item.note
    assert list(area.disk("Restored").iterdir()) == []  # no temporary, no partial file


def test_a_verified_copy_reads_both_files_at_once_and_finds_a_difference(area, svc):
    at = at_of(area)
    same = smb.sha256_files([(svc, SHARE, area.path("big.bin"), at), (svc, SHARE, area.path("odd.bin"), at)])
    assert same == [hashlib.sha256(snapshot_bytes(area, n)).hexdigest() for n in ("big.bin", "odd.bin")]
    live, old = smb.sha256_files([(svc, SHARE, area.path("big.bin"), None), (svc, SHARE, area.path("big.bin"), at)])
    assert live == hashlib.sha256(b"edited since\n").hexdigest() and live != old


def test_writes_of_views_go_out_unchanged_and_signed(area, svc):
    """A WRITE of a memoryview (the zero-copy path, signed as the session requires) lands byte for byte."""
    data = bytearray(os.urandom(3 * MIB + 5))
    target = area.path("Restored\\written.bin")
    try:
        with svc.create_file(SHARE, target) as handle:
            assert handle.write(0, memoryview(data)[MIB:]) == 2 * MIB + 5
            assert handle.write(2 * MIB + 5, memoryview(data)[:MIB]) == MIB
        assert area.disk("Restored/written.bin").read_bytes() == bytes(data[MIB:] + data[:MIB])
        assert svc._exchange(SHARE).tree.session.signing_required  # what the signature was checked against
    finally:
        svc.delete(SHARE, target)


def test_data_requests_ask_for_credits_until_the_window_holds_the_goal(area, svc):
    smb.reset_pool()
    with svc.open_read(SHARE, area.path("big.bin"), at_of(area)) as handle:
        for _ in range(3):
            for _view in handle.iter_views():
                pass
        window = handle._exchange.connection.sequence_window
    assert window["high"] - window["low"] >= fastpath.CREDIT_GOAL // 2
    assert isinstance(wire.data_read(b"\0" * 16, 0, 1), wire.Data)
