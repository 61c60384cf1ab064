"""Restore jobs: what a restore would write where (the plan), starting, cancelling and reading jobs.

The plan is computed from the snapshot (what to bring back, with each object's ACL *in that
snapshot*) and from the live share (where it goes, with the live ACLs of the targets), for the
token of the person whose rights the job uses. A dry run returns the plan and writes nothing; a
real request stores the same plan as job and item rows in one transaction, audits it, and queues
the job's ID once the transaction commits. restore/copying.py carries it out; every decision is
checked again there, in the worker, when the job runs.

Names, as Windows users know them from Explorer:
  alongside  ``report (restored 2026-11-01 1000).docx`` beside the original
  replace    the current copy is first kept as ``report (before restore 2026-11-25 1432).docx``
  to_folder  into a folder the person may write to, under the original names
  download   a streamed zip (restore/zipdownload.py)
Times in names are the portal's local time (TIME_ZONE), to the minute.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import audit, paths, previous_versions as pv, related, smb
from .access import (
    FILE_WRITE_DATA,
    Token,
    allows,
    can_create_file_in,
    can_create_folder_in,
    can_delete,
    can_list_folder,
    can_read_file,
)
from .audit import Action, Result
from .identity import Root
from .models import ACTIVE_STATES, Conflict, ItemKind, JobState, Mode, Phase, RestoreItem, RestoreJob
from .models.jobs import WAITING_DOWNLOAD
from .security import SecurityDescriptor, SecurityDescriptorError, parse_security_descriptor

log = logging.getLogger(__name__)


class Refused(Exception):
    """The restore may not run as asked (a target the person may not write to); nothing was written."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class TooBusy(Exception):
    """The person already has RESTORE_MAX_ACTIVE_PER_USER restores queued or running."""


# --- names -----------------------------------------------------------------------------------------


def split_name(name: str, is_dir: bool = False) -> tuple[str, str]:
    """('report', '.docx'); folders and dot-files ('.bashrc') have no extension."""
    stem, dot, ext = name.rpartition(".")
    if is_dir or not dot or not stem:
        return name, ""
    return stem, "." + ext


def _stamp(when: datetime) -> str:
    return timezone.localtime(when, timezone.get_default_timezone()).strftime("%Y-%m-%d %H%M")


def restored_name(name: str, snapshot_time: datetime, is_dir: bool = False) -> str:
    stem, ext = split_name(name, is_dir)
    return f"{stem} (restored {_stamp(snapshot_time)}){ext}"


def kept_name(name: str, now: datetime, is_dir: bool = False) -> str:
    stem, ext = split_name(name, is_dir)
    return f"{stem} (before restore {_stamp(now)}){ext}"


def numbered(name: str, n: int, is_dir: bool = False) -> str:
    stem, ext = split_name(name, is_dir)
    return f"{stem} ({n}){ext}"


def temp_name(item_id: int) -> str:
    return f"~vdiprotect-{item_id}.tmp"


# --- the request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selected:
    root: Root
    path: str
    snapshot: smb.Snapshot


@dataclass(frozen=True)
class Request:
    selected: tuple[Selected, ...]
    mode: str
    conflict: str
    target_root: Root | None = None
    target_path: str = ""
    exclude_related: frozenset[str] = frozenset()  # keys of related items the person unticked (related.Item.key)
    related: bool = True

    def as_json(self) -> dict:
        return {"items": [{"root": s.root.id, "path": s.path, "at": s.snapshot.token} for s in self.selected],
                "mode": self.mode, "conflict": self.conflict,
                "target": {"root": self.target_root.id, "path": self.target_path} if self.target_root else None,
                "related": self.related, "exclude_related": sorted(self.exclude_related)}


def parse_request(roots: list[Root], data: dict) -> Request:
    """Validate what the person asked for. BadRequest (400) for malformed input, pv.NotFound (404)
    for roots or snapshots that are not theirs. Nothing is read from the file server but snapshot lists."""
    if not isinstance(data, dict):
        raise pv.BadRequest("send a JSON object")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise pv.BadRequest("'items' must be a non-empty list of {root, path, at}")
    if len(raw_items) > settings.RESTORE_MAX_ITEMS:
        raise pv.BadRequest(f"at most {settings.RESTORE_MAX_ITEMS} items per restore")
    mode = data.get("mode") or Mode.ALONGSIDE
    if mode not in Mode.values:
        raise pv.BadRequest(f"'mode' must be one of: {', '.join(Mode.values)}")
    conflict = data.get("conflict") or Conflict.RENAME
    if conflict not in Conflict.values:
        raise pv.BadRequest(f"'conflict' must be one of: {', '.join(Conflict.values)}")
    selected = []
    for raw in raw_items:
        if not isinstance(raw, dict) or not isinstance(raw.get("root"), str):
            raise pv.BadRequest("each item needs 'root', 'path' and 'at'")
        root = pv.find_root(roots, raw["root"])
        path = _path(raw.get("path"))
        if not path:
            raise pv.BadRequest("give the path of a file or folder below the root, not the root itself")
        snapshot = pv.parse_at(root, raw.get("at") if isinstance(raw.get("at"), str) else None)
        if snapshot is None:
            raise pv.BadRequest("'at' must name a snapshot: a restore brings back an earlier version")
        selected.append(Selected(root, path, snapshot))
    if len({(s.root.id, s.path.lower()) for s in selected}) != len(selected):
        raise pv.BadRequest("the same path is listed twice")
    target_root, target_path = None, ""
    if mode == Mode.TO_FOLDER:
        target = data.get("target")
        if not isinstance(target, dict) or not isinstance(target.get("root"), str):
            raise pv.BadRequest("mode 'to_folder' needs 'target': {root, path}")
        target_root = pv.find_root(roots, target["root"])
        target_path = _path(target.get("path"))
    exclude = data.get("exclude_related") or []
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise pv.BadRequest("'exclude_related' must be a list of related items' keys (their paths)")
    related = data.get("related", True)
    if not isinstance(related, bool):
        raise pv.BadRequest("'related' must be true or false")
    return Request(tuple(selected), mode, conflict, target_root, target_path,
                   frozenset(x.replace("\\", "/").lower() for x in exclude), related)


def _path(value) -> str:
    if value is not None and not isinstance(value, str):
        raise pv.BadRequest("'path' must be text")
    try:
        return paths.normalize(value)
    except paths.PathError as exc:
        raise pv.BadRequest(str(exc)) from None


# --- the plan ------------------------------------------------------------------------------------


@dataclass
class PlannedItem:
    kind: str
    origin: str
    root: str
    path: str
    at: str
    size: int = 0
    last_write: datetime | None = None
    created: datetime | None = None
    reason: str = ""
    target_root: str = ""
    target_path: str = ""
    action: str = "create"  # create | replace (current copy kept) | exists (folder reused) | skip | download
    keep: bool = False
    note: str = ""

    def as_json(self) -> dict:
        return {"kind": self.kind, "origin": self.origin, "reason": self.reason,
                "source": {"root": self.root, "path": self.path.replace("\\", "/"), "at": self.at},
                "target": ({"root": self.target_root, "path": self.target_path.replace("\\", "/")}
                           if self.target_root else None),
                "action": self.action, "keeps_current_copy": self.keep, "size": self.size,
                "last_write": _iso(self.last_write), "note": self.note}


@dataclass
class Plan:
    request: Request
    items: list[PlannedItem] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)  # live files newer than the snapshot, left as they are
    hidden: int = 0  # objects in restored folders the person cannot read in that snapshot (not named)
    problems: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(1 for i in self.items if i.kind == ItemKind.FILE and i.action != "skip")

    @property
    def bytes(self) -> int:
        return sum(i.size for i in self.items if i.kind == ItemKind.FILE and i.action != "skip")

    def as_json(self) -> dict:
        return {"mode": self.request.mode, "conflict": self.request.conflict, "files": self.files,
                "bytes": self.bytes, "items": [i.as_json() for i in self.items],
                "untouched": [p.replace("\\", "/") for p in self.untouched], "hidden": self.hidden,
                "problems": self.problems, "would_start": not self.problems}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


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

    def __init__(self, root: Root, token: Token):
        self.root = root
        self.base = pv.location(root)
        self.client = smb.client_for(self.base.server)
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


# --- building the plan ---------------------------------------------------------------------------


def make_plan(token: Token, request: Request) -> Plan:
    """What the restore would write where, for this token; reads only, writes nothing."""
    plan = Plan(request)
    live: dict[str, LiveTargets] = {}
    claimed: set[tuple[str, str]] = set()  # (root, lower target path) this plan already writes

    def targets(root: Root) -> LiveTargets:
        return live.setdefault(root.id, LiveTargets(root, token))

    for sel in request.selected:
        where = pv.location(sel.root, sel.path)
        client = smb.client_for(where.server)
        entry = pv.require_visible(client, where, token, sel.snapshot, want_dir=None)
        top = _planned(entry, "selected", sel.root.id, sel.path, sel.snapshot)
        if entry.is_dir:
            group = [top] + _walk(client, where, sel.path, sel, token, plan)
        else:
            group = [top]
            for item in _related(token, sel, request.exclude_related) if request.related else []:
                group.append(item)
                if item.kind == ItemKind.FOLDER and item.action != "skip":  # a pulled folder comes whole
                    group += _walk(client, pv.location(sel.root, item.path), item.path, sel, token, plan)
        if request.mode == Mode.DOWNLOAD:
            for item in group:
                item.action = "download" if item.action != "skip" else "skip"
            plan.items.extend(group)
        else:
            _place(plan, request, sel, group, targets, claimed)
        if plan.files > settings.RESTORE_MAX_FILES:
            raise pv.BadRequest(f"a restore holds at most {settings.RESTORE_MAX_FILES} files: choose fewer")
    plan.problems = list(dict.fromkeys(plan.problems))
    return plan


def _planned(entry: smb.Entry, origin: str, root_id: str, path: str, snapshot: smb.Snapshot,
             reason: str = "") -> PlannedItem:
    return PlannedItem(kind=ItemKind.FOLDER if entry.is_dir else ItemKind.FILE, origin=origin, root=root_id,
                       path=path, at=snapshot.token, size=0 if entry.is_dir else entry.size,
                       last_write=entry.last_write, created=entry.created, reason=reason)


def _walk(client: smb.Client, where: paths.Unc, rel_path: str, sel: Selected, token: Token,
          plan: Plan) -> list[PlannedItem]:
    """The tree below the folder ``rel_path`` as it was at the snapshot, top-down; what the person
    cannot read in that snapshot is left out and only counted (access-based enumeration: no names)."""
    found: list[PlannedItem] = []
    pending = [(rel_path, where.path)]
    while pending:
        rel, share_path = pending.pop(0)
        entries = client.list_dir(where.share, share_path, at=sel.snapshot.at)
        child_paths = [paths.join(share_path, e.name) for e in entries]
        sds = client.security_descriptors_many(where.share, child_paths, at=sel.snapshot.at) if entries else {}
        for e, p in sorted(zip(entries, child_paths), key=lambda pair: pair[0].name.lower()):
            sd = sds.get(p)
            if sd is None or not pv.may_read(sd, token, e.is_dir):
                plan.hidden += 1
                continue
            found.append(_planned(e, "in folder", sel.root.id, paths.join(rel, e.name), sel.snapshot))
            if e.is_dir:
                pending.append((paths.join(rel, e.name), p))
        if len(found) > settings.RESTORE_MAX_FILES:
            raise pv.BadRequest(f"a restore holds at most {settings.RESTORE_MAX_FILES} files: choose fewer")
    return found


def _related(token: Token, sel: Selected, excluded: frozenset[str]) -> list[PlannedItem]:
    """The selected file's related files from the same snapshot (restore/related.py), minus what
    the person unticked; a related file they cannot read is listed as skipped with the reason."""
    items = []
    for rel in related.bundle(token, sel.root, sel.path, sel.snapshot).related:
        if rel.kind == "stream":
            continue  # every restored file brings its alternate data streams (restore/copying.py)
        if rel.key.lower() in excluded:
            continue
        item = PlannedItem(kind=ItemKind.FOLDER if rel.kind == "folder" else ItemKind.FILE,
                           origin=f"related: {rel.rule}", root=sel.root.id, path=rel.path, at=sel.snapshot.token,
                           size=rel.size or 0, last_write=rel.last_write,
                           reason=rel.reason)
        if not rel.included:
            item.action, item.note = "skip", rel.skip_reason
        items.append(item)
    return items


def _place(plan: Plan, request: Request, sel: Selected, group: list[PlannedItem], targets, claimed) -> None:
    """Decide each item's target, what happens there (create, replace keeping the current copy,
    reuse a folder, skip) and whether the person may write it.

    A folder keeps its tree; a file with related files travels as a set with its names intact
    (a database and its -wal only work together under the same names), so alongside the original
    the set goes into a folder named after the file; on its own a file is renamed beside it."""
    top = group[0]
    name = paths.name_of(sel.path)
    is_dir = top.kind == ItemKind.FOLDER
    as_set = not is_dir and len(group) > 1
    base = _common_folder([i.path for i in group]) if as_set else paths.parent(sel.path)
    if request.mode == Mode.REPLACE:
        t_root = sel.root
        live = targets(t_root)
        destination = None
    else:
        t_root = request.target_root if request.mode == Mode.TO_FOLDER else sel.root
        live = targets(t_root)
        folder = request.target_path if request.mode == Mode.TO_FOLDER else paths.parent(sel.path)
        if request.mode == Mode.TO_FOLDER and not live.can_see_folder(folder):
            raise pv.NotFound("no such target folder")
        if as_set or request.mode == Mode.ALONGSIDE:
            wanted = restored_name(split_name(name)[0] if as_set else name, sel.snapshot.at, is_dir or as_set)
        else:
            wanted = name
        destination = _free_name(live, paths.join(folder, wanted), claimed, t_root.id, is_dir or as_set,
                                 request.conflict)
        if destination is None:  # conflict policy "skip"
            for item in group:
                item.target_root, item.action = t_root.id, "skip"
                item.note = item.note or "something of that name exists at the target"
            plan.items.extend(group)
            return
    for item in group:
        if destination is None:
            target = item.path
        else:
            target = paths.join(destination, _below(item.path, base if as_set else sel.path))
        item.target_root, item.target_path = t_root.id, target
        if item.action != "skip":
            _decide(plan, request, live, item, claimed)
        plan.items.append(item)
    if request.mode == Mode.REPLACE and is_dir:
        _untouched(plan, live, group)


def _below(path: str, base: str) -> str:
    """``path`` relative to ``base`` ('' when equal)."""
    if not base:
        return path
    return "" if path.lower() == base.lower() else path[len(base) + 1:]


def _common_folder(item_paths: list[str]) -> str:
    parts = [paths.parent(p).split("\\") for p in item_paths]
    common = []
    for level in zip(*parts):
        if len({x.lower() for x in level}) != 1:
            break
        common.append(level[0])
    return "\\".join(p for p in common if p)


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


def _free_name(live: LiveTargets, path: str, claimed, root_id: str, is_dir: bool, conflict: str) -> str | None:
    """``path`` when nothing is there; otherwise, per the conflict policy, a numbered name (rename),
    None (skip), or ``path`` itself (overwrite: what is there is merged into, current copies kept)."""
    if conflict == Conflict.OVERWRITE:
        return path
    free = first_free(live, path, is_dir=is_dir, claimed=claimed, root_id=root_id)
    if conflict == Conflict.SKIP:
        return path if free == path else None
    if free is None:
        raise pv.BadRequest(f"too many restored copies of {paths.name_of(path)} already")
    return free


def _where(path: str, root_id: str) -> str:
    return f"'{path.replace(chr(92), '/') or '/'}' ({root_id})"


def _decide(plan: Plan, request: Request, live: LiveTargets, item: PlannedItem, claimed) -> None:
    target, is_dir = item.target_path, item.kind == ItemKind.FOLDER
    if (item.target_root, target.lower()) in claimed and not is_dir:
        item.action, item.note = "skip", "another item of this restore is written there"
        return
    claimed.add((item.target_root, target.lower()))
    existing = live.existing(target)
    if existing is None:
        item.action = "create"
        if not live.may_create_in(paths.parent(target), is_dir):
            plan.problems.append(f"You may not create {'folders' if is_dir else 'files'} in "
                                 f"{_where(paths.parent(target), live.root.id)}.")
        return
    if existing.is_dir != is_dir:
        item.action, item.note = "skip", f"a {'folder' if existing.is_dir else 'file'} of that name is in the way"
        return
    if is_dir:
        item.action, item.note = "exists", "the folder is there; what it held then is restored into it"
        return
    if existing.size == item.size and existing.last_write == item.last_write:
        item.action, item.note = "skip", "the current copy is already this version"
        return
    item.action, item.keep = "replace", True
    keep_in = f" in '{settings.RESTORE_KEEP_FOLDER}'" if settings.RESTORE_KEEP_FOLDER else ""
    item.note = f"the current copy is kept as '{kept_name(paths.name_of(target), timezone.now())}'{keep_in}"
    if not live.may_replace(target):
        plan.problems.append(f"You may not replace {_where(target, live.root.id)}.")
    if settings.RESTORE_KEEP_FOLDER and not live.may_create_in(settings.RESTORE_KEEP_FOLDER, False):
        plan.problems.append(f"You may not keep copies in {_where(settings.RESTORE_KEEP_FOLDER, live.root.id)}.")


def _untouched(plan: Plan, live: LiveTargets, group: list[PlannedItem]) -> None:
    """Live objects in the restored folders that the snapshot did not have (created later): left as
    they are. Only names the person may read are shown."""
    restored = {i.target_path.lower() for i in group}
    for folder in (i for i in group if i.kind == ItemKind.FOLDER):
        listing = live.listing(folder.target_path) or {}
        newer = [paths.join(folder.target_path, e.name) for k, e in listing.items()
                 if paths.join(folder.target_path, e.name).lower() not in restored]
        live.prefetch(newer)
        for path in newer:
            sd = live.sd(path)
            entry = listing[paths.name_of(path).lower()]
            if sd is not None and (can_list_folder if entry.is_dir else can_read_file)(sd, live.token):
                plan.untouched.append(path)


# --- starting, cancelling, reading ----------------------------------------------------------------


def dry_run(token: Token, request: Request, context: audit.Context) -> Plan:
    plan = make_plan(token, request)
    first = request.selected[0]
    audit.record(context, Action.DRY_RUN, Result.OK if not plan.problems else Result.DENIED, root=first.root.id,
                 path=first.path, snapshot=first.snapshot.token,
                 details={"request": request.as_json(), "files": plan.files, "bytes": plan.bytes,
                          "problems": plan.problems})
    return plan


def start(*, owner, requested_by, token: Token, request: Request, context: audit.Context, ticket: str = "",
          reason: str = "", content_blind: bool = False) -> RestoreJob:
    """Plan, then store the job and its items and audit it in one transaction; the job is queued
    once that commits (a download waits for the person to fetch it). Refused / TooBusy change nothing.
    ``content_blind``: started by a helpdesk member in content-blind mode (never a download; the
    views refuse it first, with a clear answer, and this refuses it again)."""
    first = request.selected[0]
    if content_blind and request.mode == Mode.DOWNLOAD:
        raise Refused(["a content-blind helpdesk member may not download the person's files"])
    plan = make_plan(token, request)
    if plan.problems:
        audit.record(context, Action.ACCESS_DENIED, Result.DENIED, root=first.root.id, path=first.path,
                     snapshot=first.snapshot.token, details={"operation": "restore", "problems": plan.problems})
        raise Refused(plan.problems)
    with transaction.atomic():
        from django.contrib.auth import get_user_model

        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()  # one start at a time per owner
        active = RestoreJob.objects.filter(owner=owner, state__in=ACTIVE_STATES).count()
        if active >= settings.RESTORE_MAX_ACTIVE_PER_USER:
            raise TooBusy(f"{owner.username} already has {active} restores queued or running; wait for one to "
                          "finish or cancel one")
        job = RestoreJob.objects.create(
            owner=owner, owner_username=owner.username, requested_by=requested_by,
            requested_by_username=requested_by.username, content_blind=content_blind, role=context.role,
            ticket=ticket, reason=reason,
            mode=request.mode, conflict=request.conflict,
            target_root=request.target_root.id if request.target_root else "", target_path=request.target_path,
            request=request.as_json(), state=JobState.READY if request.mode == Mode.DOWNLOAD else JobState.QUEUED,
            files_total=plan.files, bytes_total=plan.bytes, request_id=context.request_id,
            source_ip=context.source_ip)
        RestoreItem.objects.bulk_create([
            RestoreItem(job=job, seq=n, kind=i.kind, origin=i.origin, reason=i.reason, root=i.root, path=i.path,
                        at=i.at, size=i.size, source_last_write=i.last_write, source_created=i.created,
                        target_root=i.target_root, target_path=i.target_path,
                        keep_path="" if not i.keep else "?",  # decided when the job runs (its time is in the name)
                        phase=Phase.SKIPPED if i.action == "skip" else Phase.PENDING, note=i.note)
            for n, i in enumerate(plan.items)])
        audit.record(context, Action.RESTORE_CREATED, Result.OK, root=first.root.id, path=first.path,
                     snapshot=first.snapshot.token,
                     details={"job": str(job.id), "mode": job.mode, "conflict": job.conflict, "files": plan.files,
                              "bytes": plan.bytes, "request": request.as_json(), "ticket": ticket,
                              "content_blind": content_blind})
        if job.state == JobState.QUEUED:
            transaction.on_commit(lambda: enqueue(job.id))
    return job


def enqueue(job_id) -> None:
    from .tasks import run_restore

    RestoreJob.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
    run_restore.delay(str(job_id))


def cancel(job: RestoreJob, context: audit.Context) -> RestoreJob:
    """A queued job ends at once; a running one stops at its next chunk (the worker finishes it).
    Cancelling an ended job changes nothing."""
    with transaction.atomic():
        job = RestoreJob.objects.select_for_update().get(pk=job.pk)
        if job.state not in (*ACTIVE_STATES, *WAITING_DOWNLOAD) or job.cancel_requested:
            return job
        if job.state == JobState.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
        else:
            job.state, job.cancel_requested, job.finished_at = JobState.CANCELLED, True, timezone.now()
            job.save(update_fields=["state", "cancel_requested", "finished_at"])
            job.items.filter(phase=Phase.PENDING).update(phase=Phase.SKIPPED, note="cancelled")
        audit.record(context, Action.RESTORE_CANCELLED, Result.OK, details={"job": str(job.id), "state": job.state})
    return job


def jobs_visible_to(subject):
    """The jobs of the person whose files the subject (restore.permissions.Subject) works on: one's
    own, or, while a helpdesk member acts for someone, that person's. Never by who requested them:
    a member who stopped acting sees only their own again."""
    return RestoreJob.objects.filter(owner_id=subject.identity.user_id)


def job_for(subject, job_id) -> RestoreJob:
    """One of ``jobs_visible_to(subject)``; pv.NotFound (404) for any other, existing or not."""
    try:
        return jobs_visible_to(subject).get(pk=job_id)
    except (RestoreJob.DoesNotExist, ValueError, TypeError, ValidationError):
        raise pv.NotFound("no such restore") from None
