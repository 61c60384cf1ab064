"""Profile containers as catalog sources: what is inside each FSLogix container, snapshot by snapshot,
catalogued with the same tables, build and search as a share's folders.

A container source (``CatalogSource.kind`` = the root kind, ``profile-container`` or
``office-container``) has a person's container root as its UNC
(``\\\\srv\\fslogix\\<SID>_<user>\\Profile_<user>.vhdx``). Its entries carry the share-relative paths
a ContainerClient answers to: the source's own path is the container's top folder (``Profile``),
``<path>\\Documents\\notes.txt`` a file below it, so a person's container root finds its hits exactly
as a folder root does. One more entry has the source's path but is a file: the *gate*, the container
file itself, whose rows hold the file's security descriptor on the share in each snapshot. Search
shows a hit in a snapshot only where the gate lets the person read the container file (as
``ContainerClient.container`` decides for browsing) and the NTFS descriptors inside (from ``$Secure``)
let them reach and read the entry.

Sources are found on the shares of USER_ROOTS' container kinds (``discover``, at every refresh):
each folder named like the template's (``%SID%_%USERNAME%``, or FSLogix's flip-flop order) gives
one source per container kind. The build walks a container through the service account's
ContainerClient, never the share's listing; a container file unchanged since the previous snapshot
(size, times, attributes, ACL) is not opened again: its folders are carried forward. A container
that cannot be read in a snapshot (encrypted, damaged, not NTFS, parent missing) leaves that
snapshot's tree empty and says why on the snapshot and the source, and stops no other source or
snapshot.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import transaction

from restore import smb
from restore.catalog.logic import Child, diff_folder
from restore.catalog.rows import child_row
from restore.catalog.walk import SnapshotBuild
from restore.models.catalog import (
    ACL_EVERY,
    CatalogEntry,
    CatalogSnapshot,
    CatalogSource,
    CatalogVersion,
    SnapshotState,
)
from restore.versions import paths
from restore.versions.container_client import ContainerClient
from restore.versions.container_roots import CONTAINER_KINDS, ContainerUnreadable, fslogix_template
from restore.versions.paths import PathError, Unc, path_key
from restore.versions.roots import Root, location, root_templates

log = logging.getLogger(__name__)

_VARIABLE = re.compile(r"%(USERNAME|USERDOMAIN|SID)%", re.I)
_VALUE = {"SID": r"S-1-[0-9-]+", "USERNAME": r"[^\\/]+?", "USERDOMAIN": r"[^\\/]+?"}


def is_container_source(source: CatalogSource) -> bool:
    return source.kind in CONTAINER_KINDS


# --- which containers are catalogued ----------------------------------------------------------------


def discover() -> list[CatalogSource]:
    """A source for every container found on the shares of USER_ROOTS' container kinds (none when
    CATALOG_CONTAINERS is off). A share that does not answer is skipped (its sources stay)."""
    if not settings.CATALOG_CONTAINERS:
        return []
    out = []
    for kind, template in root_templates():
        if kind not in CONTAINER_KINDS:
            continue
        try:
            for unc in _containers_of(fslogix_template(kind, template)):
                source, created = CatalogSource.objects.get_or_create(
                    server=unc.server.lower(), share=unc.share.lower(), path=unc.path, defaults={"kind": kind})
                if created:
                    log.info("catalog: new container source %s", source)
                out.append(source)
        except (smb.SmbError, PathError) as exc:
            log.warning("catalog: cannot look for %s containers of %s: %s", kind, template, exc)
    return out


def _containers_of(template: str) -> list[Unc]:
    """The template expanded for each person folder under its fixed part (``%SID%_%USERNAME%`` in
    either order), as identity.roots_for expands it for that person."""
    unc = paths.parse_unc(template)
    parts = unc.path.split("\\")
    at = next((i for i, part in enumerate(parts) if _VARIABLE.search(part)), None)
    if at is None:
        return [unc]
    patterns = [folder_pattern(parts[at])]
    if parts[at].upper() in ("%SID%_%USERNAME%", "%USERNAME%_%SID%"):
        patterns.append(folder_pattern("_".join(reversed(parts[at].split("_")))))
    out = []
    for entry in smb.client_for(unc.server).list_dir(unc.share, "\\".join(parts[:at])):
        found = next((m for p in patterns if entry.is_dir and (m := p.match(entry.name))), None)
        if found is None:
            continue
        values = {"USERDOMAIN": settings.LDAP_DOMAIN, **found.groupdict()}
        if not all(v.group(1).upper() in values for v in _VARIABLE.finditer(unc.path)):
            raise PathError(f"{template!r}: only variables of the folder {parts[at]!r} can be filled in")
        out.append(Unc(unc.server, unc.share, _VARIABLE.sub(lambda v: values[v.group(1).upper()], unc.path)))
    return out


def folder_pattern(component: str) -> re.Pattern:
    """A regular expression for folder names made by a template's component (``%SID%_%USERNAME%``):
    each variable a named group (``SID``, ``USERNAME``, ``USERDOMAIN``), the rest literal, any case."""
    out, seen, pos = [], set(), 0
    for v in _VARIABLE.finditer(component):
        name = v.group(1).upper()
        out.append(re.escape(component[pos:v.start()]))
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>{_VALUE[name]})")
        seen.add(name)
        pos = v.end()
    out.append(re.escape(component[pos:]))
    return re.compile("^" + "".join(out) + "$", re.I)


# --- building -----------------------------------------------------------------------------------------


class ServiceReader(ContainerClient):
    """A container as the service account reads it for the catalog: no person's check of the container
    file (the search makes it, from the gate); everything inside with its NTFS descriptor."""

    def __init__(self, source: CatalogSource):
        super().__init__(Root("catalog", source.kind, source.unc), None)

    def container(self, at):
        opened = self._opened(at)
        if isinstance(opened.sd, smb.Unreadable):
            raise smb.AccessDenied("the service account cannot read the container's permissions", path=opened.path)
        if opened.error is not None:
            raise opened.error
        return opened.container

    def container_file(self, at) -> tuple[smb.Entry, bytes | smb.Unreadable] | None:
        """The container file found then (RW.vhdx, flip-flop folder: ContainerClient's choice) and its
        descriptor; None when there is none."""
        try:
            opened = self._opened(at)
            return self.smb.stat(self.base.share, opened.path, at=at), opened.sd
        except smb.NotFound:
            return None


def builder(source: CatalogSource, client=None):
    """(the client to read ``source`` with, the class that catalogues one of its snapshots)."""
    if is_container_source(source):
        return client or ServiceReader(source), ContainerSnapshotBuild
    return client or smb.client_for(source.server), SnapshotBuild


class ContainerSnapshotBuild(SnapshotBuild):
    """SnapshotBuild's walk and writes, through a ServiceReader: every folder's listing carries its
    entries' descriptors (always every-snapshot: they cost nothing more), plus the gate."""

    def __init__(self, source, snap, client, mode, owner, budget, on_folder):
        super().__init__(source, snap, client, ACL_EVERY, owner, budget, on_folder)

    def _root(self):
        gate, children = self._gate(self.client.container_file(self.at))
        if self._unchanged(gate, children):
            self._carry_forward()
            return None
        try:
            folder = super()._root()
        except (ContainerUnreadable, smb.AccessDenied) as exc:
            self._unreadable(exc)
            folder = None
        diff = diff_folder(children, self._open_rows(entry_ids=[gate.id]), compare_sd=True)
        if diff.added or diff.changed or diff.removed:
            self._apply(None, diff, {c.key: gate.path for c in children}, folder=None, digest=None)
        return folder

    def _fetch_many(self, items: list[tuple[str, bool]]) -> list:
        """Inside a container, folder by folder (parsing, no round trips to pipeline)."""
        out = []
        for path, with_sds in items:
            try:
                out.append(self._fetch(path, with_sds))
            except Exception as exc:  # as the walk would have met it: the folder's own outcome
                out.append(exc)
        return out

    def _fetch(self, path: str, with_sds: bool):
        try:
            listing = self.client.list_dir(self.share, path, at=self.at)
        except ContainerUnreadable as exc:  # damaged below here: this folder is not listed (counted)
            raise smb.AccessDenied(f"cannot be read: {exc.detail or exc}", path=path) from exc
        if not with_sds:
            return listing, None
        return listing, {f"{path}\\{e.name}": e.security_descriptor or smb.UNREADABLE for e in listing}

    def _unreadable(self, exc: Exception) -> None:
        """The container cannot be read in this snapshot: nothing inside is known then (the search
        shows nothing of it), and the snapshot says why."""
        root_id = CatalogEntry.objects.values_list("id", flat=True).get(
            source=self.source, path_key=path_key(self.source.path), is_dir=True)
        self._unlisted(self.folders[root_id])
        CatalogSnapshot.objects.filter(id=self.snap.id).update(error=str(exc)[:2000])
        log.warning("catalog %s: the container cannot be read at %s: %s", self.source, self.snap.token, exc)

    def _gate(self, found) -> tuple[CatalogEntry, list[Child]]:
        """The container file's entry, and what it is at n (none, or one child: its size, times and
        descriptor on the share, i.e. who may open the container then)."""
        base = self.source.path
        entry, _ = CatalogEntry.objects.get_or_create(
            source=self.source, path_key=path_key(base), is_dir=False,
            defaults={"path": base, "name": base.rpartition("\\")[2], "parent": None})
        if found is None:
            return entry, []
        stat, sd = found
        return entry, [child_row(stat, entry.name, self._hash_sds([base], {base: sd})[base])]

    def _unchanged(self, gate: CatalogEntry, children: list[Child]) -> bool:
        """The container file is as catalogued at the previous snapshot (size, times, attributes, ACL) and
        that snapshot was read whole: nothing inside can differ, so nothing inside is read again."""
        if self.prev is None or len(children) != 1:
            return False
        if diff_folder(children, self._open_rows(entry_ids=[gate.id]), compare_sd=True).unchanged != 1:
            return False
        whole = CatalogSnapshot.objects.filter(source=self.source, index=self.prev, complete=True, error="")
        listed = CatalogEntry.objects.filter(source=self.source, path_key=gate.path_key, is_dir=True,
                                             listed_idx=self.prev)
        return whole.exists() and listed.exists()

    def _carry_forward(self) -> None:
        """Every folder listed at the previous snapshot is listed at n as it was: its rows stay open."""
        with transaction.atomic():
            carried = CatalogEntry.objects.filter(source=self.source, is_dir=True, listed_idx=self.prev).update(
                listed_idx=self.n)
            seen = CatalogSnapshot.objects.values_list("objects_seen", flat=True).get(source=self.source,
                                                                                      index=self.prev)
            CatalogSnapshot.objects.filter(id=self.snap.id).update(folders_done=carried, objects_seen=seen)


def problem(source: CatalogSource) -> str:
    """What the newest catalogued snapshot of a container source could not read ("" when all is well)."""
    if not is_container_source(source):
        return ""
    newest = CatalogSnapshot.objects.filter(source=source, state=SnapshotState.DONE).order_by("-index").first()
    return f"{newest.token}: {newest.error}" if newest is not None and newest.error else ""


# --- searching ----------------------------------------------------------------------------------------


def source_of(root: Root) -> CatalogSource | None:
    """The container source of a person's container root (never a share's source)."""
    where = location(root)
    return CatalogSource.objects.filter(enabled=True, kind=root.kind, server=where.server.lower(),
                                        share=where.share.lower(), path__iexact=where.path).first()


def gate(source: CatalogSource) -> tuple[int, list[tuple]]:
    """The gate's entry id and its rows as search reads rows: (version id, first, last, sd id)."""
    rows = list(CatalogVersion.objects.filter(entry__source=source, entry__path_key=path_key(source.path),
                                              entry__is_dir=False).values_list("entry_id", "id", "first_idx",
                                                                               "last_idx", "sd_id"))
    return (rows[0][0] if rows else 0), [tuple(r[1:]) for r in rows]
