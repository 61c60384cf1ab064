"""Roots that are FSLogix profile containers (kinds ``profile-container`` and ``office-container``):
where a person's container lies, which file it is in a given snapshot, and the client the rest of
the app reads such a root through.

A container root's UNC names the container file (``\\\\srv\\fslogix\\<SID>_<user>\\Profile_<user>.vhdx``);
paths below the root are paths below the container's top folder (``Profile`` or ``ODFC``), so a
container root looks like a roaming profile root. Reading one is
:mod:`restore.versions.container_client`'s. Containers are never written.
"""

from __future__ import annotations

import re

from restore.smb.errors import SmbError
from restore.versions.paths import Unc
from restore.versions.roots import BadRequest, Root, location

# kind -> (the container's top folder, FSLogix's default file name prefix)
CONTAINER_KINDS = {"profile-container": ("Profile", "Profile"), "office-container": ("ODFC", "ODFC")}

RULE_KINDS = {"profile-container": ("profile-container", "profile")}  # related-file rules of roaming profiles apply

NEVER_WRITTEN = ("restored as a copy: the profile container is never written, so restoring in place is not "
                 "offered (it is locked while its owner is signed in)")

IN_PLACE_REFUSED = ("a profile container is never written: it is in use (locked) while its owner is signed "
                    "in, and a changed container can break the profile; restore into one of your folders "
                    "(to_folder) or download a zip")

_SID_FOLDER = re.compile(r"^(S-1-[0-9-]+)_(.+)$", re.I)
_FLIPPED_FOLDER = re.compile(r"^(.+)_(S-1-[0-9-]+)$", re.I)


def is_container(root: Root | None) -> bool:
    return root is not None and root.kind in CONTAINER_KINDS


def top_folder(root: Root) -> str:
    return CONTAINER_KINDS[root.kind][0]


def rule_kinds(kind: str) -> tuple[str, ...]:
    """The root kinds whose related-file rules apply in a root of this kind."""
    return RULE_KINDS.get(kind, (kind,))


def fslogix_template(kind: str, template: str) -> str:
    """A USER_ROOTS template for a container kind may name only the share (or a folder of it): FSLogix's
    default layout is appended, ``%SID%_%USERNAME%\\Profile_%USERNAME%.vhdx`` (``ODFC_...`` for Office)."""
    if kind not in CONTAINER_KINDS or template.lower().endswith((".vhd", ".vhdx")):
        return template
    prefix = CONTAINER_KINDS[kind][1]
    return template.rstrip("\\") + f"\\%SID%_%USERNAME%\\{prefix}_%USERNAME%.vhdx"


def candidates(path: str, kind: str = "profile-container") -> list[str]:
    """Where FSLogix may have put the container named by ``path`` (share-relative), first found wins:
    for a profile, the session's differencing disk ``RW.vhdx`` beside it (it holds the changes not yet
    merged, read with its parent); the name as configured, the other disk format (.vhdx / .vhd); all
    of it also in the flip-flop folder (``%USERNAME%_%SID%`` instead of ``%SID%_%USERNAME%``, or back)."""
    folder, _, name = path.rpartition("\\")
    stem, dot, ext = name.rpartition(".")
    names = [name]
    if dot and ext.lower() in ("vhdx", "vhd"):
        names.append(f"{stem}.{'vhd' if ext.lower() == 'vhdx' else 'vhdx'}")
    *above, last = folder.split("\\") if folder else [""]
    folders = [folder]
    for pattern in (_SID_FOLDER, _FLIPPED_FOLDER):
        found = pattern.match(last)
        if found:
            folders.append("\\".join([*above, f"{found.group(2)}_{found.group(1)}"]))
            break
    if kind == "profile-container":
        names.insert(0, "RW.vhdx")
    return [f"{f}\\{n}" if f else n for f in folders for n in names]


def snapshot_base(root: Root) -> Unc:
    """Where to ask for a root's snapshots: a container root's share (the container file may be
    named differently in some snapshots, or missing live)."""
    base = location(root)
    return Unc(base.server, base.share) if is_container(root) else base



_WHAT_TO_DO = {
    "encrypted": "it is encrypted with BitLocker, which the portal cannot open; ask the helpdesk",
    "corrupt": "it is damaged in this snapshot; choose an older snapshot or ask the helpdesk",
    "not-ntfs": "its disk holds no NTFS file system, so it is not a Windows profile",
    "parent-missing": "it is a differencing disk whose parent disk is not in this snapshot; choose another snapshot",
    "unsupported": "it is a kind of virtual disk the portal cannot read; ask the helpdesk",
    "not-a-container": "the file is not a VHD or VHDX disk",
}


class ContainerUnreadable(BadRequest, SmbError):
    """A profile container that cannot be read as a whole (at that snapshot, or live). A clear 400 in
    pages and the API (BadRequest), an item failure in the worker (SmbError); ``reason`` is the
    reader's word for it (encrypted, corrupt, not-ntfs, parent-missing, unsupported,
    not-a-container) or ``in-use``."""

    def __init__(self, reason: str, why: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        self.status = self.status_name = self.path = None
        ValueError.__init__(self, f"This profile container cannot be read: {why}.")

    @classmethod
    def of(cls, exc) -> ContainerUnreadable:
        """From a reader's ContainerError (restore.versions.containers)."""
        reason = getattr(exc, "reason", "unreadable")
        return cls(reason, _WHAT_TO_DO.get(reason, "ask the helpdesk"), str(exc))
