"""Profile containers read where they lie: in the fslogix share's snapshots, over SMB, through
restore/smb/randomaccess.py, never copied.

The share (built by scripts/testenv_fslogix.py) has three back-dated snapshots in which alice's
container differs: notes.txt has one more line at each of t1, t2, t3 and live. The oracle for
"what is inside" is the same container read from the snapshot's copy on the server's disk.
"""

from __future__ import annotations

import pytest

from restore import smb
from restore.accounts.identity import token_for
from restore.directory.ldap import Directory
from restore.nt.access import can_read_file
from restore.nt.descriptors import parse_security_descriptor
from restore.smb import randomaccess
from restore.versions import containers
from restore.versions.containers import remote
from tests.support import people

pytestmark = [pytest.mark.samba, pytest.mark.containers]

SHARE = "fslogix"
NOTES = "Profile\\Documents\\notes.txt"
LINES = ["Notes\n", "- call the bank\n", "- book the venue\n", "- send invoices\n", "- lunch\n"]


def as_user(testenv, who: str) -> smb.Client:
    return people.client(testenv, who)


def folder_of(svc: smb.Client, who: str) -> str:
    (name,) = [e.name for e in svc.list_dir(SHARE, "") if e.name.endswith("_" + who)]
    return name


def profile_of(svc: smb.Client, who: str, name: str | None = None) -> str:
    return f"{folder_of(svc, who)}\\{name or f'Profile_{who}.vhdx'}"


def oldest_three(svc: smb.Client, path: str) -> list[smb.Snapshot]:
    snapshots = sorted(svc.enumerate_snapshots(SHARE, path))
    assert len(snapshots) >= 3, f"the fslogix share should have 3 snapshots of {path}: {snapshots}"
    return snapshots[:3]


def test_alices_container_is_read_in_each_snapshot_and_live_and_its_contents_differ(svc, testenv):
    path = profile_of(svc, "alice")
    ats = [snap.at for snap in oldest_three(svc, path)] + [None]
    for lines, at in zip((2, 3, 4, 5), ats):
        with randomaccess.open_file(svc, SHARE, path, at) as fh, containers.open_container(fh, name=path) as c:
            expected = "".join(LINES[:lines])
            assert c.read(NOTES).decode() == expected, f"notes.txt in {path} at {at}"
    first, second = ats[0], ats[1]
    with randomaccess.open_file(svc, SHARE, path, first) as fh, containers.open_container(fh) as c:
        assert "Old Project" in {e.name for e in c.list_dir("Profile\\Documents")}  # deleted at t2
    with randomaccess.open_file(svc, SHARE, path, second) as fh, containers.open_container(fh) as c:
        assert "Old Project" not in {e.name for e in c.list_dir("Profile\\Documents")}


def test_what_smb_reads_is_what_the_snapshot_copy_on_the_server_holds(svc, testenv):
    path = profile_of(svc, "alice")
    snap = oldest_three(svc, path)[1]
    on_disk = testenv.snapdir(SHARE) / snap.token / path.replace("\\", "/")
    with open(on_disk, "rb") as local, containers.open_container(local) as expected, \
            randomaccess.open_file(svc, SHARE, path, snap.at) as fh, containers.open_container(fh) as c:
        assert c.list_dir("Profile\\Documents") == expected.list_dir("Profile\\Documents")
        assert c.read("Profile\\Documents\\report.docx") == expected.read("Profile\\Documents\\report.docx")


def test_listing_a_folder_over_smb_reads_a_small_part_of_the_container_in_few_requests(svc):
    path = profile_of(svc, "alice")
    snap = oldest_three(svc, path)[0]
    with randomaccess.open_file(svc, SHARE, path, snap.at) as fh, containers.open_container(fh) as c:
        opened = (fh.requests, fh.bytes_fetched)
        c.list_dir("Profile\\AppData\\Roaming\\Microsoft\\Signatures")
        listed = (fh.requests - opened[0], fh.bytes_fetched - opened[1])
        assert fh.bytes_fetched < fh.size / 10, f"read {fh.bytes_fetched} of {fh.size} bytes"
        assert opened[0] <= 40 and listed[0] <= 10, f"requests: open {opened[0]}, list {listed[0]}"
        before = fh.requests
        c.list_dir("Profile\\AppData\\Roaming\\Microsoft\\Signatures")  # again: from the block cache
        assert fh.requests == before


def test_the_ntfs_acl_inside_an_old_snapshot_decides_with_alices_and_bobs_real_tokens(svc):
    with Directory() as directory:
        alice = token_for(directory, directory.user_by_username("alice"))
        bob = token_for(directory, directory.user_by_username("bob"))
    path = profile_of(svc, "alice")
    with randomaccess.open_file(svc, SHARE, path, oldest_three(svc, path)[0].at) as fh, \
            containers.open_container(fh) as c:
        entries = {e.name: e for e in c.list_dir("Profile\\Documents")}
    private = parse_security_descriptor(entries["for-bob-only.txt"].security_descriptor)
    notes = parse_security_descriptor(entries["notes.txt"].security_descriptor)
    assert private.owner == alice.user_sid == notes.owner
    assert can_read_file(private, bob) and not can_read_file(private, alice)
    assert can_read_file(notes, alice) and not can_read_file(notes, bob)


def test_bob_cannot_open_alices_container_but_alice_can_in_a_snapshot(svc, testenv):
    path = profile_of(svc, "alice")
    at = oldest_three(svc, path)[0].at
    with pytest.raises(smb.AccessDenied):
        randomaccess.open_file(as_user(testenv, "bob"), SHARE, path, at)
    with randomaccess.open_file(as_user(testenv, "alice"), SHARE, path, at) as fh, containers.open_container(fh) as c:
        assert c.read(NOTES).decode() == "".join(LINES[:2])


def test_a_differencing_container_finds_its_parent_in_the_same_snapshot(svc):
    path = profile_of(svc, "carol", "RW.vhdx")
    first, second, _ = oldest_three(svc, path)
    texts = ("carol's notes, edited in this session\n", "carol's notes, second session\n")
    for at, text in zip((first.at, second.at), texts):
        parent = remote.sibling_opener(svc, SHARE, path, at)
        with randomaccess.open_file(svc, SHARE, path, at) as fh, \
                containers.open_container(fh, name=path, open_parent=parent) as c:
            assert c.read("Profile\\Documents\\carol-notes.txt").decode() == text
            assert len(c.read("Profile\\NTUSER.DAT")) == 32_000  # unchanged: read from the parent


def test_the_sibling_opener_stays_in_the_share_and_says_when_a_parent_is_missing(svc):
    path = profile_of(svc, "carol", "RW.vhdx")
    opener = remote.sibling_opener(svc, SHARE, path, oldest_three(svc, path)[0].at)
    with pytest.raises(ValueError, match="outside the share"):
        opener("..\\..\\Profile_carol.vhdx")
    with pytest.raises(ValueError):
        opener(".\\@GMT-2020.01.01-00.00.00\\x.vhdx")
    with pytest.raises(FileNotFoundError):
        opener(".\\Profile_nobody.vhdx")
    with opener(".\\Profile_carol.vhdx") as fh:
        assert fh.read(8) == b"vhdxfile"


@pytest.mark.parametrize("who, error", [
    ("helpdesk1", containers.ContainerEncrypted),
    ("auditor1", containers.NotNtfs),
    ("admin1", containers.ContainerCorrupt),
])
def test_containers_that_cannot_be_read_say_why_over_smb_too(svc, who, error):
    path = profile_of(svc, who)
    with randomaccess.open_file(svc, SHARE, path, oldest_three(svc, path)[0].at) as fh, pytest.raises(error):
        containers.open_container(fh, name=path)


def test_a_read_after_the_connection_dropped_reopens_the_file_and_goes_on(svc):
    path = profile_of(svc, "alice")
    at = oldest_three(svc, path)[0].at
    opened = []

    def opener():
        opened.append(svc.open_read(SHARE, path, at))
        return opened[-1]

    with randomaccess.RandomAccessFile(opener, cache_bytes=64 * 1024) as fh:
        head = fh.read(8)
        smb.reset_pool()  # every pooled connection closed under the open handle
        fh.seek(fh.size - 4096)
        tail = fh.read(4096)
        assert head == b"vhdxfile" and len(tail) == 4096
        assert fh.requests == 2 and len(opened) == 2


def test_random_access_reads_match_the_file_at_any_offset_and_stop_at_its_end(svc, testenv):
    path = profile_of(svc, "bob")
    snap = oldest_three(svc, path)[0]
    data = (testenv.snapdir(SHARE) / snap.token / path.replace("\\", "/")).read_bytes()
    with randomaccess.open_file(svc, SHARE, path, snap.at, block_size=4096, cache_bytes=64 * 1024) as fh:
        for offset, length in ((0, 1), (4095, 2), (70_000, 200_000), (len(data) - 10, 100), (len(data) + 5, 10)):
            fh.seek(offset)
            assert fh.read(length) == data[offset:offset + length], (offset, length)
        fh.seek(-3, 2)
        assert fh.read() == data[-3:] and fh.tell() == len(data)
        with pytest.raises(OSError):
            fh.seek(-1)
