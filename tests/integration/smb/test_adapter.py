"""The SMB adapter (restore/smb) against the real Samba test domain.

The oracle is the file system behind the share: the live tree under TESTENV_SHARE_DATA_PATH and,
for each snapshot, the read-only copy named by its @GMT token under TESTENV_SHARE_DATA_SNAPDIR.
Scratch files live only in the `data` share's `adapter-scratch` folder, made over SMB and removed
after each test.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.slowlink import SlowLink
from restore import smb
from restore.smb import client as client_module
from restore.smb import pool as pool_module
from restore.smb import wire
from tests.support import people
from tests.support.samba import samba_version

pytestmark = [pytest.mark.samba]

SERVER = "127.0.0.1"
DOCS = "alice\\Documents"
SCRATCH = "adapter-scratch"


# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def alice_smb(testenv) -> smb.Client:
    return people.client(testenv, "alice")


@pytest.fixture
def scratch(svc, testenv):
    """`data\\adapter-scratch`, created over SMB, removed with everything in it afterwards."""
    _remove_tree(svc, SCRATCH)
    svc.mkdir("data", SCRATCH)
    yield SCRATCH
    _remove_tree(svc, SCRATCH)


def _remove_tree(client: smb.Client, path: str) -> None:
    try:
        entries = client.list_dir("data", path)
    except smb.NotFound:
        return
    for entry in entries:
        child = f"{path}\\{entry.name}"
        if entry.is_dir:
            _remove_tree(client, child)
        else:
            client.delete("data", child)
    client.delete("data", path)


def disk(testenv, path: str, token: str | None = None) -> Path:
    """Where `data\\path` lives on disk, live or in the snapshot ``token``."""
    base = testenv.share_path("data") if token is None else testenv.snapdir("data") / token
    return base.joinpath(*path.split("\\")) if path else base


def snapshot_tokens(testenv) -> list[str]:
    return sorted((p.name for p in testenv.snapdir("data").iterdir() if p.name.startswith("@GMT-")), reverse=True)


def mtime(p: Path) -> datetime:
    """The file's modification time as the server reports it (FILETIME truncated to microseconds)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=p.stat().st_mtime_ns // 1000)


def at(token: str) -> datetime:
    return smb.Snapshot.from_token(token).at


def write_file(client: smb.Client, path: str, data: bytes) -> None:
    with client.create_file("data", path) as handle:
        handle.write(0, data)


def is_self_relative_sd(sd: bytes) -> bool:
    """Revision 1, SE_SELF_RELATIVE, and offsets to an owner, a group and a DACL."""
    revision, _, control, owner, group, _sacl, dacl = struct.unpack_from("<BBHIIII", sd)
    return bool(revision == 1 and control & 0x8000 and owner and group and dacl)


# --- snapshots ----------------------------------------------------------------------------------


def test_snapshots_are_the_snapdir_listing_newest_first(svc, testenv):
    on_disk = snapshot_tokens(testenv)
    for path in ("", DOCS, DOCS + "\\notes.txt"):
        found = svc.enumerate_snapshots("data", path)
        assert [s.token for s in found] == on_disk
        assert all(s.at == at(s.token) and s.at.tzinfo is UTC for s in found)
    assert len(on_disk) >= 3


def test_snapshot_tokens_parse_strictly_and_order_by_time():
    a = smb.Snapshot.from_token("@GMT-2026.11.01-10.00.00")
    b = smb.Snapshot.from_token("@GMT-2026.11.01-10.00.01")
    assert a.at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC) and a < b and sorted([b, a]) == [a, b]
    for bad in ("@GMT-2026.13.01-10.00.00", "GMT-2026.11.01-10.00.00", "@GMT-2026.11.01 10.00.00", "", None):
        with pytest.raises(ValueError):
            smb.Snapshot.from_token(bad)


# --- metadata -----------------------------------------------------------------------------------


def test_stat_live_and_at_each_snapshot_matches_disk(svc, testenv):
    path = DOCS + "\\notes.txt"  # a different version in every snapshot
    for token in [None, *snapshot_tokens(testenv)]:
        entry = svc.stat("data", path, at=at(token) if token else None)
        on_disk = disk(testenv, path, token)
        assert (entry.name, entry.is_dir, entry.size) == ("notes.txt", False, on_disk.stat().st_size)
        assert entry.last_write == mtime(on_disk)
        assert entry.attributes & 0x10 == 0
    folder = svc.stat("data", DOCS)
    assert folder.is_dir and folder.name == "Documents" and folder.attributes & 0x10


def test_list_dir_live_and_at_each_snapshot_matches_disk(svc, testenv):
    for token in [None, *snapshot_tokens(testenv)]:
        entries = svc.list_dir("data", DOCS, at=at(token) if token else None)
        on_disk = {p.name: p for p in disk(testenv, DOCS, token).iterdir()}
        assert {e.name for e in entries} == set(on_disk)  # and no "." or ".."
        for e in entries:
            p = on_disk[e.name]
            assert e.is_dir == p.is_dir()
            if not e.is_dir:
                assert (e.size, e.last_write) == (p.stat().st_size, mtime(p))


def test_list_dirs_lists_several_folders_in_one_pipeline_and_reports_each_failure_in_place(svc, testenv):
    token = snapshot_tokens(testenv)[0]
    folders = [DOCS, "alice", f"{DOCS}\\no such folder", "bob"]
    results = svc.list_dirs("data", folders, at=at(token))
    assert isinstance(results[2], smb.NotFound)
    for folder, entries in zip(folders[:2] + folders[3:], results[:2] + results[3:]):
        assert sorted(e.name for e in entries) == sorted(p.name for p in disk(testenv, folder, token).iterdir())


def test_list_dir_gathers_a_listing_that_needs_many_answers(svc, testenv, scratch, monkeypatch):
    monkeypatch.setattr(client_module, "LIST_BUFFER", 64 * 1024)  # one answer holds ~400 of these names
    names = [f"entry-{i:05d}-{'x' * 60}.txt" for i in range(1200)]
    for name in names:
        svc.create_file("data", f"{scratch}\\{name}").close()
    entries = svc.list_dir("data", scratch)
    assert sorted(e.name for e in entries) == names == sorted(os.listdir(disk(testenv, scratch)))
    assert sum(80 + 2 * len(n) for n in names) > 3 * 64 * 1024


def test_security_descriptors_are_self_relative_owner_group_dacl(svc, testenv):
    from smbprotocol.security_descriptor import SMB2CreateSDBuffer

    path = DOCS + "\\Archive\\handover.docx"  # restricted in the newest snapshot and live
    oldest = snapshot_tokens(testenv)[-1]
    live, then = svc.security_descriptor("data", path), svc.security_descriptor("data", path, at=at(oldest))
    for sd in (live, then):
        assert is_self_relative_sd(sd)
        parsed = SMB2CreateSDBuffer()
        parsed.unpack(sd)
        assert str(parsed.get_owner()).startswith("S-1-5-21-") and parsed.get_dacl() is not None
    assert live != then  # each snapshot carries the ACL it had then


def test_set_security_descriptor_changes_the_live_dacl(svc, scratch):
    path = f"{scratch}\\acl.txt"
    write_file(svc, path, b"x")
    before = svc.security_descriptor("data", path)
    folder_sd = svc.security_descriptor("data", DOCS)  # a different, valid DACL to copy over
    svc.set_security_descriptor("data", path, folder_sd, info=0x4)
    after = svc.security_descriptor("data", path)
    assert after != before and is_self_relative_sd(after)


# --- content ------------------------------------------------------------------------------------


def test_open_read_streams_a_file_over_4_mib_in_chunks_like_disk(svc, testenv):
    path = DOCS + "\\big.log"
    oldest = snapshot_tokens(testenv)[-1]
    for token in (None, oldest):
        expected = disk(testenv, path, token).read_bytes()
        assert len(expected) > 4 * 1024 * 1024
        with svc.open_read("data", path, at=at(token) if token else None) as handle:
            assert handle.size == len(expected)
            chunks = list(handle.iter_chunks(1024 * 1024))
            assert [len(c) for c in chunks[:-1]] == [1024 * 1024] * (len(chunks) - 1)
            assert b"".join(chunks) == expected
            huge = list(handle.iter_chunks(64 * 1024 * 1024))  # clamped to SMB_IO_SIZE and the server's maximum
            limit = min(handle.io_size, handle._exchange.connection.max_read_size)
            assert smb.MAX_CHUNK <= len(huge[0]) <= limit and b"".join(huge) == expected
            assert handle.read(4_000_000, 300_000) == expected[4_000_000:4_300_000]
            assert handle.read(len(expected) - 10, 100) == expected[-10:]
            assert handle.read(len(expected) + 10, 100) == b""
        assert svc.sha256("data", path, at=at(token) if token else None) == hashlib.sha256(expected).hexdigest()


def test_reading_stops_early_without_leaving_answers_behind(svc):
    with svc.open_read("data", DOCS + "\\big.log") as handle:
        chunks = handle.iter_chunks(1024 * 1024)
        next(chunks)
        chunks.close()  # e.g. the browser went away mid-download; read-ahead answers are collected
        connection = handle._exchange.connection
    assert not connection.outstanding_requests
    assert svc.stat("data", DOCS).is_dir


# --- many at once -------------------------------------------------------------------------------


def test_many_variants_agree_with_the_single_calls(svc, testenv):
    tokens = snapshot_tokens(testenv)
    times = [at(t) for t in tokens] + [None]
    for path in (DOCS + "\\notes.txt", DOCS + "\\meeting-minutes.txt", DOCS + "\\report.docx"):
        stats = svc.stat_at_many("data", path, times)
        sds = svc.security_descriptor_at_many("data", path, times)
        for when, token in zip(times, tokens + [None]):
            exists = disk(testenv, path, token).exists()
            if exists:
                assert stats[when] == svc.stat("data", path, at=when)
                assert sds[when] == svc.security_descriptor("data", path, at=when)
            else:  # created after this snapshot, or deleted since: None, not an exception
                assert stats[when] is None and sds[when] is None
    children = [f"{DOCS}\\{e.name}" for e in svc.list_dir("data", DOCS)] + [DOCS + "\\no such file"]
    many = svc.security_descriptors_many("data", children, at=at(tokens[-1]))
    for child in children:
        try:
            assert many[child] == svc.security_descriptor("data", child, at=at(tokens[-1]))
        except smb.NotFound:
            assert many[child] is None
    assert many[DOCS + "\\no such file"] is None


def test_many_variants_are_safe_from_several_threads_at_once(svc, testenv):
    times = [at(t) for t in snapshot_tokens(testenv)] + [None]
    path = DOCS + "\\notes.txt"
    expected = svc.stat_at_many("data", path, times)
    results, failures = [], []

    def work():
        try:
            for _ in range(20):
                results.append(svc.stat_at_many("data", path, times))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(results) == 160 and all(r == expected for r in results)


@pytest.fixture
def slow_link(settings, testenv):
    link = SlowLink(delay=0.05, upstream=(SERVER, 445))  # 100 ms round trip: requests in flight are countable
    settings.SMB_PORT = link.port
    yield link
    smb.reset_pool()
    link.close()


def requests_in_flight_before_first_answer(events, requests: int) -> float:
    """How many requests' worth of bytes had crossed the link before the first answer came back."""
    first_answer = next(i for i, (direction, _) in enumerate(events) if direction == "down")
    sent = sum(n for direction, n in events if direction == "up")
    before = sum(n for direction, n in events[:first_answer] if direction == "up")
    return before / (sent / requests)


def test_many_variants_pipeline_instead_of_one_round_trip_each(slow_link, testenv):
    """With 50 ms each way, a client that waited for each answer would have one request on the wire
    when the first answer arrives; the many-variants send on without waiting. (How much faster that
    is, is measured by scripts/bench timeline, not asserted here.)"""
    svc = smb.client_for(SERVER)
    assert svc.options.port == slow_link.port
    path = DOCS + "\\notes.txt"
    real = [at(t) for t in snapshot_tokens(testenv)]
    times = real + [real[0] - timedelta(hours=h) for h in range(1, 41 - len(real))]  # 40 points in time
    svc.stat("data", path)  # connect, sign in, tree connect

    mark = len(slow_link.events)
    many = svc.stat_at_many("data", path, times)
    assert requests_in_flight_before_first_answer(slow_link.events[mark:], len(times)) >= 10
    one_by_one = {}
    for when in real + times[len(real):len(real) + 3]:
        try:
            one_by_one[when] = svc.stat("data", path, at=when)
        except smb.NotFound:
            one_by_one[when] = None
    assert {w: many[w] for w in one_by_one} == one_by_one
    assert sum(v is not None for v in many.values()) == len(real)

    children = [f"{DOCS}\\{e.name}" for e in svc.list_dir("data", DOCS)]
    mark = len(slow_link.events)
    sds = svc.security_descriptors_many("data", children * 8)  # duplicates collapse
    assert requests_in_flight_before_first_answer(slow_link.events[mark:], len(children)) >= min(10, len(children))
    assert sds == {c: svc.security_descriptor("data", c) for c in children}


# --- failures -------------------------------------------------------------------------------------


def test_missing_objects_raise_not_found(svc, testenv):
    oldest = at(snapshot_tokens(testenv)[-1])
    calls = [
        lambda: svc.stat("data", DOCS + "\\nope.txt"),
        lambda: svc.stat("data", DOCS + "\\meeting-minutes.txt", at=oldest),  # did not exist yet
        lambda: svc.stat("data", DOCS + "\\notes.txt", at=datetime(2001, 1, 1, tzinfo=UTC)),  # no such snapshot
        lambda: svc.list_dir("data", "nope\\deeper"),
        lambda: svc.security_descriptor("data", "nope"),
        lambda: svc.enumerate_snapshots("data", "nope"),
        lambda: svc.list_streams("data", "nope"),
        lambda: svc.open_read("data", DOCS + "\\nope.txt"),
        lambda: svc.sha256("data", DOCS + "\\report.docx"),  # deleted since
        lambda: svc.stat("no-such-share", ""),
    ]
    for call in calls:
        with pytest.raises(smb.NotFound) as caught:
            call()
        assert caught.value.status is not None and caught.value.status_name.startswith("STATUS_")


def test_a_dropped_connection_is_replaced_transparently(svc):
    pool = svc.pool
    first = pool.connection_for(SERVER, svc.options)
    if first is None:
        svc.stat("data", DOCS)
        first = pool.connection_for(SERVER, svc.options)

    first.transport.close()  # the transport closed underneath us
    assert svc.stat("data", DOCS).is_dir
    second = pool.connection_for(SERVER, svc.options)
    assert second is not first

    second.transport._sock.shutdown(socket.SHUT_RDWR)  # the server hung up (e.g. smbd restarted)
    assert [e.name for e in svc.list_dir("data", DOCS)]
    third = pool.connection_for(SERVER, svc.options)
    assert third is not second

    third.transport._sock.close()  # the socket vanished without smbprotocol noticing
    assert svc.security_descriptor("data", DOCS)
    assert pool.connection_for(SERVER, svc.options) is not third


def test_a_connection_that_dies_during_a_call_is_retried_once(svc, scratch, monkeypatch):
    svc.stat("data", DOCS)
    with monkeypatch.context() as patch:  # undone before the scratch folder is cleaned up
        patch.setattr(pool_module, "alive", lambda connection: True)  # the pool's check misses the drop
        doomed = svc.pool.connection_for(SERVER, svc.options)
        doomed.transport.close()
        assert svc.stat("data", DOCS).is_dir  # a read: retried on a new connection
        assert svc.pool.connection_for(SERVER, svc.options) is not doomed

        svc.pool.connection_for(SERVER, svc.options).transport.close()
        assert svc.mkdir("data", f"{scratch}\\after-a-drop").is_dir  # nothing had been sent: a change is retried

        attempts = []

        def always_fails(self, messages):
            attempts.append(messages)
            raise ConnectionResetError("the network is gone")

        patch.setattr(wire.Exchange, "_send", always_fails)
        with pytest.raises(smb.ConnectionLost):
            svc.stat("data", DOCS)
        assert len(attempts) == 2  # once more, not forever


def test_user_sessions_are_separate_and_denied_what_their_acl_denies(svc, alice_smb, testenv):
    assert alice_smb.stat("data", DOCS + "\\notes.txt").size == disk(testenv, DOCS + "\\notes.txt").stat().st_size
    for path in ("bob", "bob\\Documents", "bob\\Documents\\bob-notes.txt"):
        with pytest.raises(smb.AccessDenied):
            alice_smb.stat("data", path)
        assert svc.stat("data", path)  # the service account's session is another one
    with pytest.raises(smb.AccessDenied):
        alice_smb.list_dir("data", "bob\\Documents")
    alice_tree = svc.pool.tree(SERVER, "data", alice_smb.credentials, alice_smb.options)
    svc_tree = svc.pool.tree(SERVER, "data", svc.credentials, svc.options)
    assert alice_tree.session is not svc_tree.session
    assert alice_tree.session.connection is svc_tree.session.connection  # one connection per server
    # The oldest snapshot still lets alice read the handover document the live ACL now denies her.
    path = DOCS + "\\Archive\\handover.docx"
    oldest = at(snapshot_tokens(testenv)[-1])
    with pytest.raises(smb.AccessDenied):
        alice_smb.sha256("data", path)
    assert alice_smb.sha256("data", path, at=oldest) == hashlib.sha256(
        disk(testenv, path, snapshot_tokens(testenv)[-1]).read_bytes()).hexdigest()


def test_an_unreachable_server_fails_fast_without_a_retry(settings, testenv):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind((SERVER, 0))
        settings.SMB_PORT = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(smb.Unreachable):
        smb.client_for(SERVER).stat("data", "")
    assert time.monotonic() - started < 2


def test_encrypted_sessions_read_and_list_the_same_on_their_own_connection(settings, svc, testenv):
    listed = svc.list_dir("data", DOCS)
    settings.SMB_ENCRYPT = True
    encrypted = smb.client_for(SERVER)
    path = DOCS + "\\big.log"
    assert encrypted.sha256("data", path) == hashlib.sha256(disk(testenv, path).read_bytes()).hexdigest()
    # Packed listing compounds go through smbprotocol's send_compound on an encrypted session.
    assert sorted(e.name for e in encrypted.list_dir("data", DOCS)) == sorted(e.name for e in listed)
    assert {e.name for e in listed} == {p.name for p in disk(testenv, DOCS).iterdir()}
    assert encrypted.pool.tree(SERVER, "data", encrypted.credentials, encrypted.options).session.encrypt_data
    assert encrypted.pool.connection_for(SERVER, encrypted.options) is not svc.pool.connection_for(SERVER, svc.options)


def test_wrong_password_fails_sign_in_without_touching_other_sessions(svc, testenv):
    wrong = people.client(testenv, "alice", "not her password")
    with pytest.raises(smb.SmbError) as caught:
        wrong.stat("data", DOCS)
    if people.protocol(testenv) == "kerberos":  # the KDC refuses before the file server is asked
        assert "sign in to the file server" in str(caught.value)
    else:
        assert caught.value.status_name == "STATUS_LOGON_FAILURE"
    assert svc.stat("data", DOCS).is_dir


def test_a_forked_worker_builds_its_own_pool(svc):
    svc.stat("data", DOCS)
    parent_pool = svc.pool
    parent_connection = parent_pool.connection_for(SERVER, svc.options)
    pid = os.fork()
    if pid == 0:  # the child: like a Celery prefork worker
        code = 1
        try:
            child = smb.client_for(SERVER)
            ok = child.pool is not parent_pool and child.pool.pid == os.getpid() and child.stat("data", DOCS).is_dir
            code = 0 if ok and child.pool.connection_for(SERVER, child.options) is not parent_connection else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert svc.pool is parent_pool and parent_pool.connection_for(SERVER, svc.options) is parent_connection
    assert svc.stat("data", DOCS).is_dir  # the child did not cut the parent's connection


# --- changes (restores) -------------------------------------------------------------------------


def test_create_write_set_times_rename_delete_and_mkdir(svc, testenv, scratch):
    data = os.urandom(9 * 1024 * 1024 + 7)  # more than two 4 MiB writes
    path = f"{scratch}\\restored.bin"
    when = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    with svc.create_file("data", path) as handle:
        assert handle.write(0, data) == len(data)
        handle.set_times(last_write=when, created=when)
    assert disk(testenv, path).read_bytes() == data and mtime(disk(testenv, path)) == when
    assert svc.stat("data", path).last_write == when

    with pytest.raises(smb.AlreadyExists):
        svc.create_file("data", path)
    with svc.create_file("data", path, overwrite=True) as handle:
        handle.write(0, b"short")
    assert disk(testenv, path).read_bytes() == b"short"

    write_file(svc, f"{scratch}\\other.txt", b"other")
    with pytest.raises(smb.AlreadyExists):
        svc.rename("data", path, f"{scratch}\\other.txt")
    svc.rename("data", path, f"{scratch}\\renamed.bin")
    assert not disk(testenv, path).exists() and disk(testenv, f"{scratch}\\renamed.bin").read_bytes() == b"short"
    svc.rename("data", f"{scratch}\\renamed.bin", f"{scratch}\\other.txt", replace=True)
    assert disk(testenv, f"{scratch}\\other.txt").read_bytes() == b"short"

    folder = svc.mkdir("data", f"{scratch}\\sub")
    assert folder.is_dir and disk(testenv, f"{scratch}\\sub").is_dir()
    with pytest.raises(smb.AlreadyExists):
        svc.mkdir("data", f"{scratch}\\sub")
    write_file(svc, f"{scratch}\\sub\\inner.txt", b"inner")
    with pytest.raises(smb.SmbError) as caught:
        svc.delete("data", f"{scratch}\\sub")
    assert caught.value.status_name == "STATUS_DIRECTORY_NOT_EMPTY"
    svc.delete("data", f"{scratch}\\sub\\inner.txt")
    svc.delete("data", f"{scratch}\\sub")
    assert not disk(testenv, f"{scratch}\\sub").exists()
    with pytest.raises(smb.NotFound):
        svc.delete("data", f"{scratch}\\sub")


def test_a_discarded_write_leaves_nothing_behind(svc, testenv, scratch):
    handle = svc.create_file("data", f"{scratch}\\partial.tmp")
    handle.write(0, b"half of it")
    handle.discard()
    assert not disk(testenv, f"{scratch}\\partial.tmp").exists()


def test_server_side_copy_from_a_snapshot_gives_identical_bytes(svc, testenv, scratch):
    oldest = snapshot_tokens(testenv)[-1]
    source = DOCS + "\\big.log"
    progress = []
    copied = svc.server_side_copy("data", source, at(oldest), "data", f"{scratch}\\big.log", progress=progress.append)
    expected = disk(testenv, source, oldest).read_bytes()
    assert copied == len(expected) == progress[-1]
    assert disk(testenv, f"{scratch}\\big.log").read_bytes() == expected

    with pytest.raises(smb.AlreadyExists):  # the destination must be new
        svc.server_side_copy("data", source, at(oldest), "data", f"{scratch}\\big.log")
    with pytest.raises(smb.NotFound):
        svc.server_side_copy("data", DOCS + "\\meeting-minutes.txt", at(oldest), "data", f"{scratch}\\x.txt")
    assert not disk(testenv, f"{scratch}\\x.txt").exists()

    # More than one request (16 x 1 MiB each), live to live, and an empty file.
    big = os.urandom(40 * 1024 * 1024 + 3)
    write_file(svc, f"{scratch}\\forty.bin", big)
    progress.clear()
    assert svc.server_side_copy("data", f"{scratch}\\forty.bin", None, "data", f"{scratch}\\forty-copy.bin",
                                progress=progress.append) == len(big)
    assert progress == [16 << 20, 32 << 20, len(big)]
    assert disk(testenv, f"{scratch}\\forty-copy.bin").read_bytes() == big
    write_file(svc, f"{scratch}\\empty.txt", b"")
    assert svc.server_side_copy("data", f"{scratch}\\empty.txt", None, "data", f"{scratch}\\empty-copy.txt") == 0

    # From another share's snapshot (same server, same session).
    profile_token = sorted((p.name for p in testenv.snapdir("profiles").iterdir()), reverse=True)[-1]
    source = "alice.V6\\NTUSER.DAT"
    copied = svc.server_side_copy("profiles", source, at(profile_token), "data", f"{scratch}\\NTUSER.DAT")
    expected = (testenv.snapdir("profiles") / profile_token / "alice.V6" / "NTUSER.DAT").read_bytes()
    assert copied == len(expected) and disk(testenv, f"{scratch}\\NTUSER.DAT").read_bytes() == expected


def test_alternate_data_streams_are_listed_and_readable(svc, testenv, scratch):
    path = f"{scratch}\\downloaded.pdf"
    zone = b"[ZoneTransfer]\r\nZoneId=3\r\n"
    write_file(svc, path, b"%PDF-1.4\n")
    write_file(svc, path + ":Zone.Identifier", zone)
    assert svc.list_streams("data", path) == [("Zone.Identifier", len(zone))]
    with svc.open_read("data", path + ":Zone.Identifier") as handle:
        assert handle.read(0, 1000) == zone
    xattrs = os.listxattr(disk(testenv, path))  # vfs_streams_xattr keeps a stream in a user.DosStream xattr
    assert any(x.startswith("user.DosStream.Zone.Identifier") for x in xattrs)
    assert svc.list_streams("data", scratch) == []

    oldest = snapshot_tokens(testenv)[-1]  # the fixture's setup.pdf carries a Zone.Identifier in every snapshot
    snap_file = disk(testenv, DOCS + "\\setup.pdf", oldest)
    streams = svc.list_streams("data", DOCS + "\\setup.pdf", at=at(oldest))
    assert [name for name, _ in streams] == ["Zone.Identifier"]
    with svc.open_read("data", DOCS + "\\setup.pdf:Zone.Identifier", at=at(oldest)) as handle:
        content = handle.read(0, 4096)
    stored = os.getxattr(snap_file, "user.DosStream.Zone.Identifier:$DATA")
    assert stored.rstrip(b"\0") == content and len(content) == streams[0][1]


def test_snapshot_objects_are_never_opened_for_writing():
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for access in (wire.FILE_WRITE_DATA, wire.DELETE, wire.WRITE_DAC, wire.GENERIC_WRITE, wire.MAXIMUM_ALLOWED):
        with pytest.raises(ValueError):
            wire.create("x", access=access, at=when)
    with pytest.raises(ValueError):
        wire.create("x", access=wire.READ, at=when, disposition=wire.CreateDisposition.FILE_OVERWRITE_IF)
    assert wire.create("x", access=wire.READ, at=when)


PROBE = "deleted-parent-probe"



def snapshot_with_a_deleted_folder(svc, testenv, scratch) -> str:
    """A snapshot holding ``scratch\\PROBE\\deeper\\kept.txt`` (gone live): made once per test domain,
    then reused, so test runs do not pile up snapshots."""
    for token in snapshot_tokens(testenv):
        if disk(testenv, f"{scratch}\\{PROBE}\\deeper\\kept.txt", token).exists():
            return token
    svc.makedirs("data", f"{scratch}\\{PROBE}\\deeper")
    write_file(svc, f"{scratch}\\{PROBE}\\deeper\\kept.txt", b"kept in the snapshot\n")
    token = testenv.snapshot("data")
    _remove_tree(svc, f"{scratch}\\{PROBE}")
    return token


def test_samba_reaches_snapshot_objects_only_below_folders_that_exist_live(svc, testenv, scratch):
    """Samba 4.17 resolves the parent folders of a TWrp open in the live tree (it opens the parent with
    no timewarp and only the last component in the snapshot); 4.22 resolves them in the snapshot. A folder deleted since can be listed
    at a snapshot, but nothing inside it can be opened until its parents exist live again: a
    restore recreates them first, then copies from the snapshot."""
    when = at(snapshot_with_a_deleted_folder(svc, testenv, scratch))
    gone = f"{scratch}\\{PROBE}"

    assert [e.name for e in svc.list_dir("data", gone, at=when)] == ["deeper"]  # its parent exists live
    if samba_version() < (4, 22):
        with pytest.raises(smb.NotFound) as caught:
            svc.stat("data", f"{gone}\\deeper\\kept.txt", at=when)
        assert caught.value.status_name == "STATUS_OBJECT_PATH_NOT_FOUND"
        assert svc.security_descriptors_many("data", [f"{gone}\\deeper"], at=when) == {f"{gone}\\deeper": None}
    else:  # Samba 4.22 resolves the whole path in the snapshot, as Windows does
        assert svc.stat("data", f"{gone}\\deeper\\kept.txt", at=when).size == 21
        assert svc.security_descriptors_many("data", [f"{gone}\\deeper"], at=when)[f"{gone}\\deeper"]

    assert svc.makedirs("data", f"{gone}\\deeper") == [gone, f"{gone}\\deeper"]
    assert svc.server_side_copy("data", f"{gone}\\deeper\\kept.txt", when, "data", f"{gone}\\deeper\\kept.txt") == 21
    assert disk(testenv, f"{gone}\\deeper\\kept.txt").read_bytes() == b"kept in the snapshot\n"


def test_try_open_answers_with_the_servers_own_decision_for_that_identity(alice_smb):
    alice_smb.try_open("data", DOCS + "\\notes.txt", wire.FILE_READ_DATA)
    alice_smb.try_open("data", DOCS, 0x1, directory=True)  # FILE_LIST_DIRECTORY on her folder
    with pytest.raises(smb.AccessDenied):
        alice_smb.try_open("data", "bob\\Documents\\bob-notes.txt", wire.FILE_READ_DATA)
    with pytest.raises(smb.NotFound):
        alice_smb.try_open("data", DOCS + "\\no-such-file.txt", wire.FILE_READ_DATA)
    with pytest.raises(smb.SmbError):  # a folder is not opened as a file
        alice_smb.try_open("data", DOCS, wire.FILE_READ_DATA)
