"""The shape of restore/: one-way imports between its packages, no circles, sizes in bounds.

Run by scripts/test before pytest (and so by CI). It reads the source (it imports nothing) and
fails, saying what to change, on:

- an import circle between modules of restore/ (imports inside functions count: a circle hidden
  in a function is still a circle);
- an import that goes up the layers below, or between the two front doors (pages and API share
  services, never each other);
- an import of smbprotocol outside restore/smb/, or of ldap / django_auth_ldap outside
  restore/directory/;
- a module of more than MAX_LINES lines.

Layers, bottom first (a package may import its own modules and any lower layer; docs/architecture.md
draws them): nt, smb, directory | models | audit | versions | accounts | related | helpdesk |
catalog | restores | web, api. The app's wiring modules (restore.admin, restore.apps, restore.management)
sit above all of them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "restore"
MAX_LINES = 450

LAYERS = {
    "nt": 0, "smb": 1, "directory": 1,
    "models": 2,
    "audit": 3,
    "versions": 4,
    "accounts": 5,
    "related": 6,
    "helpdesk": 7,
    "catalog": 8,
    "restores": 9,
    "web": 10, "api": 10,
    "admin": 11, "apps": 11, "management": 11, "migrations": 11,
}
SIBLINGS_APART = {frozenset({"web", "api"}), frozenset({"smb", "directory"})}
ONLY_IN = {"smbprotocol": "smb", "ldap": "directory", "django_auth_ldap": "directory"}


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    p = ROOT.joinpath(*name.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def imports_of(path: Path, modname: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, TYPE_CHECKING blocks excepted."""
    tree = ast.parse(path.read_text(), str(path))
    package = modname if path.name == "__init__.py" else modname.rpartition(".")[0]
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            subs = [f"{target}.{a.name}" for a in node.names if is_module(f"{target}.{a.name}")]
            found += [(node.lineno, s) for s in subs] or [(node.lineno, target)]
    return found


def concern(modname: str) -> str:
    parts = modname.split(".")
    return parts[1] if len(parts) > 1 else ""


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-imports."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check() -> list[str]:
    problems = []
    graph: dict[str, set[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        rel = path.relative_to(ROOT)
        modname = module_of(path)
        mine = concern(modname)
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and "migrations" not in rel.parts:
            problems.append(f"{rel}: {lines} lines (at most {MAX_LINES}): split it by responsibility")
        if "migrations" in rel.parts:
            continue
        graph.setdefault(modname, set())
        for line, target in imports_of(path, modname):
            top = target.split(".")[0]
            if top in ONLY_IN and mine != ONLY_IN[top]:
                problems.append(f"{rel}:{line}: imports {target}; only restore/{ONLY_IN[top]}/ may (go through it)")
            if top != "restore":
                continue
            if target != modname:
                graph[modname].add(target)
            theirs = concern(target)
            if not mine or not theirs or mine == theirs:
                continue
            if frozenset({mine, theirs}) in SIBLINGS_APART:
                problems.append(f"{rel}:{line}: {mine}/ imports {target}; {mine}/ and {theirs}/ never import each "
                                "other (move what both need into a service below them)")
            elif LAYERS.get(theirs, 99) > LAYERS.get(mine, 99):
                problems.append(f"{rel}:{line}: {mine}/ imports {target}, which is above it "
                                f"({theirs} is layer {LAYERS.get(theirs)}, {mine} is {LAYERS.get(mine)}): "
                                "move the shared part down or pass it in")
    known = set(graph)
    graph = {k: {t for t in v if t in known} for k, v in graph.items()}
    for circle in find_circles(graph):
        problems.append("import circle: " + " -> ".join(circle) + " (break it: move the shared part into "
                        "the lower module)")
    return problems


def main() -> int:
    problems = check()
    for p in problems:
        print(p)
    if problems:
        print(f"check_imports: {len(problems)} problem(s) in restore/ (see scripts/check_imports.py)")
        return 1
    print("check_imports: restore/ imports flow one way, no circles, every module within "
          f"{MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
