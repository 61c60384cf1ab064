"""A folder of its own in the test domain's `scratch` share, with snapshots of its own.

Restore tests write live files and need snapshots they control; the `data` and `profiles`
fixtures are shared by every other test, so these tests work in `scratch\\<unique>` instead:
files are written over SMB as alice (so she owns them and the ACL is inherited the way Samba
does it), a snapshot is taken with scripts/testenv's `_take_snapshot`, the live tree is then
changed, and alice's Identity gets the folder as an extra root ("scratch").
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from restore import smb
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor
from tests.support import people

REPO = Path(__file__).resolve().parents[2]
SERVER = "127.0.0.1"
SHARE = "scratch"
FULL = 0x1F01FF
READ = 0x1200A9
OI_CI = 0x03
DACL_AND_OWNER = 0x1 | 0x4


def sid_of(testenv, name: str) -> str:
    with people.directory(testenv) as directory:
        if name == "VDI Restore Service":
            return directory.sid_of(f"CN={name},CN=Users,{testenv['TESTENV_BASE_DN']}")
        return directory.user_by_username(name).sid


class ScratchArea:
    """``scratch\\jobs-<hex>``: alice has full control; the service account too."""

    def __init__(self, testenv, prefix: str = "jobs"):
        self.testenv = testenv
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.svc = smb.client_for(SERVER)
        self.alice = people.client(testenv, "alice")  # her password, in the test domain's protocol
        self.sids = {n: sid_of(testenv, n) for n in ("alice", "bob", "VDI Restore Service")}
        self.snapshots: list[str] = []

    # --- the tree ------------------------------------------------------------------------------
    def path(self, rel: str = "") -> str:
        return "\\".join(p for p in (self.name, rel.replace("/", "\\")) if p)

    def disk(self, rel: str = "", token: str | None = None) -> Path:
        base = self.testenv.share_path(SHARE) if token is None else self.testenv.snapdir(SHARE) / token
        return base.joinpath(self.name, *[p for p in rel.replace("\\", "/").split("/") if p])

    def create(self) -> "ScratchArea":
        self.svc.mkdir(SHARE, self.name)
        self.set_acl("", {"alice": FULL})
        return self

    def set_acl(self, rel: str, rights: dict[str, int], owner: str = "alice") -> None:
        aces = [Ace(0x00, OI_CI, FULL, "S-1-5-18"), Ace(0x00, OI_CI, FULL, self.sids["VDI Restore Service"])]
        aces += [Ace(0x00, OI_CI, mask, self.sids[who]) for who, mask in rights.items()]
        sd = SecurityDescriptor(owner=self.sids[owner], group=None, dacl=tuple(aces), control=0x8004 | 0x1000)
        self.svc.set_security_descriptor(SHARE, self.path(rel), build_security_descriptor(sd), info=DACL_AND_OWNER)

    def mkdir(self, rel: str, client=None) -> None:
        (client or self.alice).mkdir(SHARE, self.path(rel))

    def write(self, rel: str, data: bytes, *, age: timedelta | None = None, client=None) -> None:
        client = client or self.alice
        with client.create_file(SHARE, self.path(rel), overwrite=True) as handle:
            handle.write(0, data)
        if age is not None:
            self.age(rel, age)

    def age(self, rel: str, age: timedelta) -> None:
        when = datetime.now(UTC).replace(microsecond=0) - age
        self.alice.set_times(SHARE, self.path(rel), created=when, last_write=when)

    def delete(self, rel: str) -> None:
        self.alice.delete(SHARE, self.path(rel))

    def snapshot(self, ago: str) -> str:
        token = subprocess.run([str(REPO / "scripts" / "testenv"), "_take_snapshot", SHARE, ago], check=True,
                               capture_output=True, text=True).stdout.split()[-1]
        self.snapshots.append(token)
        return token

    def live_names(self, rel: str = "") -> list[str]:
        return sorted(p.name for p in self.disk(rel).iterdir())

    # --- cleanup --------------------------------------------------------------------------------
    def remove(self) -> None:
        subprocess.run(["rm", "-rf", str(self.disk())], check=False)
        for token in self.snapshots:
            snap = self.testenv.snapdir(SHARE) / token
            subprocess.run(["chmod", "-R", "u+w", str(snap)], check=False)
            subprocess.run(["rm", "-rf", str(snap)], check=False)

    def root(self) -> dict:
        return {"id": "scratch", "kind": "data", "unc": f"\\\\{SERVER}\\{SHARE}\\{self.name}"}


def give_root(username: str, area: ScratchArea) -> None:
    """Add the area to a signed-in person's roots (as USER_ROOTS would for a real share)."""
    from restore.models import Identity

    ident = Identity.objects.get(username=username)
    ident.roots = [r for r in ident.roots if r["id"] != "scratch"] + [area.root()]
    ident.save(update_fields=["roots"])
