"""A text diff of a file's version at a snapshot against its live copy (or another snapshot), so a
person can see what restoring that version would change before choosing it.

Both sides are read through previous_versions.open_content, so the same ACL check applies as for a
preview. Text is decoded from its BOM (UTF-8, UTF-16) or as UTF-8, else Windows-1252 (what Notepad
wrote for years); a NUL byte outside UTF-16 means binary, and nothing is compared. Files larger
than DIFF_MAX_BYTES are not compared either: the diff says so instead of reading gigabytes.
"""

from __future__ import annotations

import codecs
import difflib
from dataclasses import dataclass, field

from django.conf import settings

from restore import smb
from restore.nt.access import Token
from restore.versions import browse as pv
from restore.versions import roots
from restore.versions.roots import Root

CONTEXT_LINES = 3


@dataclass(frozen=True)
class Line:
    kind: str  # "context" | "added" | "removed" | "hunk"
    text: str
    old_no: int | None = None
    new_no: int | None = None


@dataclass
class TextDiff:
    old: str  # snapshot token of the older side
    new: str  # snapshot token, or "live"
    state: str  # "different" | "identical" | "binary" | "too-large" | "deleted" (no live copy)
    lines: list[Line] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    truncated: bool = False  # more lines than DIFF_MAX_LINES; added/removed still count them all


def decode_text(data: bytes) -> str | None:
    """The text of a file's bytes, or None when they are not text."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _read(token: Token, root: Root, path: str, at: smb.Snapshot | None) -> bytes | None:
    """At most DIFF_MAX_BYTES of the file; None when it is larger."""
    content = pv.open_content(token, root, path, at)
    try:
        if content.entry.size > settings.DIFF_MAX_BYTES:
            return None
        data = bytearray()
        for chunk in content.chunks:
            data += chunk
            if len(data) > settings.DIFF_MAX_BYTES:
                return None  # it grew while we read
        return bytes(data)
    finally:
        content.chunks.close()


def compare(token: Token, root: Root, path: str, old: smb.Snapshot, new: smb.Snapshot | None) -> TextDiff:
    """The version at ``old`` against the version at ``new`` (None: the live copy). Raises
    roots.NotFound when ``old`` is not readable for the token; a live copy that is gone (or that the
    person may no longer read) compares as "deleted"."""
    result = TextDiff(old=old.token, new=new.token if new else "live", state="different")
    before = _read(token, root, path, old)
    try:
        after = _read(token, root, path, new)
    except roots.NotFound:
        if new is not None:
            raise
        result.state = "deleted"
        return result
    if before is None or after is None:
        result.state = "too-large"
        return result
    if before == after:
        result.state = "identical"
        return result
    old_text, new_text = decode_text(before), decode_text(after)
    if old_text is None or new_text is None:
        result.state = "binary"
        return result
    _fill(result, old_text.splitlines(), new_text.splitlines())
    return result


def _fill(result: TextDiff, a: list[str], b: list[str]) -> None:
    limit = settings.DIFF_MAX_LINES
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        result.removed += (i2 - i1) if tag in ("replace", "delete") else 0
        result.added += (j2 - j1) if tag in ("replace", "insert") else 0
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        first, last = group[0], group[-1]
        result.lines.append(Line("hunk", f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                result.lines.extend(Line("context", a[i], i + 1, j1 + i - i1 + 1) for i in range(i1, i2))
                continue
            if tag in ("replace", "delete"):
                result.lines.extend(Line("removed", a[i], old_no=i + 1) for i in range(i1, i2))
            if tag in ("replace", "insert"):
                result.lines.extend(Line("added", b[j], new_no=j + 1) for j in range(j1, j2))
        if len(result.lines) > limit:
            del result.lines[limit:]
            result.truncated = True
            return
