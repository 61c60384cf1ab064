"""The profile-container reader (restore/containers) on real containers made with standard tools.

The containers come from scripts/testenv_fslogix.py, built into a temporary directory the way an
admin could by hand (sgdisk, mkntfs, ntfs-3g with NT ACLs, qemu-img convert to a dynamic VHDX),
as of the second generation of the sample history (t2): alice's notes have their second text,
her "Old Project" folder is gone, carol's later changes live in a differencing disk beside her
parent container. The SIDs are the builder's fixed local ones (no directory needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from restore.nt.access import Token, can_read_file, network_logon_sids
from restore.nt.descriptors import parse_security_descriptor
from restore.versions import containers
from restore.versions.paths import PathError

pytestmark = [pytest.mark.containers]

REPO = Path(__file__).resolve().parents[3]
DOMAIN = "S-1-5-21-1111111111-2222222222-3333333333"
SIDS = {"alice": f"{DOMAIN}-1104", "bob": f"{DOMAIN}-1105", "carol": f"{DOMAIN}-1106"}
TOOLS = ("sgdisk", "mkntfs", "ntfs-3g", "fusermount", "qemu-img", "mkfs.ext4")


def token(who: str) -> Token:
    return Token(user_sid=SIDS[who], group_sids=frozenset({f"{DOMAIN}-513", *network_logon_sids()}))


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> Path:
    """The FSLogix folder tree as of t2 (about 4 s to build)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.fail(f"building sample containers needs root, /dev/fuse and {', '.join(missing) or 'the tools'}: "
                    "install them with scripts/testenv up (its package list has gdisk ntfs-3g qemu-utils)",
                    pytrace=False)
    out = tmp_path_factory.mktemp("fslogix")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "testenv_fslogix.py"), "containers", str(out),
                           "--generation", "t2", "--size-mib", "512"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def container_path(estate: Path, who: str, name: str | None = None) -> Path:
    sid = SIDS.get(who) or next(p.name.rsplit("_", 1)[0] for p in estate.iterdir() if p.name.endswith("_" + who))
    return estate / f"{sid}_{who}" / (name or f"Profile_{who}.vhdx")


def sibling_files(path: Path):
    def open_parent(relative: str):
        return open(path.parent.joinpath(*[p for p in relative.split("\\") if p not in ("", ".")]), "rb")
    return open_parent


@pytest.fixture
def alices_container(estate):
    with open(container_path(estate, "alice"), "rb") as fh, containers.open_container(fh, name="alice") as c:
        yield c


class CountingFile:
    """A file object that counts the bytes a reader asks for."""

    def __init__(self, path: Path):
        self._fh = open(path, "rb")
        self.bytes_read = 0

    def seek(self, *args):
        return self._fh.seek(*args)

    def tell(self):
        return self._fh.tell()

    def read(self, n=-1):
        data = self._fh.read(n)
        self.bytes_read += len(data)
        return data

    def close(self):
        self._fh.close()


# --- the sample containers are what FSLogix makes --------------------------------------------------

def test_the_sample_share_is_laid_out_like_fslogix_with_dynamic_vhdx_files_holding_gpt_and_ntfs(estate):
    alice_folder = container_path(estate, "alice").parent
    assert alice_folder.name == f"{SIDS['alice']}_alice"
    assert sorted(p.name for p in alice_folder.iterdir()) == ["ODFC_alice.vhdx", "Profile_alice.vhdx"]
    info = subprocess.run(["qemu-img", "info", "--output=json", str(container_path(estate, "alice"))],
                          capture_output=True, text=True, check=True).stdout
    assert '"format": "vhdx"' in info
    with open(container_path(estate, "alice"), "rb") as fh:
        assert fh.read(8) == b"vhdxfile"
    with open(container_path(estate, "alice"), "rb") as fh, containers.open_container(fh) as c:
        assert [e.name for e in c.list_dir("")] == ["Profile"]  # $MFT, $Secure... are not listed
    with open(container_path(estate, "alice", "ODFC_alice.vhdx"), "rb") as fh, containers.open_container(fh) as c:
        assert [e.name for e in c.list_dir("")] == ["ODFC"]


# --- listing, stat, reading ---------------------------------------------------------------------------

def test_a_folder_lists_its_files_with_size_times_and_the_owner_from_the_container(alices_container, estate):
    entries = {e.name: e for e in alices_container.list_dir("Profile\\Documents")}
    # t2: meeting minutes added, "Old Project" deleted, notes.txt rewritten
    assert sorted(entries) == ["for-bob-only.txt", "meeting-minutes.txt", "notes.txt", "report.docx", "setup.pdf"]
    notes = entries["notes.txt"]
    assert notes.size == len("Notes\n- call the bank\n- book the venue\n") and not notes.is_dir
    assert notes.last_write > entries["report.docx"].last_write  # rewritten at t2, report written at t1
    assert notes.last_write.tzinfo is not None
    assert parse_security_descriptor(notes.security_descriptor).owner == SIDS["alice"]
    documents = alices_container.stat("Profile\\Documents")
    assert documents.is_dir and documents.attributes & 0x10


def test_the_ntfs_acl_inside_decides_a_file_granted_only_to_bob_is_readable_by_bob_not_by_alice(alices_container):
    private = parse_security_descriptor(alices_container.security_descriptor("Profile\\Documents\\for-bob-only.txt"))
    notes = parse_security_descriptor(alices_container.security_descriptor("Profile\\Documents\\notes.txt"))
    assert private.owner == SIDS["alice"]
    assert can_read_file(private, token("bob")) and not can_read_file(private, token("alice"))
    assert can_read_file(notes, token("alice")) and not can_read_file(notes, token("bob"))


def test_a_file_is_read_in_chunks_and_its_bytes_are_the_ones_written(alices_container):
    assert alices_container.read("Profile\\Documents\\notes.txt") == b"Notes\n- call the bank\n- book the venue\n"
    chunks = list(alices_container.iter_chunks("Profile\\Documents\\report.docx", chunk_size=5000))
    assert [len(c) for c in chunks] == [5000, 5000, 5000, 3000]
    assert b"".join(chunks) == alices_container.read("Profile\\Documents\\report.docx")


def test_alternate_data_streams_are_listed_and_read(alices_container):
    assert alices_container.list_streams("Profile\\Documents\\setup.pdf") == [("Zone.Identifier", 26)]
    zone = alices_container.read("Profile\\Documents\\setup.pdf", stream="Zone.Identifier")
    assert zone.startswith(b"[ZoneTransfer]")
    assert alices_container.list_streams("Profile\\Documents\\notes.txt") == []
    with pytest.raises(containers.NotFound):
        alices_container.read("Profile\\Documents\\notes.txt", stream="Zone.Identifier")


def test_app_settings_live_where_the_related_file_rules_expect_them(alices_container):
    signatures = {e.name for e in alices_container.list_dir("Profile\\AppData\\Roaming\\Microsoft\\Signatures")}
    assert signatures == {"Work.htm", "Work.rtf", "Work.txt", "Work_files"}
    firefox = "Profile\\AppData\\Roaming\\Mozilla\\Firefox\\Profiles\\k3x9.default-release"
    assert {"places.sqlite", "places.sqlite-wal", "prefs.js"} <= {e.name for e in alices_container.list_dir(firefox)}
    assert alices_container.read(firefox + "\\places.sqlite").startswith(b"SQLite format 3\x00")


def test_names_are_found_case_insensitively_as_on_windows(alices_container):
    notes = alices_container.read("Profile\\Documents\\notes.txt")
    assert alices_container.read("profile\\DOCUMENTS\\Notes.TXT") == notes


@pytest.mark.parametrize("path, error", [
    ("Profile\\Documents\\Old Project", containers.NotFound),  # deleted at t2
    ("Profile\\Documents\\notes.txt\\x", containers.NotADirectory),
    ("$MFT", containers.NotFound),  # the volume's own files are not reachable
    ("$Secure", containers.NotFound),
])
def test_what_is_not_there_or_not_a_folder_is_refused_clearly(alices_container, path, error):
    with pytest.raises(error):
        alices_container.list_dir(path)


@pytest.mark.parametrize("path", ["..\\..\\x", "Profile\\..\\..", "C:\\Windows", "Profile\\a:b", "\\\\srv\\share"])
def test_paths_that_leave_the_volume_or_smuggle_syntax_are_rejected(alices_container, path):
    with pytest.raises(PathError):
        alices_container.stat(path)


def test_a_folder_cannot_be_read_as_a_file(alices_container):
    with pytest.raises(containers.IsADirectory):
        alices_container.read("Profile\\Documents")


def test_listing_a_folder_reads_its_metadata_only_not_the_whole_container(estate):
    path = container_path(estate, "alice")
    fh = CountingFile(path)
    with containers.open_container(fh) as c:
        opened = fh.bytes_read
        c.list_dir("Profile\\Documents")
        listed = fh.bytes_read - opened
    fh.close()
    assert opened < 256 * 1024, f"opening read {opened} bytes"
    assert listed < 64 * 1024, f"listing one folder read {listed} bytes"
    assert fh.bytes_read < path.stat().st_size / 20


# --- differencing disks --------------------------------------------------------------------------------

def test_a_differencing_container_reads_its_own_changes_over_its_parents_files(estate):
    child = container_path(estate, "carol", "RW.vhdx")
    with open(child, "rb") as fh, containers.open_container(fh, open_parent=sibling_files(child)) as c:
        assert c.read("Profile\\Documents\\carol-notes.txt") == b"carol's notes, second session\n"
        assert [e.name for e in c.list_dir("Profile\\Desktop")] == ["diff-only.txt"]
        from_child = c.read("Profile\\NTUSER.DAT")  # unchanged since the parent: its blocks come from there
    with open(container_path(estate, "carol"), "rb") as fh, containers.open_container(fh) as parent:
        assert parent.read("Profile\\NTUSER.DAT") == from_child
        assert parent.read("Profile\\Documents\\carol-notes.txt") == b"carol's notes\n"
        assert "Desktop" not in {e.name for e in parent.list_dir("Profile")}


def test_a_differencing_container_without_its_parent_or_with_another_disk_says_so(estate):
    child = container_path(estate, "carol", "RW.vhdx")

    def missing(relative):
        raise FileNotFoundError(relative)

    def bobs(relative):
        return open(container_path(estate, "bob"), "rb")

    for open_parent, words in ((None, "was not given"), (missing, "is not there"), (bobs, "has changed")):
        with open(child, "rb") as fh, pytest.raises(containers.ParentMissing, match=words) as caught:
            containers.open_container(fh, name="RW.vhdx", open_parent=open_parent)
        assert caught.value.reason == "parent-missing"


# --- containers that cannot be read ----------------------------------------------------------------------

@pytest.mark.parametrize("who, error, reason", [
    ("helpdesk1", containers.ContainerEncrypted, "encrypted"),
    ("auditor1", containers.NotNtfs, "not-ntfs"),
    ("admin1", containers.ContainerCorrupt, "corrupt"),
])
def test_encrypted_not_ntfs_and_corrupt_containers_fail_with_their_reason(estate, who, error, reason):
    path = container_path(estate, who)
    with open(path, "rb") as fh, pytest.raises(error) as caught:
        containers.open_container(fh, name=path.name)
    assert caught.value.reason == reason and path.name in str(caught.value)


def test_a_file_that_is_not_a_container_is_refused(tmp_path):
    junk = tmp_path / "Profile_x.vhdx"
    junk.write_bytes(os.urandom(70_000))
    with open(junk, "rb") as fh, pytest.raises(containers.NotAContainer):
        containers.open_container(fh)


def test_a_vhdx_with_damaged_headers_is_corrupt(estate, tmp_path):
    damaged = tmp_path / "Profile_alice.vhdx"
    shutil.copyfile(container_path(estate, "alice"), damaged)
    with open(damaged, "r+b") as fh:
        fh.seek(64 * 1024)
        fh.write(os.urandom(3 * 64 * 1024))  # both headers and the region table
    with open(damaged, "rb") as fh, pytest.raises(containers.ContainerCorrupt):
        containers.open_container(fh)


def test_a_vhd_container_reads_like_the_vhdx_it_was_converted_from(estate, tmp_path):
    vhd = tmp_path / "Profile_bob.vhd"
    subprocess.run(["qemu-img", "convert", "-f", "vhdx", "-O", "vpc", "-o", "subformat=dynamic",
                    str(container_path(estate, "bob")), str(vhd)], check=True, capture_output=True)
    with open(vhd, "rb") as fh, containers.open_container(fh) as c:
        assert c.read("Profile\\Documents\\bob-notes.txt") == b"bob's notes\n"
