"""Folders new to the catalog, written in batches with PostgreSQL COPY.

Below a folder the build has just created nothing is catalogued yet: every child is a new entry with
one new version row, nothing is looked up, nothing closed. Writing such folders one transaction each
(an INSERT of entries, one of versions, the checkpoint, the commit: ~6 statements per folder) made the
first snapshot's database work ~90 s of 221 s for 2,000 folders. Here their rows are collected and
written together: entry ids are taken from the table's sequence in blocks (children need their
folder's id before it is written), entries and versions are sent with COPY, and the folders'
checkpoints with one UPDATE, in one transaction per batch. A folder's rows and its checkpoint are
always in the same batch, so a build that stops loses whole folders only, which the next build lists
again (it finds their entries not listed and their rows missing). PostgreSQL only: elsewhere the
builder writes each folder itself (``enabled`` is False).
"""

from __future__ import annotations

from django.db import connection

from restore.catalog.logic import Child
from restore.models.catalog import CatalogEntry, CatalogVersion
from restore.versions.paths import path_key

BATCH_ROWS = 5000  # entries collected before they are written
ID_BLOCK = 2000  # entry ids taken from the sequence at a time

_ENTRY_COLUMNS = ("id", "source_id", "parent_id", "path", "path_key", "name", "is_dir", "digest", "listed_idx")
_VERSION_COLUMNS = ("entry_id", "first_idx", "last_idx", "size", "last_write", "changed", "attributes", "sd_id")


class FreshRows:
    def __init__(self, source_id: int, n: int):
        self.enabled = connection.vendor == "postgresql"
        self.source_id = source_id
        self.n = n
        self.entries: list[list] = []  # rows in _ENTRY_COLUMNS order (a folder's row is completed when listed)
        self.versions: list[tuple] = []
        self.buffered: dict[int, list] = {}  # entry id -> its row above, while not written
        self.listed: dict[int, str] = {}  # folders already in the database: id -> listing digest at n
        self._ids: list[int] = []

    def __len__(self) -> int:
        return len(self.entries) + len(self.listed)

    def add(self, folder_id: int, digest: str, added: list[Child], paths: dict, sd_ids: dict) -> dict:
        """A fresh folder's children (all new) and its checkpoint; {child key: new entry id}."""
        ids = {}
        for child in added:
            entry_id = self._next_id()
            row = [entry_id, self.source_id, folder_id, paths[child.key], path_key(paths[child.key]), child.name,
                   child.is_dir, "", None]
            self.entries.append(row)
            self.buffered[entry_id] = row
            self.versions.append((entry_id, self.n, None, child.size, child.last_write, child.changed,
                                  child.attributes, sd_ids.get(child.sd) if child.sd else None))
            ids[child.key] = entry_id
        row = self.buffered.get(folder_id)
        if row is not None:  # listed before its own row was written: written listed
            row[7], row[8] = digest, self.n
        else:
            self.listed[folder_id] = digest
        return ids

    def write(self) -> None:
        """Send what was collected (inside the caller's transaction)."""
        if not len(self):
            return
        with connection.cursor() as cursor:
            if self.entries:
                self._copy(cursor, CatalogEntry._meta.db_table, _ENTRY_COLUMNS, self.entries)
                self._copy(cursor, CatalogVersion._meta.db_table, _VERSION_COLUMNS, self.versions)
            if self.listed:
                cursor.execute(
                    f"UPDATE {CatalogEntry._meta.db_table} AS e SET listed_idx = %s, digest = v.digest "
                    "FROM unnest(%s::bigint[], %s::text[]) AS v(id, digest) WHERE e.id = v.id",
                    [self.n, list(self.listed), list(self.listed.values())])
        self.entries, self.versions, self.buffered, self.listed = [], [], {}, {}

    @staticmethod
    def _copy(cursor, table: str, columns: tuple, rows) -> None:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _next_id(self) -> int:
        if not self._ids:
            table = CatalogEntry._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                               [table, ID_BLOCK])
                self._ids = [row[0] for row in reversed(cursor.fetchall())]
        return self._ids.pop()
