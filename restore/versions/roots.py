"""A person's roots (the folders they may browse: profile, data, ...) and where a path of a root lives on the file server."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from restore.versions import paths
from restore.versions.paths import Unc

# --- roots ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Root:
    id: str
    kind: str
    unc: str

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "unc": self.unc}


def root_templates() -> list[tuple[str, str]]:
    """USER_ROOTS = 'kind=\\\\server\\share\\%USERNAME%;kind2=...' as [(kind, template)]."""
    pairs = []
    for item in filter(None, (p.strip() for p in settings.USER_ROOTS.split(";"))):
        kind, sep, template = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", kind.strip()):
            raise ValueError(f"USER_ROOTS entry {item!r} must look like kind=\\\\server\\share\\path")
        pairs.append((kind.strip(), template.strip()))
    return pairs


class NotFound(Exception):
    """No such root, snapshot or object — or one the person may not know about.

    ``denied`` tells the audit trail that the object exists but its ACL refused the person;
    the person gets the same answer either way."""

    def __init__(self, message: str = "not found", *, denied: bool = False):
        super().__init__(message)
        self.denied = denied


class BadRequest(ValueError):
    """A parameter that cannot be accepted; the message can be shown."""


# --- roots and snapshots -----------------------------------------------------------------------


def find_root(roots: list[Root], root_id: str) -> Root:
    for root in roots:
        if root.id == root_id:
            return root
    raise NotFound("no such root")


def location(root: Root, path: str = "") -> Unc:
    return paths.parse_unc(root.unc).child(path)
