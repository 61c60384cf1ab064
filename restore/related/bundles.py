"""A file's bundle: the files, folders and streams that belong with it in one snapshot, found with the rules
(restore/related/rules.py) and filtered by what the person may read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from restore import smb
from restore.nt.access import Token
from restore.related.rules import Rule, Target, catalog
from restore.versions import browse as pv
from restore.versions import paths, roots
from restore.versions.container_client import client_for
from restore.versions.container_roots import rule_kinds
from restore.versions.roots import Root

SKIP_UNREADABLE = "you cannot read it in this snapshot"


SKIP_NO_PERMISSIONS = "the portal cannot read its permissions"


MAX_RELATED = 200  # a bundle stops growing here (a rule that pulls whole folders cannot run away)


# --- bundles ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    path: str  # relative to the root, '\\'-separated
    kind: str  # file | folder | stream
    size: int
    last_write: datetime | None
    stream: str = ""  # for kind == "stream": the stream's name (e.g. Zone.Identifier)
    rule: str = ""  # the rule that pulled it ('' for the chosen item)
    application: str = ""
    reason: str = ""
    included: bool = True
    skip_reason: str = ""

    @property
    def key(self) -> str:
        """The value that names this item in forms and in ``selected``: path with '/', plus ':stream'."""
        key = self.path.replace("\\", "/")
        return f"{key}:{self.stream}" if self.kind == "stream" else key

    @property
    def name(self) -> str:
        return paths.name_of(self.path) + (f":{self.stream}" if self.stream else "")


@dataclass(frozen=True)
class Bundle:
    root: Root
    at: smb.Snapshot | None  # every item is read at this snapshot (None: live)
    item: Item
    related: tuple[Item, ...]
    truncated: bool = False  # MAX_RELATED was reached
    hidden: int = 0  # found by a wildcard, left out: the portal cannot read their permissions

    @property
    def included(self) -> tuple[Item, ...]:
        return tuple(i for i in self.related if i.included)


def _key_of(text: str) -> str:
    return text.replace("\\", "/").lower()


class _Snapshot:
    """The file server at one time, as the service account: folders listed once each."""

    def __init__(self, client: smb.Client, base: paths.Unc, at: smb.Snapshot | None):
        self.client, self.base, self.when = client, base, (at.at if at else None)
        self._folders: dict[str, dict[str, smb.Entry]] = {}

    def full(self, path: str) -> str:
        return paths.join(self.base.path, path)

    def folder(self, path: str) -> dict[str, smb.Entry]:
        """{lower-case name: Entry} of a folder relative to the root; {} when it does not exist then."""
        key = path.lower()
        if key not in self._folders:
            try:
                entries = self.client.list_dir(self.base.share, self.full(path), at=self.when)
            except smb.NotFound:
                entries = []
            self._folders[key] = {e.name.lower(): e for e in entries}
        return self._folders[key]

    def find(self, target: Target) -> list[smb.Entry]:
        entries = self.folder(target.folder)
        if target.literal is not None:
            hit = entries.get(target.literal.lower())
            found = [hit] if hit is not None else []
        else:
            found = [e for e in entries.values() if target.regex.fullmatch(e.name)]
        return [e for e in found if e.is_dir == target.is_folder]

    def descriptors(self, rel_paths: list[str]) -> dict[str, bytes | None]:
        full = [self.full(p) for p in rel_paths]
        sds = self.client.security_descriptors_many(self.base.share, full, at=self.when) if full else {}
        return {p: sds.get(f) for p, f in zip(rel_paths, full)}

    def streams(self, path: str) -> list[tuple[str, int]]:
        try:
            return self.client.list_streams(self.base.share, self.full(path), at=self.when)
        except smb.NotFound:
            return []


def _inside(path: str, folder: str) -> bool:
    return path.lower().startswith(folder.lower() + "\\")


def bundle(token: Token, root: Root, path: str, at: smb.Snapshot | None, *, rules: list[Rule] | None = None) -> Bundle:
    """The chosen file (or folder) and everything the rules say belongs with it, all at ``at``.

    NotFound when the chosen path is missing then or not the person's to see; BadRequest without a
    path. A folder's bundle is the folder alone (its contents come with it)."""
    if not path:
        raise roots.BadRequest("give the path of a file")
    where = roots.location(root, path)
    server = _Snapshot(client_for(root, token), roots.location(root), at)
    entry = pv.require_visible(server.client, where, token, at, want_dir=None)
    main = Item(path=path, kind="folder" if entry.is_dir else "file", size=0 if entry.is_dir else entry.size,
                last_write=entry.last_write)
    if entry.is_dir:
        return Bundle(root, at, main, ())
    in_force = [r for r in (catalog() if rules is None else rules) if any(map(r.applies_to, rule_kinds(root.kind)))]

    found: dict[str, Item] = {path.lower(): main}
    frontier, truncated, hidden = [path], False, 0
    while frontier and not truncated:
        wanted: dict[str, tuple[str, smb.Entry, Rule, bool]] = {}
        for source in frontier:
            for rule in in_force:
                for target in rule.targets(source):
                    for hit in server.find(target):
                        candidate = paths.join(target.folder, hit.name)
                        key = candidate.lower()
                        if key in found or key in wanted or _inside(path, candidate):
                            continue
                        if len(found) + len(wanted) > MAX_RELATED:
                            truncated = True
                            break
                        wanted[key] = (candidate, hit, rule, target.literal is not None)
        sds = server.descriptors([c for c, *_ in wanted.values()])
        frontier = []
        for key, (candidate, hit, rule, named) in wanted.items():
            sd = sds[candidate]
            if sd is None:
                continue  # gone between the listing and the check: not in this snapshot
            readable = pv.may_read(sd, token, hit.is_dir)
            unknown = isinstance(sd, smb.Unreadable) and not smb.delegating()  # delegated: the server's "no"
            if not readable and not named:
                hidden += unknown
                continue  # found by a wildcard: a name the person may not read is not shown
            found[key] = Item(path=candidate, kind="folder" if hit.is_dir else "file",
                              size=0 if hit.is_dir else hit.size, last_write=hit.last_write, rule=rule.name,
                              application=rule.application, reason=rule.reason, included=readable,
                              skip_reason="" if readable else SKIP_NO_PERMISSIONS if unknown else SKIP_UNREADABLE)
            if readable and not hit.is_dir:
                frontier.append(candidate)

    folders = [i.path for i in found.values() if i.kind == "folder" and i.included and i is not main]
    items = [i for i in found.values() if i is not main and not any(_inside(i.path, f) for f in folders)]
    items += _streams(server, [main] + [i for i in items if i.kind == "file" and i.included], in_force)
    items.sort(key=lambda i: (i.path.lower(), i.stream.lower()))
    return Bundle(root, at, main, tuple(items), truncated, hidden)


def _streams(server: _Snapshot, files: list[Item], rules: list[Rule]) -> list[Item]:
    """Stream items of the files a streams rule matches (a stream is read with its file's ACL)."""
    out = []
    for item in files:
        rule = next((r for r in rules if r.streams and r.matches(item.path)), None)
        if rule is None:
            continue
        for name, size in server.streams(item.path):
            out.append(Item(path=item.path, kind="stream", stream=name, size=size, last_write=item.last_write,
                            rule=rule.name, application=rule.application, reason=rule.reason))
    return out
