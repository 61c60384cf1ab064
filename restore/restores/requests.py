"""A restore request as a person sends it (pages and API alike), parsed and confined to their roots."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext

from restore import smb
from restore.models import Conflict, Mode
from restore.versions import browse as pv
from restore.versions import paths
from restore.versions import roots as roots_
from restore.versions.container_roots import IN_PLACE_REFUSED, is_container
from restore.versions.roots import Root

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
    exclude_related: frozenset[str] = frozenset()  # keys of related items the person unticked (bundles.Item.key)
    related: bool = True
    new_target: bool = False  # the target folder is the default one for a container, made by the restore

    def as_json(self) -> dict:
        return {"items": [{"root": s.root.id, "path": s.path, "at": s.snapshot.token} for s in self.selected],
                "mode": self.mode, "conflict": self.conflict,
                "target": {"root": self.target_root.id, "path": self.target_path} if self.target_root else None,
                "related": self.related, "exclude_related": sorted(self.exclude_related)}


def parse_request(roots: list[Root], data: dict) -> Request:
    """Validate what the person asked for. BadRequest (400) for malformed input, roots_.NotFound (404)
    for roots or snapshots that are not theirs. Nothing is read from the file server but snapshot lists."""
    if not isinstance(data, dict):
        raise roots_.BadRequest("send a JSON object")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise roots_.BadRequest("'items' must be a non-empty list of {root, path, at}")
    if len(raw_items) > settings.RESTORE_MAX_ITEMS:
        raise roots_.BadRequest(f"at most {settings.RESTORE_MAX_ITEMS} items per restore")
    mode = data.get("mode") or Mode.ALONGSIDE
    if mode not in Mode.values:
        raise roots_.BadRequest(f"'mode' must be one of: {', '.join(Mode.values)}")
    conflict = data.get("conflict") or Conflict.RENAME
    if conflict not in Conflict.values:
        raise roots_.BadRequest(f"'conflict' must be one of: {', '.join(Conflict.values)}")
    selected = []
    for raw in raw_items:
        if not isinstance(raw, dict) or not isinstance(raw.get("root"), str):
            raise roots_.BadRequest("each item needs 'root', 'path' and 'at'")
        root = roots_.find_root(roots, raw["root"])
        path = _path(raw.get("path"))
        if not path:
            raise roots_.BadRequest("give the path of a file or folder below the root, not the root itself")
        snapshot = pv.parse_at(root, raw.get("at") if isinstance(raw.get("at"), str) else None)
        if snapshot is None:
            raise roots_.BadRequest("'at' must name a snapshot: a restore brings back an earlier version")
        selected.append(Selected(root, path, snapshot))
    if len({(s.root.id, s.path.lower()) for s in selected}) != len(selected):
        raise roots_.BadRequest("the same path is listed twice")
    target_root, target_path, new_target = None, "", False
    from_container = any(is_container(s.root) for s in selected)
    if mode == Mode.TO_FOLDER and from_container and data.get("target") is None:
        target_root, target_path = default_target(roots, selected[0].snapshot)
        new_target = True
    elif mode == Mode.TO_FOLDER:
        target = data.get("target")
        if not isinstance(target, dict) or not isinstance(target.get("root"), str):
            raise roots_.BadRequest("mode 'to_folder' needs 'target': {root, path}")
        target_root = roots_.find_root(roots, target["root"])
        target_path = _path(target.get("path"))
    if from_container and mode in (Mode.REPLACE, Mode.ALONGSIDE):
        raise roots_.BadRequest(IN_PLACE_REFUSED)
    if is_container(target_root):
        raise roots_.BadRequest("a profile container is never written: choose one of your folders as the target")
    exclude = data.get("exclude_related") or []
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise roots_.BadRequest("'exclude_related' must be a list of related items' keys (their paths)")
    related = data.get("related", True)
    if not isinstance(related, bool):
        raise roots_.BadRequest("'related' must be true or false")
    return Request(tuple(selected), mode, conflict, target_root, target_path,
                   frozenset(x.replace("\\", "/").lower() for x in exclude), related, new_target)


def default_target(roots: list[Root], snapshot: smb.Snapshot) -> tuple[Root, str]:
    """Where files out of a profile container go when the person names no folder: a folder of their
    first data root (else their first folder root) named after the snapshot's day."""
    folders = [r for r in roots if not is_container(r)]
    if not folders:
        raise roots_.BadRequest("you have no folder to restore into: download the files as a zip instead")
    root = next((r for r in folders if r.kind == "data"), folders[0])
    # The person's language (the request's): a German reader finds "Wiederhergestellt aus dem Profil ...".
    return root, gettext("Restored from profile %(day)s") % {"day": f"{snapshot.at:%Y-%m-%d}"}


def _path(value) -> str:
    if value is not None and not isinstance(value, str):
        raise roots_.BadRequest("'path' must be text")
    try:
        return paths.normalize(value)
    except paths.PathError as exc:
        raise roots_.BadRequest(str(exc)) from None
