"""The catalog's pure parts: search queries, folder digests, the diff of a folder against the
catalogued state, snapshot intervals and the grouping of a file's versions. No I/O here."""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext, ngettext

from restore.smb.types import to_filetime

# --- search queries ------------------------------------------------------------------------------

MAX_QUERY = 255


_NOT_IN_NAMES = set('\\/:"<>|') | {chr(c) for c in range(32)} | {"\x7f"}


class BadQuery(ValueError):
    """A search text that cannot be accepted; the message can be shown."""


@dataclass(frozen=True)
class Query:
    """A name to look for: a case-insensitive substring, or a glob (``*`` and ``?``) over the whole name."""

    text: str
    glob: bool

    def matches(self, name: str) -> bool:
        """What the database query answers, for one name (the brute-force peer and tests use it)."""
        if not self.glob:
            return self.text.upper() in name.upper()
        return _glob_match(self.text.upper(), name.upper())

    @property
    def regex(self) -> str:
        """The glob as an anchored regular expression that PostgreSQL and Python read alike."""
        out = []
        for ch in self.text:
            if ch == "*":
                out.append(".*")
            elif ch == "?":
                out.append(".")
            elif ch.isalnum() or ord(ch) > 127:
                out.append(ch)
            else:
                out.append("\\" + ch)
        return "^" + "".join(out) + "$"


def parse_query(raw) -> Query:
    if not isinstance(raw, str) or not raw.strip():
        raise BadQuery("Type part of a file or folder name (at least 2 characters).")
    text = raw.strip()
    if len(text) > MAX_QUERY:
        raise BadQuery(f"The search text is longer than {MAX_QUERY} characters.")
    bad = sorted({ch for ch in text if ch in _NOT_IN_NAMES})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise BadQuery(f"Search by name only: names cannot contain {shown}.")
    if len(text.replace("*", "").replace("?", "")) < 2:
        raise BadQuery("Give at least 2 characters of the name besides * and ?.")
    return Query(text, glob="*" in text or "?" in text)


def _glob_match(pattern: str, name: str) -> bool:
    """``*`` any run of characters, ``?`` one character, everything else literally (no [sets])."""
    p = n = 0
    star = mark = -1
    while n < len(name):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == name[n]):
            p += 1
            n += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, n
            p += 1
        elif star != -1:
            p = star + 1
            mark += 1
            n = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


# --- a folder at one snapshot, against the catalogued state ---------------------------------------


class _Object:
    """What a listing child and a catalogued row are compared by."""

    @property
    def key(self) -> tuple[str, bool]:
        return (self.name.lower(), self.is_dir)

    def meta(self) -> tuple:
        return (self.size, self.last_write, self.changed, self.attributes)


@dataclass(frozen=True)
class Child(_Object):
    """One object of a folder listing at the snapshot being catalogued. ``sd`` is the sha256 of its
    security descriptor, None when the server could not give it, "" when it was not read."""

    name: str
    is_dir: bool
    size: int
    last_write: datetime
    changed: datetime
    attributes: int
    sd: str | None = ""


@dataclass(frozen=True)
class Row(_Object):
    """An open version row (present in the previous catalogued snapshot) of a folder's child."""

    version_id: int
    entry_id: int
    name: str
    is_dir: bool
    size: int
    last_write: datetime
    changed: datetime
    attributes: int
    sd: str | None  # sha256, or None when unknown


def listing_digest(children: Iterable[Child]) -> str:
    """What a folder held at one snapshot, as one value: equal digests, nothing to write. Stored with
    the folder, so its bytes must not change between versions (one line per child, sorted, hashed as
    one string: it runs for every listed object of every snapshot)."""
    lines = [f"{c.name}\0{int(c.is_dir)}\0{c.size}\0{to_filetime(c.last_write)}\0{to_filetime(c.changed)}\0"
             f"{c.attributes}\0{'-' if c.sd is None else c.sd}\n" for c in sorted(children, key=_BY_NAME)]
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


_BY_NAME = operator.attrgetter("name", "is_dir")


@dataclass
class FolderDiff:
    added: list[Child]  # no open row: new, or back after a deletion
    changed: list[tuple[Row, Child]]  # the open row closes, a new row opens
    removed: list[Row]  # gone since the previous snapshot
    renamed: list[tuple[Row, Child]]  # the same object, only the case of its name differs
    unchanged: int

    def needs_sd(self) -> list[Child]:
        """Children whose security descriptor must be read (when SDs are read on change only)."""
        return self.added + [c for _, c in self.changed]


def diff_folder(children: list[Child], rows: list[Row], *, compare_sd: bool) -> FolderDiff:
    """Listing at snapshot n against the open rows (state at the previous snapshot).

    ``compare_sd``: the children carry their SD (read at n) and an SD change is a change too."""
    open_rows = {r.key: r for r in rows}
    diff = FolderDiff([], [], [], [], 0)
    for child in children:
        row = open_rows.pop(child.key, None)
        if row is None:
            diff.added.append(child)
        elif row.meta() != child.meta() or (compare_sd and row.sd != child.sd):
            diff.changed.append((row, child))
        else:
            if row.name != child.name:
                diff.renamed.append((row, child))
            diff.unchanged += 1
    diff.removed = sorted(open_rows.values(), key=lambda r: r.name)
    return diff


# --- intervals of snapshot indices ----------------------------------------------------------------


def present(first: int, last: int | None, indices: list[int]) -> list[int]:
    """The catalogued snapshot ``indices`` (sorted) inside [first, last]; last None: no end."""
    lo = bisect.bisect_left(indices, first)
    hi = len(indices) if last is None else bisect.bisect_right(indices, last)
    return indices[lo:hi]


@dataclass(frozen=True)
class SeenVersion:
    """One version of a file as a person may see it: size and last write, and the snapshot indices
    (newest first) in which it is present and readable."""

    size: int
    last_write: datetime
    indices: tuple[int, ...]


def group_versions(seen: Iterable[tuple[int, int, datetime]]) -> list[SeenVersion]:
    """(index, size, last_write) per snapshot -> versions newest first; neighbouring snapshots with
    the same size and last-write time are one version, as the timeline shows them."""
    groups: list[SeenVersion] = []
    for index, size, last_write in sorted(seen, key=lambda s: s[0], reverse=True):
        if groups and (groups[-1].size, groups[-1].last_write) == (size, last_write):
            last = groups[-1]
            groups[-1] = SeenVersion(size, last_write, last.indices + (index,))
        else:
            groups.append(SeenVersion(size, last_write, (index,)))
    return groups


def ancestors(root_path: str, path: str) -> list[str]:
    """The folders from the root (included) down to the parent of ``path`` (share-relative)."""
    if root_path and not path.lower().startswith(root_path.lower() + "\\"):
        raise ValueError(f"{path!r} is not below {root_path!r}")
    rest = path[len(root_path) + 1:] if root_path else path
    parts = rest.split("\\")[:-1]
    out = [root_path]
    for part in parts:
        out.append(f"{out[-1]}\\{part}" if out[-1] else part)
    return out


# --- progress, as people are told it ----------------------------------------------------------------


def seconds_left(durations: list[float], pending: int, current_elapsed: float | None) -> float | None:
    """About how long the ``pending`` snapshots (the current one included) will take, from the
    durations of those done (oldest first). The first snapshot of a source costs most (every object
    is new), so it is left out of the estimate once later ones are known. None: nothing to go by."""
    if pending <= 0:
        return 0.0
    known = durations[1:] or durations
    if not known:
        return None
    recent = sorted(known[-10:])
    each = recent[len(recent) // 2]
    return max(0.0, each * pending - min(current_elapsed or 0.0, each))


def describe_wait(seconds: float) -> str:
    """'about 2 minutes left', in the active language."""
    if seconds < 90:
        return gettext("about a minute left")
    minutes = round(seconds / 60)
    if minutes < 90:
        return ngettext("about %(n)s minute left", "about %(n)s minutes left", minutes) % {"n": minutes}
    hours = round(seconds / 3600)
    return ngettext("about %(n)s hour left", "about %(n)s hours left", hours) % {"n": hours}


def describe_progress(done: int, total: int, left: float | None) -> str:
    """'catalogued 12 of 30 snapshots, about 2 minutes left', in the active language (the search page and
    the API's ``progress`` are made in the request, so in the reader's language)."""
    if total == 0:
        return gettext("no snapshots catalogued yet")
    if done >= total:
        return ngettext("catalogued its snapshot", "catalogued all %(n)s snapshots", total) % {"n": total}
    wait = gettext("time left not known yet") if left is None else describe_wait(left)
    return ngettext("catalogued %(done)s of %(total)s snapshot, %(wait)s",
                    "catalogued %(done)s of %(total)s snapshots, %(wait)s", total) % {
        "done": done, "total": total, "wait": wait}


# --- cursors: where a page of search hits ended ------------------------------------------------------


def encode_cursor(key: tuple) -> str:
    """An opaque, URL-safe token for a hit's rank key (the next page starts after it)."""
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_key(cursor) -> tuple:
    """The rank key a cursor stands for; BadQuery when it is not a cursor this portal gave."""
    bad = BadQuery("'cursor' is not one this search gave: start again from the first page.")
    if not isinstance(cursor, str) or len(cursor) > 2000:
        raise bad
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if not (isinstance(key, list) and len(key) == 5 and key[0] in (0, 1)
            and isinstance(key[1], (int, float)) and not isinstance(key[1], bool)
            and isinstance(key[2], str) and isinstance(key[3], str) and isinstance(key[4], bool)):
        raise bad
    return (key[0], float(key[1]), key[2], key[3], key[4])


def walk_order(root: int, folders: list[tuple[int, int | None, str]]) -> list[int]:
    """Folder ids below ``root`` in the order the builder's walk reaches them (depth first, each
    folder's subfolders by lower-cased path), from (id, parent id, path) of a known tree."""
    children: dict[int, list[tuple[str, int]]] = {}
    for folder_id, parent_id, path in folders:
        if parent_id is not None:
            children.setdefault(parent_id, []).append((path.lower(), folder_id))
    order, stack = [], [root]
    while stack:
        folder_id = stack.pop()
        order.append(folder_id)
        stack.extend(i for _, i in sorted(children.get(folder_id, ()), reverse=True))
    return order[1:]
