"""Containers inside a snapshot: a differencing disk's parent resolved in the same share and snapshot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from restore.smb import errors
from restore.smb.randomaccess import RandomAccessFile, open_file
from restore.versions.paths import PathError, normalize


def sibling_opener(client, share: str, path: str, at: datetime | None = None,
                   **options) -> Callable[[str], RandomAccessFile]:
    """An ``open_parent`` for :func:`restore.versions.containers.open_container`: opens a path given relative to
    ``path``'s folder (``.\\Profile_x.vhdx``, ``..\\other\\y.vhdx``) on the same share, in the same
    snapshot. A path that leaves the share raises ValueError; a missing file FileNotFoundError."""
    folder = path.replace("/", "\\").rpartition("\\")[0]

    def open_sibling(relative: str) -> RandomAccessFile:
        parts = [p for p in folder.split("\\") if p]
        for part in relative.replace("/", "\\").split("\\"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise ValueError(f"{relative} points outside the share")
                parts.pop()
            else:
                parts.append(part)
        try:
            target = normalize("\\".join(parts))
        except PathError as exc:
            raise ValueError(f"{relative}: {exc}") from exc
        try:
            return open_file(client, share, target, at, **options)
        except errors.NotFound as exc:
            raise FileNotFoundError(f"{target} is not in the share at that time") from exc

    return open_sibling
