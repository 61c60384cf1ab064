"""Sample FSLogix profile containers, made with standard tools, for the test domain and the tests.

A container is what FSLogix makes: a VHDX holding a GPT disk with one NTFS partition whose root has
a ``Profile`` folder (``ODFC`` for the Office container). Each one is built here the way an admin
could by hand: ``sgdisk`` (partition table), ``mkntfs`` (the file system), ``ntfs-3g`` (FUSE mount
to write the files, and the ``system.ntfs_acl`` xattr to give every object its NT security
descriptor), then ``qemu-img convert -O vhdx -o subformat=dynamic``. qemu cannot write a VHDX
differencing disk ("Backing file not supported"), so the differencing container is a dynamic VHDX
of the changed disk that :func:`make_differencing` turns into a child of its parent ([MS-VHDX]:
HasParent, a parent locator whose ``parent_linkage`` is the parent's DataWriteGuid, and every
block equal to the parent's marked NOT_PRESENT so it is read from the parent).

    testenv_fslogix.py containers OUTDIR [--generation t1|t2|t3|live] [--sid NAME=SID ...] [--size-mib N]
        the FSLogix folder tree as of one generation, into a local directory (the unit tests)
    testenv_fslogix.py share ENVFILE
        the test domain's ``fslogix`` share: SIDs from AD, containers written over SMB as their
        owners, three back-dated snapshots (21, 7 and 1 days ago) in which they differ, then live

Who gets what (folder ``<SID>_<username>``, as FSLogix names it):
  alice   Profile_alice.vhdx (changes in every generation, see ALICE_*) and ODFC_alice.vhdx
  bob     Profile_bob.vhdx
  carol   Profile_carol.vhdx (the parent, written at t1 only) and RW.vhdx, a differencing disk
          holding carol's later changes (FSLogix's diff disk; its parent is found beside it)
  helpdesk1  a container whose partition is BitLocker-encrypted (its boot sector says -FVE-FS-)
  auditor1   a container whose partition is ext4, not NTFS
  admin1     a corrupt container: a copy cut off after its first MiB
Must run as root (FUSE mount). Needs gdisk, ntfs-3g, qemu-utils (scripts/testenv installs them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from testenv_vhdx import MIB, assemble, make_differencing, run, to_vhdx  # noqa: E402

from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor  # noqa: E402

FULL = 0x1F01FF
OICI, INHERITED, PROTECTED, AUTO_INHERITED = 0x03, 0x10, 0x1000, 0x0400
SYSTEM, ADMINISTRATORS = "S-1-5-18", "S-1-5-32-544"
GENERATIONS = ("t1", "t2", "t3", "live")
# Fake domain SIDs for local builds (the share build reads the real ones from AD).
LOCAL_SIDS = {name: f"S-1-5-21-1111111111-2222222222-3333333333-{rid}" for name, rid in
              (("alice", 1104), ("bob", 1105), ("carol", 1106), ("helpdesk1", 1107), ("auditor1", 1108),
               ("admin1", 1110))}
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
SQLITE_HEADER = b"SQLite format 3\x00"


def folder_name(user: str, sid: str) -> str:
    return f"{sid}_{user}"


# --- security descriptors -------------------------------------------------------------------------

def sd(owner: str, grants: list[str], *, folder: bool, inherited: bool = True) -> bytes:
    """Owner, Domain Users as group, full control for ``grants`` (inheritable on folders)."""
    flags = (OICI if folder else 0) | (INHERITED if inherited else 0)
    group = owner.rsplit("-", 1)[0] + "-513" if owner.count("-") > 6 else SYSTEM
    control = AUTO_INHERITED | (0 if inherited else PROTECTED)
    return build_security_descriptor(SecurityDescriptor(
        owner=owner, group=group, dacl=tuple(Ace(0, flags, FULL, sid) for sid in grants), control=control))


# --- an NTFS partition written through ntfs-3g ----------------------------------------------------

class Volume:
    """A mounted NTFS partition image; paths are Windows-style relative paths ('Profile\\Documents')."""

    def __init__(self, mount: Path, owner: str):
        self.mount = mount
        self.owner = owner

    def _path(self, path: str) -> Path:
        return self.mount.joinpath(*path.split("\\"))

    def _acl(self, target: Path, value: bytes) -> None:
        os.setxattr(target, "system.ntfs_acl", value)

    def mkdir(self, path: str, when: datetime) -> None:
        parts = path.split("\\")
        for i in range(1, len(parts) + 1):
            target = self._path("\\".join(parts[:i]))
            if not target.is_dir():
                target.mkdir()
                top = i == 1
                self._acl(target, sd(self.owner, [self.owner, SYSTEM, ADMINISTRATORS], folder=True, inherited=not top))
                self._touch(target, when)

    def put(self, path: str, data: bytes | str, when: datetime, *, only: str | None = None,
            streams: dict[str, bytes] | None = None) -> None:
        """Write a file; ``only``: a SID that alone may open it (protected, not inherited)."""
        if "\\" in path:
            self.mkdir(path.rsplit("\\", 1)[0], when)
        target = self._path(path)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        for name, value in (streams or {}).items():  # ntfs-3g shows named $DATA streams as user.* xattrs
            os.setxattr(target, f"user.{name}", value)
        if only:
            self._acl(target, sd(self.owner, [only, SYSTEM], folder=False, inherited=False))
        else:
            self._acl(target, sd(self.owner, [self.owner, SYSTEM, ADMINISTRATORS], folder=False))
        self._touch(target, when)

    def _touch(self, target: Path, when: datetime) -> None:
        """The object and the folder it was written in carry ``when`` (not the time of the build)."""
        for path in (target, target.parent) if target.parent != self.mount else (target,):
            os.utime(path, (when.timestamp(), when.timestamp()))

    def remove(self, path: str, when: datetime) -> None:
        target = self._path(path)
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        if target.parent != self.mount:
            os.utime(target.parent, (when.timestamp(), when.timestamp()))


class Disk:
    """One container's disk: a sparse partition image kept between generations, assembled on demand
    into a GPT disk (partition at 1 MiB) and converted to a dynamic VHDX."""

    def __init__(self, work: Path, name: str, size_mib: int, owner: str, label: str = "Profile"):
        self.work = work
        self.name = name
        self.size_mib = size_mib
        self.owner = owner
        self.part = work / f"{name}.part"
        with open(self.part, "wb") as f:
            f.truncate((size_mib - 2) * MIB)
        run("mkntfs", "-q", "-F", "-Q", "-p", "2048", "-L", label, str(self.part))

    @contextmanager
    def mounted(self):
        mount = self.work / f"{self.name}.mnt"
        mount.mkdir(exist_ok=True)
        run("ntfs-3g", "-o", "streams_interface=xattr", str(self.part), str(mount))
        try:
            yield Volume(mount, self.owner)
        finally:
            run("fusermount", "-u", str(mount))

    def raw(self) -> Path:
        return assemble(self.part, self.work / f"{self.name}.raw", self.size_mib)

    def vhdx(self, out: Path) -> Path:
        return to_vhdx(self.raw(), out)


# --- failure containers --------------------------------------------------------------------------

def odd_container(work: Path, out: Path, kind: str, size_mib: int) -> Path:
    """``bitlocker``: the partition's boot sector says -FVE-FS-; ``ext4``: not NTFS; ``corrupt``: a
    valid container cut off after its first MiB."""
    part = work / f"{kind}.part"
    with open(part, "wb") as f:
        f.truncate((size_mib - 2) * MIB)
    if kind == "ext4":
        run("mkfs.ext4", "-q", "-F", str(part))
    else:
        run("mkntfs", "-q", "-F", "-Q", "-p", "2048", str(part))
    if kind == "bitlocker":  # what BitLocker leaves in a volume's boot sector: the -FVE-FS- OEM id
        with open(part, "r+b") as f:
            f.seek(3)
            f.write(b"-FVE-FS-")
            f.seek(512)
            f.write(os.urandom(64 * 1024))
    to_vhdx(assemble(part, work / f"{kind}.raw", size_mib), out)
    if kind == "corrupt":
        with open(out, "r+b") as f:
            f.truncate(MIB)
    return out


# --- the sample estate, generation by generation --------------------------------------------------

def sqlite_blob(rows: int) -> bytes:
    body = "".join(f"moz_places row {i} https://intranet.example.test/{i}\n" for i in range(rows)).encode()
    return SQLITE_HEADER + body


class Estate:
    def __init__(self, work: Path, sids: dict[str, str], size_mib: int):
        self.work = work
        self.sids = sids
        self.size_mib = size_mib
        self.disks = {
            "alice": Disk(work, "alice", size_mib, sids["alice"]),
            "alice-odfc": Disk(work, "alice-odfc", size_mib, sids["alice"], label="ODFC"),
            "bob": Disk(work, "bob", size_mib, sids["bob"]),
            "carol": Disk(work, "carol", size_mib, sids["carol"]),
        }
        self.carol_parent: Path | None = None

    def path(self, user: str, name: str) -> str:
        return f"{folder_name(user, self.sids[user])}/{name}"

    def generation(self, gen: str, when: datetime, out: Path) -> list[str]:
        """Apply ``gen``'s changes; write every container they touched under ``out``; return their paths."""
        changed = getattr(self, f"_{gen}")(when, out)
        for key, (user, name) in changed.items():
            self.disks[key].vhdx(out / self.path(user, name))
        return [self.path(user, name) for user, name in changed.values()] + self._extras(gen, out)

    def _extras(self, gen: str, out: Path) -> list[str]:
        made = []
        if gen == "t1":
            for user, kind in (("helpdesk1", "bitlocker"), ("auditor1", "ext4"), ("admin1", "corrupt")):
                made.append(self.path(user, f"Profile_{user}.vhdx"))
                odd_container(self.work, out / made[-1], kind, self.size_mib)
        if gen == "t1":  # carol's parent disk, written by _t1 before her later changes
            made.append(self.path("carol", "Profile_carol.vhdx"))
        if gen in ("t1", "t2"):  # carol's diff disk: her changes since the parent was written
            made.append(self.path("carol", "RW.vhdx"))
            make_differencing(out / self.path("carol", "Profile_carol.vhdx"), self.carol_parent,
                              self.disks["carol"].raw(), out / made[-1])
        return made

    def _t1(self, t: datetime, out: Path) -> dict:
        a, bob = self.sids["alice"], self.sids["bob"]
        with self.disks["alice"].mounted() as v:
            v.put("Profile\\Documents\\notes.txt", "Notes\n- call the bank\n", t)
            v.put("Profile\\Documents\\report.docx", os.urandom(18_000), t)
            v.put("Profile\\Documents\\Old Project\\plan.txt", "Plan: phase 1, phase 2.\n", t)
            v.put("Profile\\Documents\\for-bob-only.txt", "Only bob may read this.\n", t, only=bob)
            v.put("Profile\\Documents\\setup.pdf", b"%PDF-1.4\n" + os.urandom(4_000), t,
                  streams={"Zone.Identifier": b"[ZoneTransfer]\r\nZoneId=3\r\n"})
            v.put("Profile\\Desktop\\todo.txt", "- renew passport\n", t)
            v.put("Profile\\Pictures\\IMG_0001.jpg", JPEG, t)
            sig = "Profile\\AppData\\Roaming\\Microsoft\\Signatures"
            v.put(f"{sig}\\Work.htm", "<html><body>Alice Archer<br>Finance</body></html>\n", t)
            v.put(f"{sig}\\Work.rtf", r"{\rtf1 Alice Archer\par Finance}", t)
            v.put(f"{sig}\\Work.txt", "Alice Archer\nFinance\n", t)
            v.put(f"{sig}\\Work_files\\image001.png", os.urandom(800), t)
            v.put(f"{sig}\\Work_files\\filelist.xml", '<xml><o:File HRef="image001.png"/></xml>\n', t)
            ff = "Profile\\AppData\\Roaming\\Mozilla\\Firefox"
            v.put(f"{ff}\\profiles.ini", "[Profile0]\nName=default-release\nPath=Profiles/k3x9.default-release\n", t)
            v.put(f"{ff}\\Profiles\\k3x9.default-release\\places.sqlite", sqlite_blob(20), t)
            v.put(f"{ff}\\Profiles\\k3x9.default-release\\places.sqlite-wal", os.urandom(32_768), t)
            v.put(f"{ff}\\Profiles\\k3x9.default-release\\prefs.js", 'user_pref("browser.startup.page", 3);\n', t)
            v.put("Profile\\AppData\\Roaming\\Code\\User\\settings.json", '{"editor.fontSize": 14}\n', t)
            v.put("Profile\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat", os.urandom(8_192), t)
            v.put("Profile\\NTUSER.DAT", os.urandom(64_000), t)
            self._apps(v, t)
        with self.disks["alice-odfc"].mounted() as v:
            v.put("ODFC\\Outlook\\alice@corp.example.test.ost", os.urandom(200_000), t)
            v.put("ODFC\\OneNote\\16.0\\cache\\00000001.bin", os.urandom(4_096), t)
            v.put("ODFC\\OneNote\\16.0\\cache\\00000002.bin", os.urandom(4_096), t)
        with self.disks["bob"].mounted() as v:
            v.put("Profile\\Documents\\bob-notes.txt", "bob's notes\n", t)
            v.put("Profile\\AppData\\Roaming\\Microsoft\\Signatures\\Bob.htm", "<html>Bob Baker</html>\n", t)
            v.put("Profile\\NTUSER.DAT", os.urandom(32_000), t)
        with self.disks["carol"].mounted() as v:
            v.put("Profile\\Documents\\carol-notes.txt", "carol's notes\n", t)
            v.put("Profile\\NTUSER.DAT", os.urandom(32_000), t)
        self.carol_parent = assemble(self.disks["carol"].part, self.work / "carol-parent.raw", self.size_mib)
        to_vhdx(self.carol_parent, out / self.path("carol", "Profile_carol.vhdx"))
        with self.disks["carol"].mounted() as v:  # what the diff disk holds at t1
            v.put("Profile\\Documents\\carol-notes.txt", "carol's notes, edited in this session\n", t)
            v.put("Profile\\Desktop\\diff-only.txt", "written after the parent was sealed\n", t)
        return {"alice": ("alice", "Profile_alice.vhdx"), "alice-odfc": ("alice", "ODFC_alice.vhdx"),
                "bob": ("bob", "Profile_bob.vhdx")}

    @staticmethod
    def _apps(v: Volume, t: datetime) -> None:
        """What the related-file rules of issue 18 find inside a container (restore/related/related_rules.toml)."""
        roaming, local = "Profile\\AppData\\Roaming", "Profile\\AppData\\Local"
        tb = f"{roaming}\\Thunderbird\\Profiles\\q7r2.default-release"
        for name in ("prefs.js", "abook.sqlite", "logins.json", "key4.db", "cert9.db"):
            v.put(f"{tb}\\{name}", f"thunderbird {name}\n", t)
        teams = f"{local}\\Packages\\MSTeams_8wekyb3d8bbwe\\LocalCache\\Microsoft\\MSTeams"
        v.put(f"{teams}\\app_settings.json", '{"theme": "dark"}\n', t)
        v.put(f"{teams}\\Backgrounds\\Uploads\\beach.png", os.urandom(600), t)
        term = f"{local}\\Packages\\Microsoft.WindowsTerminal_8wekyb3d8bbwe\\LocalState"
        v.put(f"{term}\\settings.json", '{"defaultProfile": "pwsh"}\n', t)
        v.put(f"{term}\\state.json", '{"generatedProfiles": ["pwsh"]}\n', t)
        v.put("Profile\\Desktop\\Passwords.kdbx", os.urandom(3_000), t)
        v.put("Profile\\Desktop\\Passwords.keyx", "<KeyFile/>\n", t)
        jb = f"{roaming}\\JetBrains\\PyCharm2024.3"
        v.put(f"{jb}\\options\\editor.xml", "<application/>\n", t)
        v.put(f"{jb}\\keymaps\\Mine.xml", "<keymap/>\n", t)
        v.put(f"{jb}\\codestyles\\Team.xml", "<code_scheme/>\n", t)
        acro = f"{roaming}\\Adobe\\Acrobat\\DC"
        v.put(f"{acro}\\Security\\addressbook.acrodata", os.urandom(900), t)
        v.put(f"{acro}\\Stamps\\Approved.pdf", b"%PDF-1.4\n" + os.urandom(500), t)

    def _t2(self, t: datetime, out: Path) -> dict:
        with self.disks["alice"].mounted() as v:
            v.put("Profile\\Documents\\notes.txt", "Notes\n- call the bank\n- book the venue\n", t)
            v.remove("Profile\\Documents\\Old Project", t)
            v.put("Profile\\Documents\\meeting-minutes.txt", "Minutes of the planning meeting.\n", t)
            ffp = "Profile\\AppData\\Roaming\\Mozilla\\Firefox\\Profiles\\k3x9.default-release"
            v.put(f"{ffp}\\places.sqlite", sqlite_blob(35), t)
            v.put(f"{ffp}\\places.sqlite-wal", os.urandom(65_536), t)
        with self.disks["carol"].mounted() as v:
            v.put("Profile\\Documents\\carol-notes.txt", "carol's notes, second session\n", t)
        return {"alice": ("alice", "Profile_alice.vhdx")}

    def _t3(self, t: datetime, out: Path) -> dict:
        with self.disks["alice"].mounted() as v:
            v.put("Profile\\Documents\\notes.txt", "Notes\n- call the bank\n- book the venue\n- send invoices\n", t)
            v.remove("Profile\\Documents\\report.docx", t)
            v.put("Profile\\AppData\\Roaming\\Microsoft\\Signatures\\Work.htm",
                  "<html><body>Alice Archer<br>Head of Finance</body></html>\n", t)
        with self.disks["alice-odfc"].mounted() as v:
            v.put("ODFC\\Outlook\\alice@corp.example.test.ost", os.urandom(300_000), t)
        return {"alice": ("alice", "Profile_alice.vhdx"), "alice-odfc": ("alice", "ODFC_alice.vhdx")}

    def _live(self, t: datetime, out: Path) -> dict:
        with self.disks["alice"].mounted() as v:
            v.put("Profile\\Documents\\notes.txt",
                  "Notes\n- call the bank\n- book the venue\n- send invoices\n- lunch\n", t)
        return {"alice": ("alice", "Profile_alice.vhdx")}


def history(now: datetime | None = None) -> dict[str, datetime]:
    now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return {"t1": now - timedelta(days=21), "t2": now - timedelta(days=7), "t3": now - timedelta(days=1), "live": now}


def build_local(out: Path, sids: dict[str, str], until: str, size_mib: int) -> None:
    times = history()
    with tempfile.TemporaryDirectory(prefix="fslogix-") as work:
        estate = Estate(Path(work), sids, size_mib)
        for gen in GENERATIONS[:GENERATIONS.index(until) + 1]:
            estate.generation(gen, times[gen], out)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("containers", help="the FSLogix tree as of one generation, into OUTDIR")
    local.add_argument("outdir", type=Path)
    local.add_argument("--generation", choices=GENERATIONS, default="live")
    local.add_argument("--sid", action="append", default=[], metavar="NAME=SID")
    local.add_argument("--size-mib", type=int, default=1024)
    share = sub.add_parser("share", help="the test domain's fslogix share, with snapshots")
    share.add_argument("envfile")
    share.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args(argv)
    if args.command == "containers":
        sids = dict(LOCAL_SIDS, **dict(item.split("=", 1) for item in args.sid))
        build_local(args.outdir, sids, args.generation, args.size_mib)
        print(f"testenv_fslogix: containers as of {args.generation} in {args.outdir}", file=sys.stderr)
    else:
        from testenv_fslogix_share import build_share
        build_share(args.envfile, Estate, history(), args.size_mib)


if __name__ == "__main__":
    main(sys.argv[1:])
