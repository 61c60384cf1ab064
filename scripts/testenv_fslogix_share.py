"""The test domain's ``fslogix`` share: FSLogix's folder ACLs, the sample containers written over SMB
as their owners, and a back-dated history of snapshots in which they differ.

Used by ``testenv_fslogix.py share ENVFILE`` (which ``scripts/testenv up`` runs after the other
shares are built). The share root carries the ACL Microsoft documents for FSLogix profile shares:
creator-owner full control on what a person creates, everyone in Domain Users may create their own
folder (this folder only, no read of others' folders), SYSTEM, Administrators and the portal's
service group full control. Each person's ``<SID>_<username>`` folder is created over SMB *as that
person*, so its owner and inherited ACL are Samba's own, as FSLogix's first sign-in would leave them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import smbclient
import testenv_files
from testenv_fslogix import GENERATIONS, folder_name

SHARE = "fslogix"
FULL = "0x1f01ff"
CREATE_FOLDERS = "0x1200ad"  # list, read EA, add subfolder, traverse, read attributes, read control, synchronize
USERS = ("alice", "bob", "carol", "helpdesk1", "auditor1", "admin1")


def root_sddl(svc: str, domain_users: str) -> str:
    """(smbcacls resolves the SDDL alias DU against the wrong domain on a Samba DC: the SID is spelled out.)"""
    return (f"O:BAG:{domain_users}D:P(A;OICI;{FULL};;;SY)(A;OICI;{FULL};;;BA)(A;OICI;{FULL};;;{svc})"
            f"(A;;{CREATE_FOLDERS};;;{domain_users})(A;OICIIO;{FULL};;;CO)")


def upload(files: testenv_files.Estate, who: str, local: Path, remote: str, gen: str) -> None:
    """Copy a container to the share as ``who`` (its owner, as FSLogix writes it), in 4 MiB pieces."""
    with open(local, "rb") as src, smbclient.open_file(files.unc(SHARE, remote), mode="wb",
                                                       **files.creds(who)) as dst:
        while piece := src.read(4 * 1024 * 1024):
            dst.write(piece)
    files.written.setdefault(gen, []).append(files.disk(SHARE, remote))


def snapshot(when: datetime) -> None:
    subprocess.run([str(testenv_files.REPO / "scripts" / "testenv"), "_take_snapshot", SHARE,
                    when.strftime("%Y-%m-%dT%H:%M:%SZ")], check=True, capture_output=True)


def build_share(envfile: str, estate_class, times: dict[str, datetime], size_mib: int) -> None:
    files = testenv_files.Estate(testenv_files.read_env(envfile))
    sids = {who: files.sids[who] for who in USERS}
    try:
        domain_users = sids["alice"].rsplit("-", 1)[0] + "-513"
        files.set_sddl(SHARE, "", root_sddl(files.sids["VDI Restore Service"], domain_users))
        for who in USERS:
            files.mkdir(who, SHARE, folder_name(who, sids[who]))
        with tempfile.TemporaryDirectory(prefix="fslogix-") as work:
            staging = Path(work) / "out"
            estate = estate_class(Path(work), sids, size_mib)
            for gen in GENERATIONS:
                for remote in estate.generation(gen, times[gen], staging):
                    who = remote.split("/", 1)[0].rsplit("_", 1)[1]
                    upload(files, who, staging / remote, remote, gen)
                files.backdate(gen, times[gen])
                if gen != "live":
                    snapshot(times[gen])
    finally:
        smbclient.reset_connection_cache()
    print(f"testenv: share {SHARE} built: containers for {', '.join(USERS)}, 3 snapshots", file=sys.stderr)
