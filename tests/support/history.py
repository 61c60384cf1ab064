"""The sample shares' history as the tests read it: alice's two roots, the snapshots T1 < T2 < T3 of
scripts/testenv_files.py, the files behind them on the server's disk (the oracle), and the
related-file cases that history was built for.

Each snapshot is a directory named by its @GMT token in the share's snapdir; tests may add newer
snapshots, so the fixture history is always the oldest three.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from restore import smb

SHARE_OF = {"profile": "profiles", "data": "data"}
FOLDER_OF = {"profile": "alice.V6", "data": "alice"}  # the roots' folders in their shares
T1, T2, T3 = 0, 1, 2

FF = "AppData/Roaming/Mozilla/Firefox/Profiles/k3x9.default-release"
CHROME = "AppData/Local/Google/Chrome/User Data/Default"
EDGE = "AppData/Local/Microsoft/Edge/User Data/Default"
SIG = "AppData/Roaming/Microsoft/Signatures"
MS = "AppData/Roaming/Microsoft"
NPP = "AppData/Roaming/Notepad++"
CODE = "AppData/Roaming/Code/User"
STICKY = "AppData/Local/Packages/Microsoft.MicrosoftStickyNotes_8wekyb3d8bbwe/LocalState"


@dataclass(frozen=True)
class Case:
    rule: str
    root: str
    path: str
    generation: int  # T1, T2 or T3
    pulled: tuple[str, ...]  # what this rule must pull (keys: '/' paths, ':stream' for streams)


CASES = [  # one per built-in related-file rule, on the file the sample history made for it
    Case("firefox-profile", "profile", f"{FF}/places.sqlite", T2, (f"{FF}/favicons.sqlite", f"{FF}/prefs.js")),
    Case("chrome-profile", "profile", f"{CHROME}/Bookmarks", T1, (f"{CHROME}/Bookmarks.bak", f"{CHROME}/Preferences")),
    Case("edge-profile", "profile", f"{EDGE}/Preferences", T3, (f"{EDGE}/Bookmarks", f"{EDGE}/Bookmarks.bak")),
    Case("outlook-signature", "profile", f"{SIG}/Work.htm", T2, (f"{SIG}/Work.rtf", f"{SIG}/Work.txt", f"{SIG}/Work_files")),
    Case("office-user-settings", "profile", f"{MS}/UProof/CUSTOM.DIC", T1, (f"{MS}/Templates/Normal.dotm",)),
    Case("notepad-plus-plus", "profile", f"{NPP}/config.xml", T1, (f"{NPP}/session.xml", f"{NPP}/shortcuts.xml")),
    Case("vscode-user-settings", "profile", f"{CODE}/settings.json", T2, (f"{CODE}/keybindings.json", f"{CODE}/snippets")),
    Case("sticky-notes", "profile", f"{STICKY}/plum.sqlite", T1, (f"{STICKY}/plum.sqlite-wal", f"{STICKY}/plum.sqlite-shm")),
    Case("shapefile", "data", "Documents/GIS/parcels.shp", T1,
         tuple(f"Documents/GIS/parcels.{e}" for e in ("shx", "dbf", "prj", "cpg"))),
    Case("photo-sidecars", "data", "Pictures/IMG_0001.jpg", T3, ("Pictures/IMG_0001.xmp", "Pictures/IMG_0001.thm")),
    Case("sqlite-journal", "data", "Documents/ledger.sqlite", T2, ("Documents/ledger.sqlite-wal", "Documents/ledger.sqlite-shm")),
    Case("sqlite-database", "data", "Documents/ledger.sqlite-wal", T2, ("Documents/ledger.sqlite",)),
    Case("folder-desktop-ini", "data", "Desktop/todo.txt", T1, ("Desktop/desktop.ini",)),
    Case("alternate-data-streams", "data", "Documents/setup.pdf", T2, ("Documents/setup.pdf:Zone.Identifier",)),
]


def generation(testenv, root: str, n: int) -> smb.Snapshot:
    """T1, T2, T3 of the fixture history: the three oldest snapshots (tests may add newer ones)."""
    tokens = sorted(p.name for p in testenv.snapdir(SHARE_OF[root]).iterdir() if p.name.startswith("@GMT-"))
    return smb.Snapshot.from_token(tokens[n])


def on_disk(testenv, root: str, path: str, snapshot: smb.Snapshot | None) -> Path:
    """alice's file behind the share: in that snapshot's directory, or live with ``None``."""
    share = SHARE_OF[root]
    base = testenv.share_path(share) if snapshot is None else testenv.snapdir(share) / snapshot.token
    return base / FOLDER_OF[root] / path.replace("\\", "/")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stream_bytes(p: Path, name: str) -> bytes:
    """vfs_streams_xattr keeps a stream in a user.DosStream xattr, with a trailing NUL."""
    return os.getxattr(p, f"user.DosStream.{name}:$DATA").rstrip(b"\0")


def top_of(target: str, source: str) -> str:
    """The first component that differs from the source: the new "(restored ...)" folder or file."""
    t, s = target.split("\\"), source.replace("/", "\\").split("\\")
    n = next(i for i, (a, b) in enumerate(zip(t, s)) if a != b)
    assert "(restored " in t[n], f"refusing to clean up {t[:n + 1]}: not a restored copy"
    return "\\".join(t[:n + 1])
