"""The plan of a restore: every file and folder it would write, where, and why (the dry run shows it before
anything is written; the worker carries out exactly this plan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from restore import smb
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.models import ItemKind, Mode
from restore.nt.access import (
    Token,
    can_list_folder,
    can_read_file,
)
from restore.related import bundles
from restore.restores.naming import kept_name, restored_name, split_name
from restore.restores.requests import Request, Selected
from restore.restores.targets import LiveTargets, free_name, place_of
from restore.versions import browse as pv
from restore.versions import paths, roots
from restore.versions.container_client import client_for
from restore.versions.container_roots import NEVER_WRITTEN, is_container
from restore.versions.roots import Root

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


# --- building the plan ---------------------------------------------------------------------------


def make_plan(token: Token, request: Request) -> Plan:
    """What the restore would write where, for this token; reads only, writes nothing."""
    plan = Plan(request)
    live: dict[str, LiveTargets] = {}
    claimed: set[tuple[str, str]] = set()  # (root, lower target path) this plan already writes

    def targets(root: Root) -> LiveTargets:
        return live.setdefault(root.id, LiveTargets(root, token))

    for sel in request.selected:
        where = roots.location(sel.root, sel.path)
        client = client_for(sel.root, token)
        entry = pv.require_visible(client, where, token, sel.snapshot, want_dir=None)
        top = _planned(entry, "selected", sel.root.id, sel.path, sel.snapshot)
        top.note = NEVER_WRITTEN if is_container(sel.root) else ""
        if entry.is_dir:
            group = [top] + _walk(client, where, sel.path, sel, token, plan)
        else:
            group = [top]
            for item in _related(token, sel, request.exclude_related) if request.related else []:
                group.append(item)
                if item.kind == ItemKind.FOLDER and item.action != "skip":  # a pulled folder comes whole
                    group += _walk(client, roots.location(sel.root, item.path), item.path, sel, token, plan)
        if request.mode == Mode.DOWNLOAD:
            for item in group:
                item.action = "download" if item.action != "skip" else "skip"
            plan.items.extend(group)
        else:
            _place(plan, request, sel, group, targets, claimed)
        if plan.files > settings.RESTORE_MAX_FILES:
            raise roots.BadRequest(f"a restore holds at most {settings.RESTORE_MAX_FILES} files: choose fewer")
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
            raise roots.BadRequest(f"a restore holds at most {settings.RESTORE_MAX_FILES} files: choose fewer")
    return found


def _related(token: Token, sel: Selected, excluded: frozenset[str]) -> list[PlannedItem]:
    """The selected file's related files from the same snapshot (restore/related/rules.py), minus what
    the person unticked; a related file they cannot read is listed as skipped with the reason."""
    items = []
    for rel in bundles.bundle(token, sel.root, sel.path, sel.snapshot).related:
        if rel.kind == "stream":
            continue  # every restored file brings its alternate data streams (restore/restores/runner.py)
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
        if request.mode == Mode.TO_FOLDER and not (request.new_target or live.can_see_folder(folder)):
            raise roots.NotFound("no such target folder")
        if as_set or request.mode == Mode.ALONGSIDE:
            wanted = restored_name(split_name(name)[0] if as_set else name, sel.snapshot.at, is_dir or as_set)
        else:
            wanted = name
        destination = free_name(live, paths.join(folder, wanted), claimed, t_root.id, is_dir or as_set,
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
                                 f"{place_of(paths.parent(target), live.root.id)}.")
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
        plan.problems.append(f"You may not replace {place_of(target, live.root.id)}.")
    if settings.RESTORE_KEEP_FOLDER and not live.may_create_in(settings.RESTORE_KEEP_FOLDER, False):
        plan.problems.append(f"You may not keep copies in {place_of(settings.RESTORE_KEEP_FOLDER, live.root.id)}.")


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
