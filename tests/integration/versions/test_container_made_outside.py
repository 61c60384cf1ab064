"""A container the fixtures did not make: built here with the standard tools (sgdisk, mkntfs, ntfs-3g,
qemu-img) for bob, put into the fslogix share over SMB *as bob* under FSLogix's flip-flop folder name
(``%USERNAME%_%SID%``, so the folder's ACL is what the share root gives its creator), changed
between two snapshots, then browsed and read as of each through the portal, with the NTFS ACL set
inside deciding."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from restore import smb
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor
from restore.versions.container_client import forget_all
from tests.support import people

pytestmark = [pytest.mark.django_db, pytest.mark.samba, pytest.mark.containers]

MIB = 1024 * 1024
SYSTEM = "S-1-5-18"
FULL_CONTROL = 0x1F01FF
OICI = 0x3


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def build(work: Path, owner: str, files: dict[str, bytes], *, alien: str) -> Path:
    """A 64 MiB GPT disk with one NTFS partition at 1 MiB holding ``files`` (under Profile\\, owner
    ``owner`` with full control; ``secret.txt`` only for ``alien``), as a dynamic VHDX."""
    part, raw, mnt = work / "p.img", work / "d.raw", work / "mnt"
    for path, size in ((part, 60 * MIB), (raw, 64 * MIB)):
        with open(path, "wb") as f:
            f.truncate(size)
    run("mkntfs", "-q", "-F", "-Q", "-p", "2048", "-L", "Profile", str(part))
    mnt.mkdir(exist_ok=True)
    run("ntfs-3g", str(part), str(mnt))
    try:
        def acl(target: Path, sids: list[str], flags: int) -> None:
            sd = SecurityDescriptor(owner=owner, group=SYSTEM,
                                    dacl=tuple(Ace(0, flags, FULL_CONTROL, s) for s in sids))
            os.setxattr(target, "system.ntfs_acl", build_security_descriptor(sd))

        for rel, data in files.items():
            target = mnt.joinpath("Profile", *rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            acl(target, [alien, SYSTEM] if target.name == "secret.txt" else [owner, SYSTEM], 0)
        for folder in sorted({p for p in mnt.rglob("*") if p.is_dir()} | {mnt / "Profile"}):
            acl(folder, [owner, SYSTEM], OICI)
    finally:
        run("fusermount", "-u", str(mnt))
    run("sgdisk", "-n", "1:2048:+60M", "-t", "1:0700", str(raw))
    run("dd", f"if={part}", f"of={raw}", "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none")
    out = work / "Profile_bob.vhdx"
    run("qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic", str(raw), str(out))
    return out


def upload(client: smb.Client, local: Path, remote: str) -> None:
    writer = client.create_file("fslogix", remote, overwrite=True)
    data = local.read_bytes()
    for offset in range(0, len(data), smb.MAX_CHUNK):
        writer.write(offset, data[offset:offset + smb.MAX_CHUNK])
    writer.close()


@pytest.fixture
def bobs_own(testenv, tmp_path, settings):
    """bob's flip-flop container in the share, two snapshots of it; all removed afterwards."""
    forget_all()
    from restore.accounts.identity import look_up

    bob, alice = look_up("bob"), look_up("alice")
    folder = f"bob_{bob.person.sid}"
    as_bob = people.client(testenv, "bob")
    as_bob.mkdir("fslogix", folder)
    tokens = []
    try:
        for n, text in enumerate((b"first draft\n", b"second draft, longer\n")):
            work = tmp_path / f"v{n}"
            work.mkdir()
            disk = build(work, bob.person.sid, {"Documents/Letters/letter.txt": text, "Documents/secret.txt": b"x\n",
                                                "Desktop/keep.txt": b"keep\n"}, alien=alice.person.sid)
            upload(as_bob, disk, f"{folder}\\Profile_bob.vhdx")
            tokens.append(testenv.snapshot("fslogix"))
            time.sleep(1.1)  # snapshot names have one-second resolution
        settings.USER_ROOTS += ";profile-container=\\\\127.0.0.1\\fslogix\\%USERNAME%_%SID%\\Profile_%USERNAME%.vhdx"
        yield tokens
    finally:
        shutil.rmtree(testenv.share_path("fslogix") / folder, ignore_errors=True)
        for token in tokens:
            snap = testenv.snapdir("fslogix") / token
            subprocess.run(["chmod", "-R", "u+w", str(snap)], check=False)
            shutil.rmtree(snap, ignore_errors=True)
        forget_all()


def test_a_container_made_with_standard_tools_is_browsed_and_read_as_of_each_snapshot(bobs_own, signed_in):
    bob = signed_in("bob")
    roots = {r["id"]: r for r in bob.get("/api/v1/roots").json()}
    (root,) = [i for i, r in roots.items() if r["kind"] == "profile-container" and "\\bob_S-1-" in r["unc"]]
    first, second = bobs_own
    for at, text in ((first, b"first draft\n"), (second, b"second draft, longer\n")):
        listing = bob.get(f"/api/v1/roots/{root}/entries", {"path": "Documents", "at": at})
        assert listing.status_code == 200, listing.content
        names = {e["name"] for e in listing.json()["entries"]}
        assert names == {"Letters"}, names  # secret.txt is granted to alice only, inside the container
        content = bob.get(f"/api/v1/roots/{root}/content", {"path": "Documents/Letters/letter.txt", "at": at})
        assert content.status_code == 200 and b"".join(content.streaming_content) == text
    rows = bob.get(f"/api/v1/roots/{root}/versions", {"path": "Documents/Letters/letter.txt"}).json()["versions"]
    assert [r["size"] for r in rows] == [len(b"second draft, longer\n"), len(b"first draft\n")]
    assert rows[0]["live"] and rows[0]["snapshots"] == [second] and rows[1]["snapshots"] == [first]
