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

import bisect
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, Value, When
from django.db.models.functions import Upper

from restore import smb
from restore.catalog import containers, sources
from restore.catalog.logic import Query, ancestors, cursor_key, encode_cursor, group_versions
from restore.models.catalog import (
    CatalogEntry,
    CatalogSecurityDescriptor,
    CatalogVersion,
)
from restore.nt.access import Token
from restore.versions import browse as pv
from restore.versions import catalogued as catalogued_
from restore.versions import roots as roots_
from restore.versions.container_client import client_for
from restore.versions.container_roots import is_container
from restore.versions.paths import path_key
from restore.versions.roots import Root
from restore.versions.sessions import server_client  # the person's session with delegation

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
    pending: int = 0  # waiting or being built
    newest: smb.Snapshot | None = None
    building: bool = False  # a build holds the source now
    seconds_left: float | None = None  # about how long the pending snapshots will take (None: not known yet)
    progress: str = ""  # "catalogued 12 of 30 snapshots, about 2 minutes left"


@dataclass
class Results:
    query: Query
    hits: list[Hit] = field(default_factory=list)
    truncated: bool = False  # more names matched than are examined: refine the search
    coverage: list[Coverage] = field(default_factory=list)
    hidden: int = 0  # matches left out: the portal cannot read their permissions
    next_cursor: str | None = None  # the next page of hits (None: this is the last)


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


def search(token: Token, roots: list[Root], query: Query, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None,
           check_live: bool = True) -> Results:
    """Every root in ``roots`` is searched (pass one root to search only that one). Hits are ranked
    exact name first, then newest (last seen) first; ``cursor`` (a previous page's ``next_cursor``)
    continues after that page's last hit. BadQuery for a cursor that is not one."""
    after = cursor_key(cursor) if cursor else None
    results = Results(query)
    matches: list[_Match] = []
    with transaction.atomic():
        _index_friendly()
        for root in roots:
            coverage, found, truncated, hidden = _search_root(token, root, query)
            results.hidden += hidden
            results.coverage.append(coverage)
            matches.extend(found)
            results.truncated |= truncated
    matches.sort(key=lambda m: m.key)
    if after is not None:
        matches = [m for m in matches if m.key > after]
    page = matches[:limit]
    if len(matches) > limit:
        results.next_cursor = encode_cursor(page[-1].key)
    results.hits = _hits(page)
    if check_live:
        _check_live(token, results.hits)
    return results


def _index_friendly() -> None:
    """For this search's transaction (PostgreSQL): index pages cost what they cost when the catalog is
    in memory or on SSD (random_page_cost 1.1 instead of 4). With the default the planner scanned all
    22,000 names (upper() and LIKE on each: 64-84 ms) rather than use the trigram index (15-28 ms),
    measured at 20,000 files (7 snapshots) on a loaded 2-core machine."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL random_page_cost = 1.1")


@dataclass
class _Match:
    """A name match the person may see in at least one snapshot; its versions are read only if it is
    on the page returned."""

    key: tuple  # the rank: (0 exact name / 1 other, -last seen time, root, path, is_dir)
    root: Root
    path: str  # relative to the root
    name: str
    is_dir: bool
    seen: int  # snapshots (bit i: the root's i-th catalogued snapshot) where the person may see it
    rows: list[tuple[int, int]]  # (version id, its snapshots as bits)
    snapshots: list[smb.Snapshot]  # the root's catalogued snapshots, oldest first


def _bits(first: int, last: int | None, indices: list[int]) -> int:
    """The positions in ``indices`` (sorted snapshot indices) inside [first, last] as a bit mask."""
    lo = bisect.bisect_left(indices, first)
    hi = len(indices) if last is None else bisect.bisect_right(indices, last)
    return ((1 << hi) - 1) ^ ((1 << lo) - 1) if hi > lo else 0


def _search_root(token: Token, root: Root, query: Query) -> tuple[Coverage, list[_Match], bool, int]:
    where = roots_.location(root)
    source = containers.source_of(root) if is_container(root) else catalogued_.covering(where)
    if source is None:
        return Coverage(root, catalogued=False), [], False, 0
    state = sources.build_state(source)
    snapshots = [smb.Snapshot.from_token(t) for _, t in state.done]
    coverage = Coverage(root, True, len(snapshots), state.pending, snapshots[-1] if snapshots else None,
                        state.building, state.seconds_left, state.text)
    if not snapshots:
        return coverage, [], False, 0
    indices = [i for i, _ in state.done]

    entries = CatalogEntry.objects.filter(source=source).annotate(uname=Upper("name"))
    if where.path:
        entries = entries.filter(path__istartswith=where.path + "\\")
    if query.glob:
        entries = entries.filter(uname__regex=Upper(Value(query.regex))).order_by("-id")
    else:
        wanted = Upper(Value(query.text))
        entries = entries.filter(uname__contains=wanted).order_by(
            Case(When(uname=wanted, then=Value(0)), default=Value(1)), "-id")
    # One query: the matches (at most MAX_CANDIDATES + 1, best ranked first) with their version rows.
    rows: dict[int, list[tuple]] = {}
    names: dict[int, tuple] = {}
    for entry_id, path, name, is_dir, *row in CatalogVersion.objects.filter(
            entry_id__in=entries.values("id")[:MAX_CANDIDATES + 1]).values_list(
            "entry_id", "entry__path", "entry__name", "entry__is_dir", "id", "first_idx", "last_idx", "sd_id"):
        names[entry_id] = (entry_id, path, name, is_dir)
        rows.setdefault(entry_id, []).append(tuple(row))
    truncated = len(names) > MAX_CANDIDATES
    candidates = list(names.values())
    if not candidates:
        return coverage, [], truncated, 0

    # The folders from the root down to each match's folder, once per distinct folder.
    chains: dict[str, list[str]] = {}
    for _, path, _, _ in candidates:
        parent = path.rpartition("\\")[0]
        if parent.lower() not in chains:
            chains[parent.lower()] = [path_key(p) for p in ancestors(where.path, path)]
    folders: dict[str, int] = {}
    for key, entry_id, *row in CatalogVersion.objects.filter(
            entry__source=source, entry__is_dir=True,
            entry__path_key__in={k for chain in chains.values() for k in chain}).values_list(
            "entry__path_key", "entry_id", "id", "first_idx", "last_idx", "sd_id"):
        folders[key] = entry_id
        rows.setdefault(entry_id, []).append(tuple(row))
    gate = containers.gate(source) if containers.is_container_source(source) else None
    if gate is not None:  # the container file's rows: who may open the container in each snapshot
        rows[gate[0]] = gate[1]
    allowed = _allowed(token, rows)

    spans: dict[tuple[int, int | None], int] = {}

    def visible(entry_id: int, is_dir: bool) -> tuple[int, int, list[tuple[int, int]]]:
        """(snapshots where it exists and its own SD allows, where its SD is not known, those rows)."""
        seen = unknown = 0
        mine = []
        for version_id, first, last, sd in rows.get(entry_id, ()):
            bits = spans.get((first, last))
            if bits is None:
                bits = spans[(first, last)] = _bits(first, last, indices)
            if sd is None:
                unknown |= bits
            elif allowed(sd, is_dir):
                seen |= bits
                mine.append((version_id, bits))
        return seen, unknown, mine

    listable: dict[str, int] = {}  # folder chain -> snapshots where every folder of it could be listed
    everywhere = (1 << len(indices)) - 1
    if gate is not None:  # inside a container: only where the person may read the container file
        everywhere = visible(gate[0], False)[0]

    def reachable(parent: str) -> int:
        if parent not in listable:
            bits = everywhere
            for key in chains[parent]:
                folder_id = folders.get(key)
                bits &= visible(folder_id, True)[0] if folder_id is not None else 0
                if not bits:
                    break
            listable[parent] = bits
        return listable[parent]

    exact_name = None if query.glob else query.text.upper()
    matches, hidden = [], 0
    for entry_id, path, name, is_dir in candidates:
        own, unknown, mine = visible(entry_id, is_dir)
        parent = path.rpartition("\\")[0].lower()
        seen = own & reachable(parent) if own else 0
        if not seen:
            hidden += bool(unknown and unknown & reachable(parent))
            continue
        relative = path[len(where.path) + 1:] if where.path else path
        newest = snapshots[seen.bit_length() - 1]
        key = (0 if name.upper() == exact_name else 1, -newest.at.timestamp(), root.id, relative.lower(), is_dir)
        matches.append(_Match(key, root, relative, name, is_dir, seen, mine, snapshots))
    return coverage, matches, truncated, hidden


def _allowed(token: Token, rows: dict[int, list[tuple]]):
    """allowed(sd id, is_dir): each distinct descriptor of these rows is read once and decided once
    per search (and across searches by DECISIONS, keyed by its sha256 and the token)."""
    sds = {i: (sha, bytes(data)) for i, sha, data in CatalogSecurityDescriptor.objects.filter(
        id__in={r[3] for rs in rows.values() for r in rs if r[3] is not None}).values_list("id", "sha256", "data")}
    decided: dict[tuple[int, bool], bool] = {}

    def allowed(sd: int, is_dir: bool) -> bool:
        answer = decided.get((sd, is_dir))
        if answer is None:
            answer = decided[(sd, is_dir)] = DECISIONS.allows(*sds[sd], token, is_dir)
        return answer

    return allowed


def _hits(page: list[_Match]) -> list[Hit]:
    """The page's hits with their versions: sizes and times read for these rows only."""
    meta = {}
    ids = [version_id for m in page for version_id, _ in m.rows]
    for i in range(0, len(ids), 5000):
        meta.update((v, (size, lw)) for v, size, lw in CatalogVersion.objects.filter(id__in=ids[i:i + 5000])
                    .values_list("id", "size", "last_write"))
    hits = []
    for m in page:
        if m.is_dir:
            newest = m.seen.bit_length() - 1
            last_write = next(meta[v][1] for v, bits in m.rows if bits >> newest & 1)
            held = tuple(m.snapshots[i] for i in range(newest, -1, -1) if m.seen >> i & 1)
            versions = [HitVersion(0, last_write, held)]
        else:
            seen = []
            for version_id, bits in m.rows:
                size, last_write = meta[version_id]
                bits &= m.seen
                seen.extend((i, size, last_write) for i in range(bits.bit_length()) if bits >> i & 1)
            versions = [HitVersion(v.size, v.last_write, tuple(m.snapshots[i] for i in v.indices))
                        for v in group_versions(seen)]
        hits.append(Hit(m.root, m.path, m.name, m.is_dir, versions))
    return hits


def _check_live(token: Token, hits: list[Hit]) -> None:
    """exists_live for each hit: the object is there now and the person may read it now."""
    by_share: dict[tuple[str, str, str], list[tuple[Hit, str]]] = {}
    for hit in hits:  # a container's hits: asked inside the container now (its file checked first)
        where = roots_.location(hit.root, hit.path)
        by_share.setdefault((where.server, where.share, hit.root.id if is_container(hit.root) else ""),
                            []).append((hit, where.path))
    for (server, share, container), items in by_share.items():
        client = client_for(items[0][0].root, token) if container else server_client(server, token)
        try:
            found = client.security_descriptors_many(share, [p for _, p in items])
        except smb.SmbError as exc:
            if not (container and isinstance(exc, smb.NotFound)):
                log.warning("search: could not check %d results live on \\\\%s\\%s: %s", len(items), server, share, exc)
                continue
            found = {}  # no container now, or not the person's to open: deleted since
        for hit, p in items:
            data = found.get(p)
            hit.exists_live = data is not None and pv.may_read(data, token, hit.is_dir)  # UNREADABLE: False
