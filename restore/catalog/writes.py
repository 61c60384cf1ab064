"""A catalogue build's writes for folders that changed since the previous snapshot, many folders at a time.

A changed folder costs a look-up of its open rows, the SDs of its new and changed objects (on-change),
and its differences and checkpoint. Done one folder per transaction that was ~8 statements and an SMB
round trip per folder, on the walk's thread (measured: ~3.2 s per snapshot of the 20,000-file bench
tree with ~150 changed folders, against a 2.1 s walk). So changed folders wait in a group (``changed``)
and are written together: their open rows in one query, their SDs in one pipelined call, and one
transaction whose statements each cover the whole group. A folder's rows and its checkpoint are still in
one transaction (a group's), so a build that stops leaves no folder half written.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from restore.catalog.logic import Child, FolderDiff, Row, diff_folder
from restore.catalog.rows import fill_sds, version_row
from restore.models.catalog import CatalogEntry, CatalogSecurityDescriptor, CatalogVersion
from restore.smb.types import from_unix_microseconds
from restore.versions.paths import path_key

GROUP = 64  # changed folders written together
CHUNK = 1000  # ids per IN list


@dataclass
class Changed:
    """A listed folder whose digest differs from the previous snapshot's: written with its group."""

    folder: object  # walk._Folder
    children: list[Child]
    paths: dict  # child key -> path
    digest: str
    raw_sds: dict | None  # the children's SDs when the listing threads read them


@dataclass
class Item:
    """One folder's differences to write: ``parent`` gets the new entries, ``folder`` (None: no
    checkpoint, e.g. the source's own folder) is marked listed at n with ``digest``."""

    parent: object | None
    diff: FolderDiff
    paths: dict
    folder: object | None
    digest: str | None
    fresh: bool = False


class GroupWrites:
    """Mixed into SnapshotBuild (walk.py): expects source, n, prev, exact, folders, new_folders, sd_ids,
    counts, changed, ``_flush(inside=True)`` and ``_hash_sds``/``_read_sds``."""

    def _open_rows(self, *, entry_ids: list[int]) -> list[Row]:
        return [row for rows in self._open_rows_of(CatalogEntry.objects.filter(id__in=entry_ids)).values()
                for row in rows]

    def _open_rows_below(self, parent_ids: list[int]) -> dict[int, list[Row]]:
        """{folder id: the open rows of its children}, for many folders at once."""
        found: dict[int, list[Row]] = {}
        for i in range(0, len(parent_ids), CHUNK):
            for parent_id, rows in self._open_rows_of(
                    CatalogEntry.objects.filter(parent_id__in=parent_ids[i:i + CHUNK])).items():
                found.setdefault(parent_id, []).extend(rows)
        return found

    def _open_rows_of(self, entries) -> dict[int | None, list[Row]]:
        """The open rows of ``entries`` by parent id. Two look-ups, each by its own index (entries by parent,
        then versions by entry and last_idx): as one join PostgreSQL scanned every version row per group.
        SDs by id from what this build knows (``sd_ids``), asked for only when unknown."""
        names = {e: (parent, name, is_dir) for e, parent, name, is_dir in entries.values_list(
            "id", "parent_id", "name", "is_dir")}
        versions = []
        ids = list(names)
        for i in range(0, len(ids), CHUNK):
            versions += _open_versions(ids[i:i + CHUNK])
        shas = {sd_id: sha for sha, sd_id in self.sd_ids.items()}
        unknown = {v[6] for v in versions if v[6] is not None and v[6] not in shas}
        if unknown:
            found = CatalogSecurityDescriptor.objects.filter(id__in=unknown).values_list("sha256", "id")
            self.sd_ids.update(found)
            shas.update((sd_id, sha) for sha, sd_id in found)
        out: dict[int | None, list[Row]] = {}
        for v, e, size, last_write, changed, attributes, sd_id in versions:
            parent, name, is_dir = names[e]
            out.setdefault(parent, []).append(Row(version_id=v, entry_id=e, name=name, is_dir=is_dir, size=size,
                                                  last_write=last_write, changed=changed, attributes=attributes,
                                                  sd=shas.get(sd_id)))
        return out

    def _write_changed(self) -> dict[int, dict]:
        """Write the waiting changed folders; {folder id: {child key: entry id}}."""
        group, self.changed = self.changed, []
        if not group:
            return {}
        rows = self._open_rows_below([c.folder.id for c in group])
        diffs = [diff_folder(c.children, rows.get(c.folder.id, []), compare_sd=self.exact) for c in group]
        if not self.exact:
            diffs = self._fill_changed_sds(group, diffs)
        ids = self._apply_many([Item(c.folder, d, c.paths, c.folder, c.digest) for c, d in zip(group, diffs)])
        return {c.folder.id: i for c, i in zip(group, ids)}

    def _fill_changed_sds(self, group: list[Changed], diffs: list[FolderDiff]) -> list[FolderDiff]:
        """On-change: the SDs of new and changed objects of these folders; those the listing threads did not
        read, in one call (also for a single folder new to the catalog)."""
        wanted = [c.paths[child.key] for c, d in zip(group, diffs) for child in d.needs_sd()]
        have = {p: sd for c in group if c.raw_sds for p, sd in c.raw_sds.items()}
        known = self._hash_sds([p for p in wanted if p in have], have)
        known.update(self._read_sds([p for p in wanted if p not in have]))
        return [fill_sds(d, {child.key: known[c.paths[child.key]] for child in d.needs_sd()})
                for c, d in zip(group, diffs)]

    def _apply(self, parent, diff: FolderDiff, paths: dict, *, folder, digest: str | None,
               fresh: bool = False) -> dict:
        """One folder's differences (the source's own folder, a container's file, a folder new to the
        catalog without COPY): written at once, after the waiting group."""
        self._write_changed()
        return self._apply_many([Item(parent, diff, paths, folder, digest, fresh)])[0]

    def _apply_many(self, items: list[Item]) -> list[dict]:
        """The folders' differences and checkpoints in one transaction; per item {child key: entry id}.
        The snapshot's counters are saved with it (they are progress, not state)."""
        with transaction.atomic():
            self._flush(inside=True)
            ids = self._entries(items)
            closing, gone_dirs, new_rows = [], [], []
            for item, found in zip(items, ids):
                diff = item.diff
                for row, child in diff.changed + diff.renamed:
                    found[child.key] = row.entry_id
                closing += [r.version_id for r in diff.removed] + [r.version_id for r, _ in diff.changed]
                gone_dirs += [r.entry_id for r in diff.removed if r.is_dir]
                new_rows += [version_row(found[c.key], self.n, c, self.sd_ids) for c in diff.added]
                new_rows += [version_row(row.entry_id, self.n, c, self.sd_ids) for row, c in diff.changed]
                for row, child in diff.renamed:
                    CatalogEntry.objects.filter(id=row.entry_id).update(name=child.name, path=item.paths[child.key])
            if closing and self.prev is None:  # cannot happen: without a previous snapshot nothing is open
                raise AssertionError("open rows without a previous snapshot")
            for i in range(0, len(closing), CHUNK):
                CatalogVersion.objects.filter(id__in=closing[i:i + CHUNK]).update(last_idx=self.prev)
            if gone_dirs:
                self._close_below(gone_dirs)
            CatalogVersion.objects.bulk_create(new_rows)
            done = [item for item in items if item.folder is not None]
            if done:
                CatalogEntry.objects.bulk_update(
                    [CatalogEntry(id=item.folder.id, listed_idx=self.n, digest=item.digest) for item in done],
                    ["listed_idx", "digest"])
            for item in done:
                item.folder.listed_idx, item.folder.digest = self.n, item.digest
            self.counts["folders_done"] += len(done)
            self.counts["rows_written"] += len(closing) + len(new_rows)
        return ids

    def _entries(self, items: list[Item]) -> list[dict]:
        """Entry ids for new children: existing entries (a path back after a deletion) or new ones
        (only new ones below a folder new to the catalog: ``fresh``)."""
        ids: list[dict] = [{} for _ in items]
        keys = {}  # (path key, is_dir) -> (item number, child)
        for number, item in enumerate(items):
            for c in item.diff.added:
                keys[(path_key(item.paths[c.key]), c.is_dir)] = (number, c)
        looked_up = [k for k, (number, _) in keys.items() if not items[number].fresh]
        for i in range(0, len(looked_up), CHUNK):
            existing = CatalogEntry.objects.filter(
                source=self.source, path_key__in=[k for k, _ in looked_up[i:i + CHUNK]]).values_list(
                "id", "path_key", "is_dir", "name")
            for entry_id, key, is_dir, name in existing:
                number, child = keys.pop((key, is_dir), (None, None))
                if child is not None:
                    ids[number][child.key] = entry_id
                    if name != child.name:
                        path = items[number].paths[child.key]
                        CatalogEntry.objects.filter(id=entry_id).update(name=child.name, path=path)
        created = CatalogEntry.objects.bulk_create([
            CatalogEntry(source=self.source, parent_id=items[number].parent.id if items[number].parent else None,
                         path=items[number].paths[c.key], path_key=key, name=c.name, is_dir=c.is_dir)
            for (key, _), (number, c) in keys.items()
        ])
        for entry, (number, child) in zip(created, keys.values()):
            ids[number][child.key] = entry.id
            if child.is_dir:
                self.new_folders.add(entry.id)
        return ids

    def _close_below(self, folder_ids: list[int]) -> None:
        """Everything below folders that are gone (or cannot be listed) is not in snapshot n."""
        below = set(folder_ids)
        frontier = list(folder_ids)
        children_of: dict[int, list[int]] = {}
        for f in self.folders.values():
            if f.parent_id is not None:
                children_of.setdefault(f.parent_id, []).append(f.id)
        while frontier:
            for child in children_of.get(frontier.pop(), []):
                if child not in below:
                    below.add(child)
                    frontier.append(child)
        if self.prev is not None:
            below = list(below)
            for i in range(0, len(below), CHUNK):
                CatalogVersion.objects.filter(entry__parent_id__in=below[i:i + CHUNK], last_idx__isnull=True).update(
                    last_idx=self.prev)


def _open_versions(entry_ids: list[int]) -> list[tuple]:
    """(id, entry id, size, last write, change time, attributes, SD id) of the entries' open rows. On
    PostgreSQL the times come as microseconds since 1970: Django reads a timestamptz with a loader written
    in Python (~10 us a value), and these were most of a changed folder's look-up."""
    if connection.vendor != "postgresql":
        return list(CatalogVersion.objects.filter(entry_id__in=entry_ids, last_idx__isnull=True).values_list(
            "id", "entry_id", "size", "last_write", "changed", "attributes", "sd_id"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, entry_id, size, (extract(epoch FROM last_write) * 1000000)::bigint, "
            f"(extract(epoch FROM changed) * 1000000)::bigint, attributes, sd_id FROM {CatalogVersion._meta.db_table} "
            "WHERE entry_id = ANY(%s) AND last_idx IS NULL", [entry_ids])
        return [(v, e, size, from_unix_microseconds(lw), from_unix_microseconds(ch), attributes, sd_id)
                for v, e, size, lw, ch, attributes, sd_id in cursor.fetchall()]
