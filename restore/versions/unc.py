"""Explorer's habit: a UNC path (``\\\\server\\share\\folder\\file``, as a Windows context menu or an
intranet link passes it) to one of the person's roots and a path below it.

Anything that is not inside one of the person's roots answers NotFound, the same answer for another
person's folder, a server or share they have no root on, and a path that climbs out with ``..``: a
link never tells anyone what exists elsewhere. Only text that is no UNC path at all is a BadRequest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from restore.nt.access import Token
from restore.versions import paths
from restore.versions.browse import require_visible
from restore.versions.roots import BadRequest, NotFound, Root, location
from restore.versions.sessions import server_client

MAX_UNC = 4096


@dataclass(frozen=True)
class Resolved:
    root: Root
    path: str  # canonical, '\\'-separated, '' for the root itself


def _components(text: str) -> list[str]:
    return [p for p in re.split(r"[\\/]", text) if p != ""]


def resolve(person_roots: list[Root], unc: str) -> Resolved:
    """The root of ``person_roots`` that holds ``unc`` and the path below it (case-insensitive, as
    Windows compares names); NotFound when none does."""
    if not isinstance(unc, str) or not unc.strip():
        raise BadRequest("give a UNC path such as \\\\server\\share\\folder")
    text = unc.strip().strip('"')
    if len(text) > MAX_UNC or "\x00" in text:
        raise BadRequest("give a UNC path such as \\\\server\\share\\folder")
    if text.lower().startswith("file:"):
        text = "\\\\" + text[5:].lstrip("/\\")
    if re.match(r"^[A-Za-z]:", text):
        raise BadRequest("drive letters cannot be opened here: give the UNC path (\\\\server\\share\\...)")
    if not text.startswith(("\\\\", "//")):
        raise BadRequest("give a UNC path such as \\\\server\\share\\folder")
    wanted = _components(text)
    if len(wanted) < 2:  # not even \\server\share
        raise BadRequest("give a UNC path such as \\\\server\\share\\folder")
    if any(part in (".", "..") for part in wanted):  # climbing out is outside, whatever it lands on
        raise NotFound("not found")
    lowered = [part.lower() for part in wanted]
    for root in person_roots:
        try:
            parsed = paths.parse_unc(root.unc)
        except paths.PathError:
            continue
        prefix = [part.lower() for part in _components(str(parsed))]
        if lowered[:len(prefix)] == prefix:
            try:
                return Resolved(root, paths.normalize("\\".join(wanted[len(prefix):])))
            except paths.PathError:
                raise NotFound("not found") from None
    raise NotFound("not found")


def kind_of(token: Token, resolved: Resolved) -> str:
    """'folder' or 'file' for what the path is now, as far as the person may see it; 'gone' when it
    is not there (or not theirs to see) now: it may be a deleted file, whose timeline shows it."""
    if not resolved.path:
        return "folder"
    where = location(resolved.root, resolved.path)
    try:
        entry = require_visible(server_client(where.server, token), where, token, None, want_dir=None)
    except NotFound:
        return "gone"
    return "folder" if entry.is_dir else "file"
