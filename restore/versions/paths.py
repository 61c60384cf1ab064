"""Path normalisation and confinement.

Every path a person sends is relative to one of their roots. ``normalize`` either returns
the canonical form (components joined with ``\\``) or raises :class:`PathError` with a
message that says what is wrong; nothing that leaves the root or smuggles SMB/Windows
syntax (``..``, absolute and UNC paths, drive letters, ``@GMT-`` tokens, NUL and control
characters, ``:`` stream syntax, reserved device names, over-long names) gets through.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_COMPONENT = 255  # NTFS / SMB name limit, in characters
MAX_PATH = 2048  # characters below a root; far beyond real profiles, well within SMB's 32 KiB
MAX_DEPTH = 64

_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)(\..*)?$", re.I)
_GMT = re.compile(r"@gmt-", re.I)
_FORBIDDEN = set('<>:"|?*') | {chr(c) for c in range(32)} | {"\x7f"}


class PathError(ValueError):
    """A path that cannot be accepted; the message is safe to show to the person."""


def normalize(path: str | None) -> str:
    """Canonical relative path ('' for the root itself) or PathError."""
    if path is None or path in ("", "/", "\\"):
        return ""
    if not isinstance(path, str):
        raise PathError("path must be text")
    if "\x00" in path:
        raise PathError("path contains a NUL character")
    if len(path) > MAX_PATH:
        raise PathError(f"path is longer than {MAX_PATH} characters")
    if path.startswith(("\\\\", "//", "/\\", "\\/")):
        raise PathError("UNC paths are not accepted: give a path relative to the root")
    if re.match(r"^[A-Za-z]:", path):
        raise PathError("drive letters are not accepted: give a path relative to the root")
    if path[0] in "/\\":
        raise PathError("absolute paths are not accepted: give a path relative to the root")
    parts = re.split(r"[\\/]", path.rstrip("/\\"))
    if len(parts) > MAX_DEPTH:
        raise PathError(f"path is deeper than {MAX_DEPTH} folders")
    for part in parts:
        check_name(part)
    return "\\".join(parts)


def check_name(name: str) -> str:
    """One file or folder name; raises PathError naming the problem."""
    if name == "":
        raise PathError("path contains an empty component (doubled separator)")
    if name in (".", ".."):
        raise PathError(f"'{name}' is not accepted in a path")
    if len(name) > MAX_COMPONENT:
        raise PathError(f"a name is longer than {MAX_COMPONENT} characters")
    if _GMT.search(name):
        raise PathError("@GMT- snapshot tokens are not accepted in paths: use the 'at' parameter")
    if ":" in name:
        raise PathError("':' (alternate data stream syntax) is not accepted in names")
    bad = sorted(set(name) & _FORBIDDEN)
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise PathError(f"a name contains characters Windows does not allow: {shown}")
    if name.endswith((" ", ".")):
        raise PathError("a name may not end with a space or a dot")
    if _DEVICE.match(name):
        raise PathError(f"'{name}' is a reserved device name")
    return name


def join(*parts: str) -> str:
    return "\\".join(p for p in parts if p)


def parent(path: str) -> str:
    return path.rpartition("\\")[0]


def name_of(path: str) -> str:
    return path.rpartition("\\")[2]


@dataclass(frozen=True)
class Unc:
    """\\\\server\\share\\path, split and validated."""

    server: str
    share: str
    path: str = ""  # below the share, canonical

    def __str__(self) -> str:
        return "\\\\" + join(self.server, self.share, self.path)

    def child(self, relative: str) -> "Unc":
        return Unc(self.server, self.share, join(self.path, relative))


_SERVER = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$|^\[[0-9A-Fa-f:]+\]$")


def parse_unc(unc: str) -> Unc:
    if not isinstance(unc, str) or not unc.startswith("\\\\"):
        raise PathError(f"{unc!r} is not a UNC path (\\\\server\\share\\...)")
    server, _, rest = unc[2:].replace("/", "\\").partition("\\")
    share, _, path = rest.partition("\\")
    if not _SERVER.match(server):
        raise PathError(f"{server!r} is not a valid server name")
    if not share or share.endswith("$") and share.upper() in ("IPC$", "ADMIN$"):
        raise PathError(f"{unc!r} names no usable share")
    check_name(share)
    return Unc(server.lower(), share, normalize(path) if path else "")


def path_key(path: str) -> str:
    return hashlib.sha1(path.lower().encode("utf-8", "surrogatepass")).hexdigest()
