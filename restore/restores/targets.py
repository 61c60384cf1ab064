"""The live side of a restore: what exists at the target now, and whether the person may create or replace it there."""

from __future__ import annotations

import logging

from restore import smb
from restore.models import Conflict
from restore.nt.access import (
    FILE_WRITE_DATA,
    Token,
    allows,
    can_create_file_in,
    can_create_folder_in,
    can_delete,
    can_list_folder,
)
from restore.nt.descriptors import SecurityDescriptor, SecurityDescriptorError, parse_security_descriptor
from restore.restores.naming import numbered
from restore.versions import paths, roots
from restore.versions.roots import Root
from restore.versions.sessions import server_client

log = logging.getLogger(__name__)


def _parsed(sd_bytes: bytes | smb.Unreadable | None) -> SecurityDescriptor | None:
    if sd_bytes is None or isinstance(sd_bytes, smb.Unreadable):  # permissions unknown: nothing is written there
        return None
    try:
        return parse_security_descriptor(sd_bytes)
    except SecurityDescriptorError:
        log.warning("unreadable security descriptor from the file server; treated as denying")
        return None  # fail closed


class LiveTargets:
    """The live side of a plan: folder listings and ACLs of the targets in one root, each read once."""

    def __init__(self, root: Root, token: Token, context=None):
        self.root = root
        self.base = roots.location(root)
        self.client = server_client(self.base.server, token, context)  # the person's session with delegation
        self.token = token
        self._listings: dict[str, dict[str, smb.Entry] | None] = {}
        self._sds: dict[str, SecurityDescriptor | None] = {}

    def share_path(self, rel: str) -> str:
        return paths.join(self.base.path, rel)

    def listing(self, folder: str) -> dict[str, smb.Entry] | None:
        """{lower name: Entry} of a live folder; None when it does not exist."""
        key = folder.lower()
        if key not in self._listings:
            try:
                entries = self.client.list_dir(self.base.share, self.share_path(folder))
                self._listings[key] = {e.name.lower(): e for e in entries}
            except smb.NotFound:
                self._listings[key] = None
        return self._listings[key]

    def existing(self, path: str) -> smb.Entry | None:
        if not path:
            return self.client.stat(self.base.share, self.base.path)  # the root itself
        listing = self.listing(paths.parent(path))
        return None if listing is None else listing.get(paths.name_of(path).lower())

    def forget(self, folder: str) -> None:
        self._listings.pop(folder.lower(), None)

    def prefetch(self, rel_paths) -> None:
        wanted = [p for p in dict.fromkeys(rel_paths) if p.lower() not in self._sds]
        if wanted:
            found = self.client.security_descriptors_many(self.base.share, [self.share_path(p) for p in wanted])
            for rel in wanted:
                self._sds[rel.lower()] = _parsed(found.get(self.share_path(rel)))

    def sd(self, path: str) -> SecurityDescriptor | None:
        self.prefetch([path])
        return self._sds[path.lower()]

    def can_see_folder(self, folder: str) -> bool:
        entry, sd = self.existing(folder), self.sd(folder)
        return entry is not None and entry.is_dir and sd is not None and can_list_folder(sd, self.token)

    def nearest_existing_folder(self, folder: str) -> str:
        while folder and self.existing(folder) is None:
            folder = paths.parent(folder)
        return folder

    def may_create_in(self, folder: str, is_dir: bool) -> bool:
        """May the person create a file (or a folder) in ``folder``? For a folder the restore makes
        itself, the nearest existing ancestor decides (a new folder inherits its ACL from there);
        the worker checks the real folder again once it exists."""
        existing = self.nearest_existing_folder(folder)
        sd = self.sd(existing)
        if sd is None:
            return False
        if existing != folder:  # the folders in between are created first
            return can_create_folder_in(sd, self.token) and (is_dir or can_create_file_in(sd, self.token))
        return (can_create_folder_in if is_dir else can_create_file_in)(sd, self.token)

    def may_replace(self, path: str) -> bool:
        """Keep the current copy aside and put the restored one in its place: FILE_WRITE_DATA and
        DELETE on the current file (DELETE or FILE_DELETE_CHILD on its folder), FILE_ADD_FILE on the folder."""
        self.prefetch([path, paths.parent(path)])
        sd, parent_sd = self.sd(path), self.sd(paths.parent(path))
        return (sd is not None and parent_sd is not None and allows(sd, self.token, FILE_WRITE_DATA)
                and can_delete(sd, parent_sd, self.token) and can_create_file_in(parent_sd, self.token))


def first_free(live: LiveTargets, path: str, *, is_dir: bool = False, claimed=frozenset(),
               root_id: str = "") -> str | None:
    """``path`` when nothing is there (live, or claimed by this plan), else the first free
    ``name (2).ext``, ``name (3).ext``...; None when a thousand are taken."""
    def taken(candidate: str) -> bool:
        return live.existing(candidate) is not None or (root_id, candidate.lower()) in claimed

    if not taken(path):
        return path
    folder, name = paths.parent(path), paths.name_of(path)
    for n in range(2, 1000):
        candidate = paths.join(folder, numbered(name, n, is_dir))
        if not taken(candidate):
            return candidate
    return None


def free_name(live: LiveTargets, path: str, claimed, root_id: str, is_dir: bool, conflict: str) -> str | None:
    """``path`` when nothing is there; otherwise, per the conflict policy, a numbered name (rename),
    None (skip), or ``path`` itself (overwrite: what is there is merged into, current copies kept)."""
    if conflict == Conflict.OVERWRITE:
        return path
    free = first_free(live, path, is_dir=is_dir, claimed=claimed, root_id=root_id)
    if conflict == Conflict.SKIP:
        return path if free == path else None
    if free is None:
        raise roots.BadRequest(f"too many restored copies of {paths.name_of(path)} already")
    return free


def place_of(path: str, root_id: str) -> str:
    return f"'{path.replace(chr(92), '/') or '/'}' ({root_id})"
