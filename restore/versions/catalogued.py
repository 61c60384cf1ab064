"""What the catalog knows about one path at given snapshots, for previous_versions (the timeline and
folder listings at a snapshot): answered from the database instead of one SMB request per snapshot.

A snapshot is *covered* for a path when its build finished and listed every folder above the
path (so an absence is an answer). A security descriptor is given only for snapshots built with CATALOG_ACL_CHECK =
every-snapshot (read at that very snapshot); otherwise, or when it is unknown, ``sd`` is None
and the caller asks the file server, exactly as without a catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models.functions import Length

from restore import smb
from restore.models.catalog import (
    ACL_EVERY,
    SHARE_SOURCE,
    CatalogEntry,
    CatalogSnapshot,
    CatalogSource,
    CatalogVersion,
    SnapshotState,
)
from restore.versions import catalogued
from restore.versions.paths import Unc, path_key


@dataclass(frozen=True)
class Fact:
    """An object as catalogued at one snapshot (the attributes previous_versions reads)."""

    name: str
    is_dir: bool
    size: int
    last_write: datetime
    sd: bytes | None  # None: ask the file server


@dataclass(frozen=True)
class Folder:
    folder: Fact | None  # None: no such folder in that snapshot
    entries: list[Fact]
    sds: dict[str, bytes | None]  # share-relative child path -> SD (None: ask the file server)


def _covered(where: Unc, snapshots: list[smb.Snapshot]):
    source = catalogued.covering(where)
    if source is None:
        return None, {}
    wanted = {s.token for s in snapshots}
    target = where.path.lower()
    covered = {}
    for token, index, acl, count, unlisted in CatalogSnapshot.objects.filter(
            source=source, state=SnapshotState.DONE, token__in=wanted).values_list(
            "token", "index", "acl_check", "unlisted_folders", "unlisted"):
        if count and (len(unlisted) < count or any(target == u or target.startswith(u + "\\") for u in unlisted)):
            continue  # below a folder that could not be listed then: the catalog does not know
        covered[token] = (index, acl == ACL_EVERY)
    return source, covered


def _facts(entry_ids: list[int], covered: dict) -> dict[int, dict[int, Fact]]:
    """{entry id: {snapshot index: Fact}} for the covered snapshot indices."""
    exact = {index: ok for index, ok in covered.values()}
    names = dict(CatalogEntry.objects.filter(id__in=entry_ids).values_list("id", "name"))
    out: dict[int, dict[int, Fact]] = {}
    for entry_id, is_dir, first, last, size, last_write, sd in CatalogVersion.objects.filter(
            entry_id__in=entry_ids).values_list("entry_id", "entry__is_dir", "first_idx", "last_idx", "size",
                                                "last_write", "sd__data"):
        for index, is_exact in exact.items():
            if first <= index and (last is None or index <= last):
                data = bytes(sd) if sd is not None and is_exact else None
                out.setdefault(entry_id, {})[index] = Fact(names[entry_id], is_dir, size, last_write, data)
    return out


def history(where: Unc, snapshots: list[smb.Snapshot]) -> dict[datetime, Fact | None]:
    """{snapshot time: Fact, or None when the path did not exist then}, for covered snapshots only."""
    source, covered = _covered(where, snapshots)
    if not covered:
        return {}
    ids = list(CatalogEntry.objects.filter(source=source, path_key=path_key(where.path)).values_list("id", flat=True))
    facts = _facts(ids, covered)
    out: dict[datetime, Fact | None] = {}
    for snapshot in snapshots:
        if snapshot.token in covered:
            index = covered[snapshot.token][0]
            found = [f[index] for f in facts.values() if index in f]
            out[snapshot.at] = found[0] if found else None
    return out


def folder(where: Unc, snapshot: smb.Snapshot) -> Folder | None:
    """A folder as catalogued at the snapshot, or None when the catalog does not cover it."""
    source, covered = _covered(where, [snapshot])
    if snapshot.token not in covered:
        return None
    index = covered[snapshot.token][0]
    folder_ids = list(CatalogEntry.objects.filter(source=source, path_key=path_key(where.path), is_dir=True)
                      .values_list("id", flat=True))
    own = _facts(folder_ids, covered)
    here = next((f[index] for f in own.values() if index in f), None)
    if here is None:
        return Folder(None, [], {})
    child_ids = list(CatalogEntry.objects.filter(parent_id__in=folder_ids).values_list("id", flat=True))
    children = [f[index] for f in _facts(child_ids, covered).values() if index in f]
    base = where.path
    return Folder(here, children, {(f"{base}\\{c.name}" if base else c.name): c.sd for c in children})


def covering(where: Unc) -> CatalogSource | None:
    """The most specific enabled source whose folder holds ``where`` (\\\\server\\share\\path); a
    container's contents are a source of their own kind, never a share's (catalog/containers.py)."""
    candidates = (CatalogSource.objects.filter(enabled=True, kind=SHARE_SOURCE, server=where.server.lower(),
                                               share=where.share.lower())
                  .order_by(Length("path").desc()))
    target = where.path.lower()
    for source in candidates:
        base = source.path.lower()
        if not base or target == base or target.startswith(base + "\\"):
            return source
    return None
