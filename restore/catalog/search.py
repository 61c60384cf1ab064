"""Search by name across every catalogued snapshot of a person's roots, deleted folders included.

What a person is shown (decided here, from the catalog alone, without asking the file server):
  - a file version in a snapshot only when that snapshot's security descriptor of the file lets
    them read it (``previous_versions.may_read``), and every folder from their root down to the
    file's folder let them list it in that same snapshot — the results are what browsing that
    snapshot would have shown them, never more;
  - a folder likewise (its own SD must let them list it);
  - nothing whose SD the catalog does not know (Samba 4.17 inside folders deleted live, or an ACL
    that refuses the portal READ_CONTROL): it fails closed, and such a match is counted in
    ``Results.hidden`` when the person could list its folders (so the count names nothing new).
Decisions are cached per (SD sha256, token, file/folder): descriptors repeat a lot.
Only the page of results returned is checked live ("still there now?"), in one pipelined request.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Value
from django.db.models.functions import Upper

from restore import smb
from restore.catalog.logic import Query, ancestors, group_versions, present
from restore.models.catalog import (
    CatalogEntry,
    CatalogSecurityDescriptor,
    CatalogSnapshot,
    CatalogVersion,
    SnapshotState,
)
from restore.nt.access import Token
from restore.versions import browse as pv
from restore.versions import catalogued as catalogued_
from restore.versions import roots as roots_
from restore.versions.paths import path_key
from restore.versions.roots import Root

log = logging.getLogger(__name__)

MAX_CANDIDATES = 2000  # names matched per root before the access check; more: "refine your search"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class HitVersion:
    size: int
    last_write: datetime
    snapshots: tuple[smb.Snapshot, ...]  # newest first


@dataclass
class Hit:
    root: Root
    path: str  # relative to the root, backslashes
    name: str
    is_dir: bool
    versions: list[HitVersion]
    exists_live: bool | None = None  # None: the file server did not answer

    @property
    def last_seen(self) -> smb.Snapshot:
        return self.versions[0].snapshots[0]

    @property
    def deleted(self) -> bool:
        return self.exists_live is False


@dataclass
class Coverage:
    root: Root
    catalogued: bool
    snapshots: int = 0  # catalogued and still on the server
    pending: int = 0
    newest: smb.Snapshot | None = None


@dataclass
class Results:
    query: Query
    hits: list[Hit] = field(default_factory=list)
    truncated: bool = False
    coverage: list[Coverage] = field(default_factory=list)
    hidden: int = 0  # matches left out: the portal cannot read their permissions


# --- access decisions, cached ------------------------------------------------------------------------


class Decisions:
    """may_read per (SD sha256, token, is_dir), kept across searches in this process (bounded)."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self._cache: OrderedDict = OrderedDict()

    def allows(self, sha: str, data: bytes, token: Token, is_dir: bool) -> bool:
        key = (sha, token, is_dir)
        hit = self._cache.get(key)
        if hit is None:
            hit = pv.may_read(data, token, is_dir)
            self._cache[key] = hit
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return hit


DECISIONS = Decisions()


# --- search --------------------------------------------------------------------------------------


def search(token: Token, roots: list[Root], query: Query, *, limit: int = DEFAULT_LIMIT,
           check_live: bool = True) -> Results:
    """Every root in ``roots`` is searched (pass one root to search only that one)."""
    results = Results(query)
    for root in roots:
        coverage, hits, truncated, hidden = _search_root(token, root, query)
        results.hidden += hidden
        results.coverage.append(coverage)
        results.hits.extend(hits)
        results.truncated |= truncated
    results.hits.sort(key=lambda h: (-h.last_seen.at.timestamp(), h.root.id, h.path.lower()))
    if len(results.hits) > limit:
        results.hits = results.hits[:limit]
        results.truncated = True
    if check_live:
        _check_live(token, results.hits)
    return results


@dataclass(frozen=True)
class _Snap:
    index: int
    snapshot: smb.Snapshot


def _search_root(token: Token, root: Root, query: Query) -> tuple[Coverage, list[Hit], bool, int]:
    where = roots_.location(root)
    source = catalogued_.covering(where)
    if source is None:
        return Coverage(root, catalogued=False), [], False, 0
    done = [_Snap(i, smb.Snapshot.from_token(t)) for i, t in CatalogSnapshot.objects.filter(
        source=source, state=SnapshotState.DONE).order_by("index").values_list("index", "token")]
    pending = CatalogSnapshot.objects.filter(source=source).exclude(
        state__in=[SnapshotState.DONE, SnapshotState.GONE]).count()
    coverage = Coverage(root, True, len(done), pending, done[-1].snapshot if done else None)
    if not done:
        return coverage, [], False, 0

    entries = CatalogEntry.objects.filter(source=source).annotate(uname=Upper("name"))
    if where.path:
        entries = entries.filter(path__istartswith=where.path + "\\")
    entries = (entries.filter(uname__regex=Upper(Value(query.regex))) if query.glob
               else entries.filter(uname__contains=Upper(Value(query.text))))
    candidates = list(entries.order_by("-id").values_list("id", "path", "name", "is_dir")[:MAX_CANDIDATES + 1])
    truncated = len(candidates) > MAX_CANDIDATES
    candidates = candidates[:MAX_CANDIDATES]
    if not candidates:
        return coverage, [], truncated, 0

    chains = {entry_id: ancestors(where.path, path) for entry_id, path, _, _ in candidates}
    folder_keys = {path_key(p) for chain in chains.values() for p in chain}
    folders = dict(CatalogEntry.objects.filter(source=source, is_dir=True, path_key__in=folder_keys)
                   .values_list("path_key", "id"))
    rows = _rows([e for e, *_ in candidates] + list(folders.values()))
    sds = dict((i, (sha, bytes(data))) for i, sha, data in CatalogSecurityDescriptor.objects.filter(
        id__in={sd for rs in rows.values() for *_, sd in rs if sd is not None}).values_list("id", "sha256", "data"))
    indices = [s.index for s in done]
    by_index = {s.index: s.snapshot for s in done}

    def visible(entry_id: int, is_dir: bool, unknown: bool = False) -> dict[int, tuple[int, datetime]]:
        """{snapshot index: (size, last_write)} where the entry exists and its own SD allows (with
        ``unknown``: where it exists and its SD is not known)."""
        out = {}
        for first, last, size, last_write, sd in rows.get(entry_id, ()):
            if unknown != (sd is None) or (sd is not None and not DECISIONS.allows(*sds[sd], token, is_dir)):
                continue
            for index in present(first, last, indices):
                out[index] = (size, last_write)
        return out

    listable: dict[int, set[int]] = {}

    def reachable(entry_id: int, seen: dict) -> dict:
        """``seen`` narrowed to the snapshots where every folder down to the entry let the person list it."""
        for folder_path in chains[entry_id]:
            if not seen:
                break
            folder_id = folders.get(path_key(folder_path))
            if folder_id is None:
                return {}
            if folder_id not in listable:
                listable[folder_id] = set(visible(folder_id, True))
            seen = {i: v for i, v in seen.items() if i in listable[folder_id]}
        return seen

    hits, hidden = [], 0
    for entry_id, path, name, is_dir in candidates:
        seen = reachable(entry_id, visible(entry_id, is_dir))
        if not seen:
            hidden += bool(reachable(entry_id, visible(entry_id, is_dir, unknown=True)))
            continue
        relative = path[len(where.path) + 1:] if where.path else path
        if is_dir:
            newest = max(seen)
            versions = [HitVersion(0, seen[newest][1], tuple(by_index[i] for i in sorted(seen, reverse=True)))]
        else:
            versions = [HitVersion(v.size, v.last_write, tuple(by_index[i] for i in v.indices))
                        for v in group_versions((i, s, lw) for i, (s, lw) in seen.items())]
        hits.append(Hit(root, relative, name, is_dir, versions))
    return coverage, hits, truncated, hidden


def _rows(entry_ids: list[int]) -> dict[int, list[tuple]]:
    rows: dict[int, list[tuple]] = {}
    for i in range(0, len(entry_ids), 1000):
        for entry_id, *row in CatalogVersion.objects.filter(entry_id__in=entry_ids[i:i + 1000]).values_list(
                "entry_id", "first_idx", "last_idx", "size", "last_write", "sd_id"):
            rows.setdefault(entry_id, []).append(tuple(row))
    return rows


def _check_live(token: Token, hits: list[Hit]) -> None:
    """exists_live for each hit: the object is there now and the person may read it now."""
    by_share: dict[tuple[str, str], list[tuple[Hit, str]]] = {}
    for hit in hits:
        where = roots_.location(hit.root, hit.path)
        by_share.setdefault((where.server, where.share), []).append((hit, where.path))
    for (server, share), items in by_share.items():
        try:
            found = smb.client_for(server).security_descriptors_many(share, [p for _, p in items])
        except smb.SmbError as exc:
            log.warning("search: could not check %d results live on \\\\%s\\%s: %s", len(items), server, share, exc)
            continue
        for hit, p in items:
            data = found.get(p)
            hit.exists_live = data is not None and pv.may_read(data, token, hit.is_dir)  # UNREADABLE: False
