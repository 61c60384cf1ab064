"""Previous Versions: a person's roots, their snapshots, folders as of a time, a file's timeline
and its bytes — every answer decided by the file server's ACLs evaluated for the person's token.

Reads go through the SMB adapter as the service account, or with SMB_AUTH=kerberos-delegation in
the person's own session (``sessions.py``: the server then refuses what is not theirs); what the
person may see is decided here too, object by object, from the security descriptor *of the version
being read* (a snapshot carries the ACL it had then). Anything the person cannot read does not exist
for them: it is hidden from listings (access-based enumeration) and answers NotFound, so names never
leak.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache

from restore import smb
from restore.nt.access import Token
from restore.versions import catalogued as catalog
from restore.versions import paths
from restore.versions.access import may_read  # noqa: F401 (pv.may_read for callers)
from restore.versions.container_client import client_for
from restore.versions.container_roots import ContainerUnreadable, is_container, snapshot_base
from restore.versions.paths import Unc
from restore.versions.roots import BadRequest, NotFound, Root, location

INLINE_TYPES = {"text/plain", "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}


TEXT_LIKE = {".txt", ".log", ".csv", ".json", ".xml", ".ini", ".js", ".md", ".htm", ".html", ".rtf", ".dic"}


def content_type_of(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None and any(name.lower().endswith(ext) for ext in TEXT_LIKE):
        return "text/plain"
    return guessed or "application/octet-stream"


log = logging.getLogger(__name__)


UNREADABLE_REASON = "the portal cannot read their permissions"


class Listing(list):
    """A folder's visible entries (a list of EntryView) and how many entries are hidden because the
    file server would not give the portal their permissions (they are never guessed visible)."""

    def __init__(self, entries=(), hidden: int = 0):
        super().__init__(entries)
        self.hidden = hidden


class Timeline(list):
    """A file's versions (a list of VersionView) and how many were hidden: permissions unreadable."""

    def __init__(self, rows=(), hidden: int = 0):
        super().__init__(rows)
        self.hidden = hidden


def snapshots(root: Root) -> list[smb.Snapshot]:
    """The root's snapshots, newest first (cached for SNAPSHOT_CACHE_SECONDS)."""
    base = snapshot_base(root)
    key = f"snapshots:{base.server}:{base.share}:{base.path}".lower()
    tokens = cache.get(key)
    if tokens is None:
        found = smb.client_for(base.server).enumerate_snapshots(base.share, base.path)
        tokens = [s.token for s in found]
        cache.set(key, tokens, settings.SNAPSHOT_CACHE_SECONDS)
    return sorted((smb.Snapshot.from_token(t) for t in tokens), key=lambda s: s.at, reverse=True)


_TOKEN = re.compile(r"^@GMT-\d{4}\.\d{2}\.\d{2}-\d{2}\.\d{2}\.\d{2}$")


def parse_at(root: Root, at: str | None) -> smb.Snapshot | None:
    """``at`` is a snapshot of this root (its @GMT token or its UTC time, ISO 8601), or empty for live."""
    if at in (None, "", "live"):
        return None
    if _TOKEN.match(at):
        try:
            wanted = smb.Snapshot.from_token(at).at
        except ValueError:  # the shape of a token, not a date (@GMT-2026.13.45-...)
            raise BadRequest("'at' names no valid time") from None
    else:
        try:
            wanted = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest("'at' must be a snapshot id (@GMT-YYYY.MM.DD-HH.MM.SS) or an ISO 8601 UTC time") from None
        if wanted.tzinfo is None:
            raise BadRequest("'at' must carry a time zone (use Z for UTC)")
        try:
            wanted = wanted.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is in no year Python can hold
            raise BadRequest("'at' is out of range") from None
    for snapshot in snapshots(root):
        if snapshot.at == wanted:
            return snapshot
    raise NotFound("no snapshot of this folder at that time")


# --- what the person may see ---------------------------------------------------------------------


@dataclass(frozen=True)
class EntryView:
    name: str
    path: str  # relative to the root
    is_dir: bool
    size: int
    last_write: datetime
    exists_live: bool


@dataclass(frozen=True)
class VersionView:
    """One distinct version of a file: the snapshots it appears in (newest first), or live."""

    snapshot: smb.Snapshot | None  # the newest snapshot holding this version; None for the live copy
    snapshots: tuple[smb.Snapshot, ...]
    live: bool
    size: int
    last_write: datetime

    @property
    def at(self) -> str:
        return "live" if self.live else self.snapshot.token


def _when(snapshot: smb.Snapshot | None) -> datetime | None:
    return snapshot.at if snapshot else None


def require_visible(client, where: Unc, token: Token, snapshot, *, want_dir: bool | None) -> smb.Entry:
    """stat + ACL check of one object at one time; NotFound when missing or not the person's to see
    (also when the server refuses the portal its permissions: what cannot be checked is not shown)."""
    try:
        entry = client.stat(where.share, where.path, at=_when(snapshot))
        sd = client.security_descriptor(where.share, where.path, at=_when(snapshot))
    except smb.NotFound:
        raise NotFound("not found") from None
    except smb.AccessDenied as exc:
        if smb.delegating():  # the person's own session: the server itself refused them (audited as denied)
            raise NotFound("not found", denied=True) from None
        log.info("hidden, %s: %s", UNREADABLE_REASON, exc)
        raise NotFound("not found") from None
    if want_dir is not None and entry.is_dir != want_dir:
        raise NotFound("not a folder" if want_dir else "not a file")
    if not may_read(sd, token, entry.is_dir):
        raise NotFound("not found", denied=True)
    return entry


def list_entries(token: Token, root: Root, path: str, at: smb.Snapshot | None) -> Listing:
    """A folder live or at a snapshot: what the person may read, with 'deleted since' marks. An entry
    whose permissions the server will not give the portal is hidden and counted (``Listing.hidden``);
    it never fails the folder."""
    where = location(root, path)
    client = client_for(root, token)
    known = catalog.folder(where, at) if at is not None and not is_container(root) else None  # as catalogued
    if known is None:
        require_visible(client, where, token, at, want_dir=True)
        entries = client.list_dir(where.share, where.path, at=_when(at))
    else:
        _require_visible_catalogued(client, where, token, at, known.folder)
        entries = known.entries
    if not entries:
        return Listing()
    child_paths = [paths.join(where.path, e.name) for e in entries]
    sds = dict(known.sds) if known is not None else {}
    ask = [p for p in child_paths if sds.get(p) is None]  # not catalogued: the server decides
    if ask:
        sds.update(client.security_descriptors_many(where.share, ask, at=_when(at)))
    visible = [e for e, p in zip(entries, child_paths) if sds.get(p) is not None and may_read(sds[p], token, e.is_dir)]
    # In the person's own session an unreadable descriptor is the server saying "not yours": not counted.
    hidden = 0 if smb.delegating() else sum(1 for p in child_paths if isinstance(sds.get(p), smb.Unreadable))
    live_names = _live_names(client, where) if at is not None else None
    return Listing([
        EntryView(
            name=e.name,
            path=paths.join(path, e.name),
            is_dir=e.is_dir,
            size=0 if e.is_dir else e.size,
            last_write=e.last_write,
            exists_live=True if live_names is None else e.name.lower() in live_names,
        )
        for e in sorted(visible, key=lambda e: (not e.is_dir, e.name.lower()))
    ], hidden)


def _require_visible_catalogued(client, where: Unc, token: Token, at, fact) -> None:
    """require_visible for a folder the catalog holds; its SD from the server when not catalogued."""
    if fact is None:
        raise NotFound("not found")
    if fact.sd is None:
        require_visible(client, where, token, at, want_dir=True)
    elif not may_read(fact.sd, token, True):
        raise NotFound("not found", denied=True)


def _live_names(client, where: Unc) -> set[str] | None:
    try:
        return {e.name.lower() for e in client.list_dir(where.share, where.path)}
    except smb.NotFound:
        return set()  # the whole folder was deleted since
    except ContainerUnreadable:
        return None  # a container in use (or damaged) now: what exists live is unknown


def versions(token: Token, root: Root, path: str) -> Timeline:
    """A file's timeline: one row per distinct version (same last-write time and size collapse, as
    Windows does), newest first, the live copy included, versions from before a deletion included.
    A version is shown only when that snapshot's ACL lets the person read it; one whose ACL the
    server will not give the portal is hidden and counted (``Timeline.hidden``)."""
    if not path:
        raise BadRequest("give the path of a file")
    where = location(root, path)
    client = client_for(root, token)
    snaps = snapshots(root)
    known = {} if is_container(root) else catalog.history(where, snaps)  # covered snapshots; the server for the rest
    ask = [s.at for s in snaps if s.at not in known]
    if is_container(root):
        found, live_fact = {at: (e, None) for at, e in (client.stat_at_many(where.share, where.path, ask)
                                                          if ask else {}).items()}, None
    else:  # one pipeline: each snapshot and the live file as one compound (open, descriptor, close)
        found = client.timeline_at_many(where.share, where.path, ask + [None])
        live_fact = found.pop(None)
    stats = {**known, **{at: entry for at, (entry, _sd) in found.items()}}
    unreadable = sum(1 for s in snaps if isinstance(stats.get(s.at), smb.Unreadable))
    present = [s for s in snaps if stats.get(s.at) and not stats[s.at].is_dir]
    sds = {at: fact.sd for at, fact in known.items() if fact is not None and fact.sd is not None}
    sds.update({at: sd for at, (_entry, sd) in found.items() if sd is not None})
    ask = [s.at for s in present if s.at not in sds]
    if ask:
        sds.update(client.security_descriptor_at_many(where.share, where.path, ask))
    readable = [s for s in present if sds.get(s.at) is not None and may_read(sds[s.at], token, False)]
    hidden = unreadable + sum(1 for s in present if isinstance(sds.get(s.at), smb.Unreadable))

    rows = Timeline()
    live, refused = _live_version(client, where, token, live_fact)
    hidden += refused
    if live is not None:
        rows.append(VersionView(None, (), True, live.size, live.last_write))
    for snap in readable:  # newest first
        entry = stats[snap.at]
        same = rows[-1] if rows and (rows[-1].size, rows[-1].last_write) == (entry.size, entry.last_write) else None
        if same is not None:
            rows[-1] = VersionView(same.snapshot or snap, same.snapshots + (snap,), same.live, same.size,
                                   same.last_write)
        else:
            rows.append(VersionView(snap, (snap,), False, entry.size, entry.last_write))
    if not rows:
        raise NotFound("not found")
    rows.hidden = hidden
    return rows


def _live_version(client, where: Unc, token: Token, fact) -> tuple[smb.Entry | None, int]:
    """The live file when the person may read it, and 1 when it exists but the server refuses the
    portal its permissions. ``fact`` is its (entry, descriptor) from the timeline's pipeline, or
    None to ask the server now."""
    if fact is None:
        try:
            return require_visible(client, where, token, None, want_dir=False), 0
        except (NotFound, ContainerUnreadable):  # a container in use now has no readable live copy
            return None, _live_unreadable(client, where)
    entry, sd = fact
    if not isinstance(entry, smb.Entry) or entry.is_dir or sd is None:
        return None, int(isinstance(entry, smb.Unreadable))
    if isinstance(sd, smb.Unreadable):
        return None, 1
    return (entry if may_read(sd, token, False) else None), 0


def _live_unreadable(client, where: Unc) -> int:
    """1 when the live file exists but the server refuses the portal its permissions, else 0."""
    found = client.security_descriptors_many(where.share, [where.path]).get(where.path)
    return 1 if isinstance(found, smb.Unreadable) else 0


@dataclass
class Content:
    entry: smb.Entry
    name: str
    chunks: object  # iterator of bytes, closes the SMB handle when exhausted or closed


CHUNK = 1024 * 1024


def open_content(token: Token, root: Root, path: str, at: smb.Snapshot | None) -> Content:
    """The bytes of a file live or at a snapshot, streamed in chunks, after the ACL check."""
    if not path:
        raise BadRequest("give the path of a file")
    where = location(root, path)
    client = client_for(root, token)
    entry = require_visible(client, where, token, at, want_dir=False)
    handle = client.open_read(where.share, where.path, at=_when(at))  # now: a refusal is told before any byte
    return Content(entry=entry, name=paths.name_of(where.path), chunks=_Chunks(handle))


class _Chunks:
    """A file's bytes in chunks; its handle is closed when they are exhausted, fail, or are closed
    (also when never started: a response that is not sent still gives the handle back)."""

    def __init__(self, handle):
        self._handle, self._chunks = handle, None

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            self._chunks = self._handle.iter_chunks(CHUNK)
        try:
            return next(self._chunks)
        except BaseException:  # StopIteration included: done either way
            self.close()
            raise

    def close(self) -> None:
        self._handle.close()
