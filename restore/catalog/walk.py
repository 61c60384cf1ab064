"""Cataloguing one snapshot: its tree walked over SMB (listings pipelined), each folder compared with the
previous snapshot's rows and only the differences written."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from restore import smb
from restore.catalog.fresh import BATCH_ROWS, FreshRows
from restore.catalog.listing import BATCH, Lister
from restore.catalog.logic import FolderDiff, diff_folder, listing_digest, walk_order
from restore.catalog.rows import child_row, sd_hash, store_sd, with_sd
from restore.catalog.writes import GROUP, Changed, GroupWrites
from restore.models.catalog import (
    ACL_EVERY,
    CatalogEntry,
    CatalogSnapshot,
    CatalogSource,
    CatalogVersion,
    SnapshotState,
)
from restore.versions.paths import path_key

log = logging.getLogger(__name__)

FLUSH_FOLDERS = 200  # unchanged folders marked per batch
FLUSH_SECONDS = 5.0
MAX_UNLISTED = 1000  # folders that could not be listed, remembered per snapshot (beyond: not covered)


class BuildInterrupted(Exception):
    """The build stopped on purpose (a work limit); everything done so far is kept."""


class SnapshotGone(Exception):
    """The snapshot disappeared from the server while it was being catalogued."""


def _renew(source_id: int, owner: str) -> None:
    CatalogSource.objects.filter(id=source_id, lease_owner=owner).update(
        lease_until=timezone.now() + timedelta(seconds=settings.CATALOG_LEASE_SECONDS))


def previous_index(source: CatalogSource, index: int) -> int | None:
    prev = (CatalogSnapshot.objects.filter(source=source, state=SnapshotState.DONE, index__lt=index)
            .order_by("-index").values_list("index", flat=True).first())
    return prev


class BuildBudget:
    def __init__(self, deadline: float | None, folders: int | None):
        self.deadline = deadline
        self.folders = folders

    def spend(self) -> None:
        if self.folders is not None:
            if self.folders <= 0:
                raise BuildInterrupted("work limit reached")
            self.folders -= 1
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BuildInterrupted("deadline reached")


@dataclass
class _Folder:
    id: int
    path: str
    parent_id: int | None
    listed_idx: int | None
    digest: str


class SnapshotBuild(GroupWrites):
    def __init__(self, source, snap, client, mode, owner, budget, on_folder):
        self.source = source
        self.snap = snap
        self.client = client
        self.owner = owner
        self.budget = budget
        self.on_folder = on_folder
        self.n = snap.index
        self.at = snap.at
        self.share = source.share
        self.prev = previous_index(source, self.n)
        self.mode = snap.acl_check or mode  # a resumed build keeps the mode it started with
        self.exact = self.mode == ACL_EVERY
        self.sd_ids: dict[str, int] = {}
        self.pending: list[int] = []  # unchanged folders, not yet marked
        self.changed: list[Changed] = []  # changed folders, not yet written (writes.py)
        self.new_folders: set[int] = set()  # folder entries created by this build: no children, no rows yet
        self.fresh_rows = FreshRows(source.id, self.n)  # their rows, written in batches
        self.counts = {"folders_done": 0, "objects_seen": 0, "rows_written": 0, "sd_reads": 0, "unreadable_sds": 0,
                       "unlisted_folders": 0}
        self.last_flush = time.monotonic()
        self.exists_checked = 0.0

    # --- the walk ---------------------------------------------------------------------------------

    def run(self) -> None:
        if self.snap.state != SnapshotState.BUILDING or not self.snap.acl_check:
            expected = None
            if self.prev is not None:
                expected = CatalogSnapshot.objects.filter(source=self.source, index=self.prev).values_list(
                    "folders_done", flat=True).first()
            CatalogSnapshot.objects.filter(id=self.snap.id).update(
                state=SnapshotState.BUILDING, acl_check=self.mode, error="", folders_expected=expected,
                started_at=self.snap.started_at or timezone.now())
        self.folders = {f.id: f for f in self._load_folders()}
        self.by_key = {path_key(f.path): f for f in self.folders.values()}
        root = self._root()
        stack = [root] if root is not None else []
        self.ahead = iter(self._expected(root))
        with Lister(self._fetch_many) as self.lister:
            while stack:
                self._prefetch(stack)
                folder = stack.pop()
                if self.on_folder is not None:
                    self.on_folder(folder.path)
                try:
                    self.budget.spend()
                except BuildInterrupted:
                    self._flush()
                    raise
                subfolders = self._folder(folder)
                stack.extend(sorted(subfolders, key=lambda f: f.path.lower(), reverse=True))
                if len(self.pending) >= FLUSH_FOLDERS or time.monotonic() - self.last_flush > FLUSH_SECONDS:
                    self._flush(changed=False)  # changed folders wait for a full group
        self._flush()
        with transaction.atomic():
            snap = CatalogSnapshot.objects.select_for_update().get(id=self.snap.id)
            snap.state = SnapshotState.DONE
            snap.complete = snap.unlisted_folders == 0
            snap.finished_at = timezone.now()
            snap.save(update_fields=["state", "complete", "finished_at"])

    def _load_folders(self) -> list[_Folder]:
        rows = CatalogEntry.objects.filter(source=self.source, is_dir=True).values_list(
            "id", "path", "parent_id", "listed_idx", "digest")
        return [_Folder(*row) for row in rows]

    def _root(self) -> _Folder | None:
        """The source's own folder at n (its row is written here); None when it did not exist then."""
        path = self.source.path
        entry, _ = CatalogEntry.objects.get_or_create(
            source=self.source, path_key=path_key(path), is_dir=True,
            defaults={"path": path, "name": path.rpartition("\\")[2], "parent": None})
        folder = self.folders.get(entry.id) or _Folder(entry.id, entry.path, None, entry.listed_idx, entry.digest)
        self.folders[folder.id] = folder
        if folder.listed_idx == self.n:
            return folder
        try:
            stat = self.client.stat(self.share, path, at=self.at)
        except smb.NotFound:
            stat = None
        if stat is None or not stat.is_dir:
            self._check_snapshot_exists(force=True)
            with transaction.atomic():
                if self.prev is not None:
                    CatalogVersion.objects.filter(entry__source=self.source, last_idx__isnull=True).update(
                        last_idx=self.prev)
                CatalogEntry.objects.filter(id=folder.id).update(listed_idx=self.n, digest="")
            return None
        sds = self._read_sds([path])
        child = child_row(stat, stat.name, sds.get(path, ""))
        rows = self._open_rows(entry_ids=[folder.id])
        diff = diff_folder([child], rows, compare_sd=True)
        if diff.added or diff.changed:
            self._apply(None, diff, {child.key: path}, folder=None, digest=None)
        return folder

    def _folder(self, folder: _Folder) -> list[_Folder]:
        if folder.listed_idx == self.n:  # done before an interruption: its subfolders from the catalog
            return self._catalogued_subfolders(folder)
        try:
            listing, raw_sds = self._fetched(folder)
        except (smb.NotFound, smb.AccessDenied) as exc:
            self._check_snapshot_exists()
            log.info("catalog %s: %s cannot be listed at %s: %s", self.source, folder.path, self.snap.token, exc)
            self._unlisted(folder)
            return []
        paths = {}
        children = []
        for e in listing:
            child_path = f"{folder.path}\\{e.name}" if folder.path else e.name
            children.append(child_row(e, e.name, ""))
            paths[children[-1].key] = child_path
        if self.exact:
            sds = self._hash_sds(list(paths.values()), raw_sds) if raw_sds is not None else self._read_sds(
                list(paths.values()))
            children = [with_sd(c, sds[paths[c.key]]) for c in children]
        self.counts["objects_seen"] += len(children)
        digest = listing_digest(children)
        if self.prev is not None and folder.listed_idx == self.prev and folder.digest == digest:
            subfolders = [self.by_key.get(path_key(paths[c.key])) for c in children if c.is_dir]
            if all(f is not None for f in subfolders):
                self.pending.append(folder.id)
                folder.listed_idx = self.n
                self.counts["folders_done"] += 1
                return subfolders
        if folder.id not in self.new_folders:  # written with the next group of changed folders
            self.changed.append(Changed(folder, children, paths, digest, raw_sds))
            new_dirs = any(c.is_dir and path_key(paths[c.key]) not in self.by_key for c in children)
            ids = self._write_changed()[folder.id] if new_dirs or len(self.changed) >= GROUP else {}
        else:  # new to the catalog: nothing below it is catalogued, no look-ups
            diff = diff_folder(children, [], compare_sd=self.exact)
            if not self.exact:
                diff = self._fill_changed_sds([Changed(folder, children, paths, digest, raw_sds)], [diff])[0]
            if self.fresh_rows.enabled:
                ids = self._collect(folder, diff, paths, digest)
            else:
                ids = self._apply(folder, diff, paths, folder=folder, digest=digest, fresh=True)
        subfolders = []
        for c in children:
            if c.is_dir:
                p = paths[c.key]
                sub = self.by_key.get(path_key(p))
                if sub is None:
                    sub = _Folder(ids[c.key], p, folder.id, None, "")
                    self.folders[sub.id] = sub
                    self.by_key[path_key(p)] = sub
                subfolders.append(sub)
        return subfolders

    def _catalogued_subfolders(self, folder: _Folder) -> list[_Folder]:
        ids = (CatalogEntry.objects.filter(parent_id=folder.id, is_dir=True, versions__last_idx__isnull=True)
               .values_list("id", flat=True).distinct())
        return [self.folders[i] for i in ids if i in self.folders]

    # --- reading from the server --------------------------------------------------------------------

    def _fetch_many(self, items: list[tuple[str, bool]]) -> list:
        """Many folders' listings in one pipelined call and, for those that will need them (every-snapshot,
        or a folder new to the catalog), their children's SDs in one more: [(entries, {path: SD} or None:
        not read) or the exception listing the folder raised]. Runs in the lister's threads."""
        listings = self.client.list_dirs(self.share, [path for path, _ in items], at=self.at)
        children = [[f"{path}\\{e.name}" if path else e.name for e in listing]
                    if with_sds and not isinstance(listing, Exception) else None
                    for (path, with_sds), listing in zip(items, listings)]
        wanted = [p for paths in children if paths for p in paths]
        try:
            sds = self.client.security_descriptors_many(self.share, wanted, at=self.at) if wanted else {}
        except smb.SmbError:  # read again by the walk itself, whose failure is the snapshot's
            sds = None
        return [listing if isinstance(listing, Exception) else
                (listing, None if paths is None or sds is None else {p: sds[p] for p in paths})
                for listing, paths in zip(listings, children)]

    def _needs_sds(self, folder: _Folder) -> bool:
        return self.exact or self.prev is None or folder.listed_idx is None

    def _expected(self, root: _Folder | None) -> list[_Folder]:
        """The previous snapshot's folders in the order this walk reaches them if still there: asked for
        before the walk finds them (a plain walk knows a folder once its parent is listed, not before)."""
        known = [(f.id, f.parent_id, f.path) for f in self.folders.values() if f.listed_idx in (self.prev, self.n)]
        return [] if root is None or self.prev is None else [self.folders[i] for i in walk_order(root.id, known)]

    def _prefetch(self, stack: list[_Folder]) -> None:
        """Ask for the next folders while this one is written: the stack's top, then those expected next."""
        room = self.lister.room()
        for folder in reversed(stack[-BATCH:]):  # deeper ones were on top before: asked then, or by ``ahead``
            if room <= 0:
                break
            room -= self._ask(folder)
        while room > 0:
            folder = next(self.ahead, None)
            if folder is None:
                break
            room -= self._ask(folder)
        self.lister.send()

    def _ask(self, folder: _Folder) -> int:
        if folder.listed_idx == self.n or self.lister.asked(folder.id):
            return 0
        self.lister.ask(folder.id, folder.path, self._needs_sds(folder))
        return 1

    def _fetched(self, folder: _Folder) -> tuple[list[smb.Entry], dict | None]:
        return self.lister.take(folder.id, folder.path, self._needs_sds(folder))

    def _read_sds(self, paths: list[str]) -> dict[str, str | None]:
        """{path: sha256 of its SD, or None when the server could not give it}; new SDs stored."""
        if not paths:
            return {}
        return self._hash_sds(paths, self.client.security_descriptors_many(self.share, paths, at=self.at))

    def _hash_sds(self, paths: list[str], found: dict) -> dict[str, str | None]:
        self.counts["sd_reads"] += len(paths)
        out = {}
        for p in paths:
            data = found.get(p)
            if not isinstance(data, bytes):  # gone meanwhile, or smb.UNREADABLE: refused to the portal
                self.counts["unreadable_sds"] += 1
                out[p] = None
            else:
                sha = sd_hash(data)
                if sha not in self.sd_ids:
                    self.sd_ids[sha] = store_sd(sha, data)
                out[p] = sha
        return out

    def _check_snapshot_exists(self, force: bool = False) -> None:
        """A listing that fails: is it the snapshot that went away (then nothing here is true)?"""
        if not force and time.monotonic() - self.exists_checked < 60:
            return
        tokens = {s.token for s in self.client.enumerate_snapshots(self.share, "")}
        if self.snap.token not in tokens:
            raise SnapshotGone(self.snap.token)
        self.exists_checked = time.monotonic()

    # --- writing ------------------------------------------------------------------------------------

    def _collect(self, folder: _Folder, diff: FolderDiff, paths: dict, digest: str) -> dict:
        """A folder new to the catalog (every child new): its rows go with the next batch (fresh.py)."""
        ids = self.fresh_rows.add(folder.id, digest, diff.added, paths, self.sd_ids)
        self.new_folders.update(ids[c.key] for c in diff.added if c.is_dir)
        folder.listed_idx, folder.digest = self.n, digest
        self.counts["folders_done"] += 1
        self.counts["rows_written"] += len(diff.added)
        if len(self.fresh_rows) >= BATCH_ROWS:
            self._flush(changed=False)
        return ids

    def _unlisted(self, folder: _Folder) -> None:
        """A folder of the snapshot that cannot be listed: nothing below it is known at n."""
        self._write_changed()
        with transaction.atomic():
            self._flush(inside=True)
            self._close_below([folder.id])
            CatalogEntry.objects.filter(id=folder.id).update(listed_idx=self.n, digest="")
            folder.listed_idx, folder.digest = self.n, ""
            snap = CatalogSnapshot.objects.select_for_update().get(id=self.snap.id)
            snap.unlisted_folders += 1
            snap.folders_done += 1
            if len(snap.unlisted) < MAX_UNLISTED:
                snap.unlisted = snap.unlisted + [folder.path.lower()]
            snap.save(update_fields=["unlisted_folders", "folders_done", "unlisted"])

    def _flush(self, inside: bool = False, *, changed: bool = True) -> None:
        """Write the fresh folders, mark the unchanged folders done for n, save the counters (a checkpoint),
        and with ``changed`` write the changed folders waiting for their group first (they wait otherwise:
        a folder's checkpoint does not depend on its parent's). ``inside``: within a group's transaction."""
        if changed and not inside:
            self._write_changed()
        counts = {k: F(k) + v for k, v in self.counts.items() if v}
        if not self.pending and not counts and not len(self.fresh_rows):
            return
        with transaction.atomic():
            self.fresh_rows.write()
            for i in range(0, len(self.pending), 500):
                CatalogEntry.objects.filter(id__in=self.pending[i:i + 500]).update(listed_idx=self.n)
            if counts:
                CatalogSnapshot.objects.filter(id=self.snap.id).update(**counts)
        self.pending = []
        self.counts = dict.fromkeys(self.counts, 0)
        if not inside:
            self.last_flush = time.monotonic()
            _renew(self.source.id, self.owner)


def no_wal_wait(on: bool) -> None:
    """For a build (the session's setting, set once and reset after): PostgreSQL commits the builder's
    transactions without waiting for their WAL to reach the disk (~2.5 ms per commit here, one commit per
    changed folder). A crash of the database server can lose the last moments of catalogue work, never
    half of a folder: its rows and its checkpoint are one transaction, so the next build lists those
    folders again."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF" if on else "RESET synchronous_commit")
