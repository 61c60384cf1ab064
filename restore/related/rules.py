"""Related files: what belongs with a file (its journal, sidecars, the application's other settings),
taken from the same snapshot as the file itself.

For the restore dialog and jobs, three names matter::

    from restore import related
    found = related.bundle(token, root, path, at)     # -> Bundle; at: smb.Snapshot, or None for live
    found.item                                          # the chosen file (an Item, kind "file" or "folder")
    found.related                                       # Items: included, or skipped with skip_reason
    items = related.selected(found, unticked={"Documents/ledger.sqlite-shm"})  # what to restore

Every ``Item`` carries ``path`` (relative to the root, ``\\``-separated as ``paths.normalize`` gives
it), ``kind`` (file | folder | stream, with ``stream`` naming the stream), the ``rule`` that pulled it
with its ``application`` and ``reason``, ``size`` (0 for folders), ``last_write`` and ``included``
or ``skip_reason``. ``Item.key`` is the checkbox value of the item in templates/restore/_related.html
(``path`` with ``/``, plus ``:stream`` for a stream); ``selected`` takes the keys the person unticked.
Everything in a bundle is read at ``bundle.at``: restore each item from that snapshot.

The rules are a catalog (see docs/related-files.md): the built-ins in restore/related_rules.toml,
an administrator's TOML file (setting RELATED_RULES_FILE), and rules edited in the Django admin
(restore.models.RelatedRule); a rule of the same name replaces the earlier one (admin over file
over built-in). A rule matches files by a glob on their path within a root of some kind and pulls
files or folders next to the file (``sidecars``, ``siblings``, ``folders``), a set of paths relative
to a matched ancestor folder (``anchor`` + ``set``), or the file's alternate data streams
(``streams``). Rules apply to what they pull as well (a pulled database pulls its own journal),
until nothing new turns up.

Access: the chosen path must be visible to the person (else NotFound). Each candidate is checked
against its own security descriptor *in that snapshot* (one pipelined request per round for all
candidates): one the person cannot read is listed as skipped, never included — but only when its
name follows from the rule and the chosen file; a name found by a wildcard the person cannot read
stays hidden, as in folder listings. Candidates missing in that snapshot are not listed. Each
folder involved is listed once, and names are matched case-insensitively (Windows semantics).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from restore.versions import paths

BUILTIN_FILE = Path(__file__).with_name("related_rules.toml")


KINDS = ("file", "folder", "stream")


_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


_ROOT_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")  # as USER_ROOTS kinds (restore.accounts.identity)


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


PLACEHOLDERS = ("name", "stem", "ext")


RULE_KEYS = {"name", "application", "reason", "root", "match", "anchor", "sidecars", "siblings", "folders",
             "set", "streams", "enabled"}


PULL_KEYS = ("sidecars", "siblings", "folders", "set", "streams")


class RuleError(ValueError):
    """A rule that cannot be used; the message names the rule and its source."""


# --- globs ------------------------------------------------------------------------------------------


def expand_braces(pattern: str) -> list[str]:
    """``a{b,c}d`` -> [abd, acd], nested braces included; RuleError on unbalanced braces."""
    depth, start = 0, -1
    for i, ch in enumerate(pattern):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise RuleError(f"unbalanced '}}' in {pattern!r}")
            if depth == 0:
                options, level, begin = [], 0, start + 1
                for j in range(start + 1, i):
                    c = pattern[j]
                    level += c == "{"
                    level -= c == "}"
                    if c == "," and level == 0:
                        options.append(pattern[begin:j])
                        begin = j + 1
                options.append(pattern[begin:i])
                head, tail = pattern[:start], pattern[i + 1:]
                return [x for o in options for x in expand_braces(head + o + tail)]
    if depth:
        raise RuleError(f"unbalanced '{{' in {pattern!r}")
    return [pattern]


def _component_regex(part: str) -> str:
    """One path component of a glob: * ? [...] as fnmatch, everything else literal."""
    out, i = [], 0
    while i < len(part):
        ch = part[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            first = i + 2 if part[i + 1:i + 2] == "!" else i + 1
            end = part.find("]", first)
            if end <= first:
                raise RuleError(f"unclosed or empty '[' in {part!r}")
            body = part[i + 1:end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^/" if negate else "") + body.replace("\\", "\\\\").replace("^", "\\^") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> str:
    """A path glob ('/'-separated) as a regex: ``**`` is any number of folders (none included),
    ``*`` and ``?`` stay within one name, ``{a,b}`` are alternatives."""
    alternatives = []
    for option in expand_braces(pattern):
        if not option or option.startswith("/") or option.endswith("/") or "//" in option:
            raise RuleError(f"{pattern!r} is not a relative path glob")
        parts = option.split("/")
        regex = ""
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            if part == "**":
                regex += ".*" if last else "(?:[^/]+/)*"
            elif "**" in part:
                raise RuleError(f"'**' must be a whole path component in {pattern!r}")
            else:
                regex += _component_regex(part) + ("" if last else "/")
        alternatives.append(regex)
    return "(?:" + "|".join(alternatives) + ")"


def compile_glob(patterns: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(glob_regex(p) for p in patterns), re.IGNORECASE | re.DOTALL)


def _has_wildcard(text: str) -> bool:
    return any(c in text for c in "*?[")


def split_name(name: str) -> tuple[str, str]:
    """``places.sqlite`` -> (places, sqlite); ``Bookmarks`` -> (Bookmarks, ''); ``.hidden`` has no extension."""
    dot = name.rfind(".")
    return (name, "") if dot <= 0 else (name[:dot], name[dot + 1:])


# --- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pull:
    """One thing a rule pulls: ``pattern`` relative to the matched file's folder (``from_anchor`` off)
    or to the anchor folder, with {name} {stem} {ext} of the matched file; wildcards in the last name only."""

    pattern: str
    folder: bool
    from_anchor: bool = False


@dataclass(frozen=True)
class Target:
    """Where to look for one pull of one file: names in ``folder`` (relative to the root) matching ``regex``."""

    folder: str
    regex: re.Pattern
    is_folder: bool
    literal: str | None  # the exact name when the pattern has no wildcard (such a name may be shown when skipped)


@dataclass(frozen=True)
class Rule:
    name: str
    application: str
    reason: str
    roots: tuple[str, ...]  # root kinds, or ("*",) for any
    match: tuple[str, ...]
    anchor: str = ""
    pulls: tuple[Pull, ...] = ()
    streams: bool = False
    enabled: bool = True
    source: str = "built-in"
    _match: re.Pattern | None = field(default=None, compare=False, repr=False)
    _anchor: re.Pattern | None = field(default=None, compare=False, repr=False)

    def applies_to(self, root_kind: str) -> bool:
        return self.enabled and ("*" in self.roots or root_kind in self.roots)

    def matches(self, path: str) -> bool:
        return bool(self._match and self._match.fullmatch(path.replace("\\", "/")))

    def anchor_of(self, path: str) -> str | None:
        """The deepest ancestor folder of ``path`` matching the anchor ('' is the root); the file's
        own folder without an anchor; None when no ancestor matches."""
        folder = paths.parent(path)
        if not self.anchor:
            return folder
        parts = folder.split("\\") if folder else []
        for depth in range(len(parts), -1, -1):
            candidate = "/".join(parts[:depth])
            if self._anchor.fullmatch(candidate):
                return "\\".join(parts[:depth])
        return None

    def targets(self, path: str) -> list[Target]:
        """Where this rule looks for what belongs with ``path`` (pure; [] when it does not match)."""
        if not self.matches(path):
            return []
        name = paths.name_of(path)
        stem, ext = split_name(name)
        values = {"name": name, "stem": stem, "ext": ext}
        anchor = self.anchor_of(path) if any(p.from_anchor for p in self.pulls) else None
        found = []
        for pull in self.pulls:
            base = anchor if pull.from_anchor else paths.parent(path)
            if base is None:
                continue
            *folders, last = pull.pattern.split("/")
            folder = paths.join(base, *(_fill(f, values) for f in folders))
            literal = None if _has_wildcard(_PLACEHOLDER.sub("", last)) else _fill(last, values)
            found.append(Target(folder, _name_regex(last, values), pull.folder, literal))
        return found


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _name_regex(template: str, values: dict[str, str]) -> re.Pattern:
    """A name pattern with placeholders: the file's own name parts are literal, the rest is a glob."""
    regex, pos = "", 0
    for m in _PLACEHOLDER.finditer(template):
        regex += _component_regex(template[pos:m.start()]) + re.escape(values[m.group(1)])
        pos = m.end()
    regex += _component_regex(template[pos:])
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def _strings(rule: str, key: str, value, *, allow_single: bool = False) -> tuple[str, ...]:
    """A list of non-empty strings (or one string where ``allow_single``, which also means at least one)."""
    if allow_single and isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value)
            or (allow_single and not value)):
        shape = "a string or a non-empty list of strings" if allow_single else "a list of strings"
        raise RuleError(f"rule {rule!r}: '{key}' must be {shape}")
    return tuple(v.strip() for v in value)


def _line(rule: str, key: str, value, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"rule {rule!r}: '{key}' is required (one line of text)")
    if "\n" in value.strip() or "\r" in value or len(value.strip()) > limit:
        raise RuleError(f"rule {rule!r}: '{key}' must be one line of at most {limit} characters")
    return value.strip()


def _check_pattern(rule: str, key: str, pattern: str, *, nested: bool) -> str:
    """A pull pattern: placeholders known, names Windows accepts, no way out of its folder."""
    for m in _PLACEHOLDER.finditer(pattern):
        if m.group(1) not in PLACEHOLDERS:
            raise RuleError(f"rule {rule!r}: unknown placeholder {m.group(0)} in '{key}' {pattern!r}; "
                            "use {name}, {stem} or {ext}")
    bare = _PLACEHOLDER.sub("x", pattern)
    if "{" in bare or "}" in bare:
        raise RuleError(f"rule {rule!r}: unbalanced brace in '{key}' {pattern!r}")
    parts = bare.split("/")
    if len(parts) > 1 and not nested:
        raise RuleError(f"rule {rule!r}: '{key}' {pattern!r} must be a name in the same folder (no '/')")
    for n, part in enumerate(parts):
        if _has_wildcard(part) and n < len(parts) - 1:
            raise RuleError(f"rule {rule!r}: wildcards are allowed in the last name only: '{key}' {pattern!r}")
        try:
            paths.check_name(re.sub(r"[*?]|\[[^\]]*\]", "x", part))
        except paths.PathError as exc:
            raise RuleError(f"rule {rule!r}: '{key}' {pattern!r}: {exc}") from None
    return pattern


def parse_rule(data: dict, source: str) -> Rule:
    """One rule from its TOML table (or the admin's equivalent); RuleError naming it otherwise."""
    if not isinstance(data, dict):
        raise RuleError(f"{source}: each [[rule]] must be a table")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RuleError(f"{source}: rule {name!r}: 'name' must be lower-case letters, digits, '.', '_' or '-' "
                        "(at most 64)")
    label = f"{name}' in '{source}"
    unknown = sorted(set(data) - RULE_KEYS)
    if unknown:
        raise RuleError(f"rule {label!r}: unknown key(s) {', '.join(unknown)}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"rule {label!r}: 'enabled' must be true or false")
    if not enabled:  # a switched-off rule only needs its name (it replaces a rule of that name)
        return Rule(name=name, application=str(data.get("application", "")), reason="", roots=(), match=(),
                    enabled=False, source=source)
    application = _line(label, "application", data.get("application"), 100)
    reason = _line(label, "reason", data.get("reason"), 300)
    roots = _strings(label, "root", data.get("root", "*"), allow_single=True)
    for kind in roots:
        if kind != "*" and not _ROOT_KIND.fullmatch(kind):
            raise RuleError(f"rule {label!r}: root kind {kind!r} is not a kind name (e.g. profile, data) or '*'")
    if "match" not in data:
        raise RuleError(f"rule {label!r}: 'match' is required (a glob such as '**/*.sqlite')")
    match = _strings(label, "match", data["match"], allow_single=True)
    anchor = data.get("anchor", "")
    if not isinstance(anchor, str):
        raise RuleError(f"rule {label!r}: 'anchor' must be a string")
    try:
        compiled_match = compile_glob(match)
        compiled_anchor = compile_glob((anchor,)) if anchor else None
    except RuleError as exc:
        raise RuleError(f"rule {label!r}: {exc}") from None

    pulls: list[Pull] = []
    for ext in _strings(label, "sidecars", data.get("sidecars", [])):
        pulls.append(Pull(_check_pattern(label, "sidecars", "{stem}." + ext.lstrip("."), nested=False), False))
    for pattern in _strings(label, "siblings", data.get("siblings", [])):
        pulls.append(Pull(_check_pattern(label, "siblings", pattern, nested=False), False))
    for pattern in _strings(label, "folders", data.get("folders", [])):
        pulls.append(Pull(_check_pattern(label, "folders", pattern.rstrip("/"), nested=False), True))
    for pattern in _strings(label, "set", data.get("set", [])):
        folder = pattern.endswith("/")
        pulls.append(Pull(_check_pattern(label, "set", pattern.rstrip("/"), nested=True), folder, from_anchor=True))
    streams = data.get("streams", False)
    if not isinstance(streams, bool):
        raise RuleError(f"rule {label!r}: 'streams' must be true or false")
    if not pulls and not streams:
        raise RuleError(f"rule {label!r} pulls nothing: give sidecars, siblings, folders, set or streams = true")
    if anchor and not any(p.from_anchor for p in pulls):
        raise RuleError(f"rule {label!r}: 'anchor' is only used by 'set'; give a set or drop the anchor")
    return Rule(name=name, application=application, reason=reason, roots=roots, match=match, anchor=anchor,
                pulls=tuple(pulls), streams=streams, source=source, _match=compiled_match, _anchor=compiled_anchor)


def parse_rules(text: str, source: str) -> list[Rule]:
    """A rule file's text ([[rule]] tables) -> rules; RuleError naming the file and the rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source} is not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"rule"})
    if extra:
        raise RuleError(f"{source}: unknown top-level key(s) {', '.join(extra)}; rules are [[rule]] tables")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise RuleError(f"{source}: rules must be [[rule]] tables")
    rules, seen = [], set()
    for table in tables:
        rule = parse_rule(table, source)
        if rule.name in seen:
            raise RuleError(f"{source}: rule {rule.name!r} is defined twice")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def merge(*layers: list[Rule]) -> list[Rule]:
    """Later layers replace earlier rules of the same name (in place); new names come after."""
    merged: dict[str, Rule] = {}
    for layer in layers:
        for rule in layer:
            merged[rule.name] = rule
    return list(merged.values())


@lru_cache(maxsize=1)
def builtin_rules() -> tuple[Rule, ...]:
    return tuple(parse_rules(BUILTIN_FILE.read_text(encoding="utf-8"), "restore/related_rules.toml"))


@lru_cache(maxsize=4)
def _file_rules(path: str, _mtime_ns: int, _size: int) -> tuple[Rule, ...]:
    try:
        return tuple(parse_rules(Path(path).read_text(encoding="utf-8"), path))
    except RuleError as exc:
        raise ImproperlyConfigured(f"RELATED_RULES_FILE: {exc}") from None


def file_rules() -> tuple[Rule, ...]:
    """The administrator's rule file (RELATED_RULES_FILE), re-read when it changes."""
    path = getattr(settings, "RELATED_RULES_FILE", "")
    if not path:
        return ()
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise ImproperlyConfigured(f"RELATED_RULES_FILE={path!r} cannot be read: {exc}") from None
    return _file_rules(path, stat.st_mtime_ns, stat.st_size)


def admin_rules() -> list[Rule]:
    from restore.models import RelatedRule

    rules = []
    for row in RelatedRule.objects.order_by("name"):
        try:
            rules.append(parse_rule(row.as_rule_data(), "admin"))
        except RuleError as exc:
            raise ImproperlyConfigured(f"related-file rules in the admin: {exc}") from None
    return rules


def catalog() -> list[Rule]:
    """Every rule in force: built-ins, then the rule file, then the admin's, by name; switched-off ones left out."""
    return [r for r in merge(list(builtin_rules()), list(file_rules()), admin_rules()) if r.enabled]
