"""A large share for the catalog benchmark: realistic profile trees in the `bench` share's `bulk/`
folder, and a history of back-dated snapshots with a small change rate between them.

    scripts/testenv bulk generate [--files 100000] [--snapshots 100] [--change-rate 0.005] [--pending 1] [--seed 1]
    scripts/testenv bulk publish            the next pending snapshot appears, taken now (incremental update)
    scripts/testenv bulk snapshot [--at T]  snapshot the bench share (prints its token); tests use it
    scripts/testenv bulk drop TOKEN...      remove snapshots of the bench share
    scripts/testenv bulk remove             remove bulk/ and every snapshot this tool made
    scripts/testenv bulk status

Only ever touches the bench share (`bulk/` and the snapshots it lists in .testenv/bulk.json, plus
those a test asks it to take or drop). Files are written on disk as root, fast: sparse files of
realistic sizes, back-dated, each carrying a `security.NTACL` xattr copied from a file Samba
created over SMB in the same place (so their security descriptors are Samba's own: alice may read
everything except the `Private` folders, which deny her). Snapshots are hard-link farms of bulk/
(`cp -al`; a file changes by being replaced, never in place, so no snapshot ever changes) and
plain copies of anything else in the share (other tests' folders), read-only like real snapshots.
A pending snapshot is built now but named so that Samba does not list it (`.pending-N`);
`publish` gives it the current time, as a new snapshot of an untouched history would appear.

bench/timeline.py deletes every snapshot of the bench share when it prepares its own history:
after `scripts/bench timeline`, generate again (bench/catalog.py does it when its snapshots are gone).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".testenv"
MANIFEST = STATE / "bulk.json"
BULK = "bulk"
NTACL = "security.NTACL"
FOLDER_TOKEN = "@GMT-%Y.%m.%d-%H.%M.%S"


def facts() -> dict[str, str]:
    out = {}
    for line in (STATE / "env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = shlex.split(value)[0] if value else ""
    return out


ENV = facts()
SHARE = Path(ENV["TESTENV_SHARE_BENCH_PATH"])
SNAPS = Path(ENV["TESTENV_SHARE_BENCH_SNAPDIR"])


def log(message: str) -> None:
    print(f"testenv bulk: {message}", file=sys.stderr, flush=True)


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"tokens": [], "pending": []}


def save_manifest(manifest: dict) -> None:
    MANIFEST.write_text(json.dumps(manifest, indent=1))


# --- snapshots -----------------------------------------------------------------------------------


def token_for(when: datetime) -> str:
    token = when.astimezone(UTC).strftime(FOLDER_TOKEN)
    while (SNAPS / token).exists():  # two snapshots in one second: the next second
        when += timedelta(seconds=1)
        token = when.astimezone(UTC).strftime(FOLDER_TOKEN)
    return token


def copy_meta(src: Path, dst: Path) -> None:
    """Owner, mode, times and the xattrs Samba keeps (NT ACL, DOS attributes) of a folder."""
    st = src.stat()
    for name in os.listxattr(src):
        os.setxattr(dst, name, os.getxattr(src, name))
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def read_only(tree: Path, *, linked: Path | None) -> None:
    """a-w on everything, except files of the hard-linked folder (shared with the live tree; they are
    0444 from the start), whose mode must not change under the live files."""
    if linked is None:
        subprocess.run(["chmod", "-R", "a-w", str(tree)], check=True)
        return
    subprocess.run(["find", str(tree), "-path", str(linked), "-prune", "-o", "-exec", "chmod", "a-w", "{}", "+"],
                   check=True)
    subprocess.run(["find", str(linked), "-type", "d", "-exec", "chmod", "a-w", "{}", "+"], check=True)


def take(name: str) -> Path:
    """A snapshot of the bench share as folder ``name`` of the snapdir: bulk/ linked, the rest copied."""
    tmp = SNAPS / f".tmp-{name}"
    if tmp.exists():
        drop_path(tmp)
    tmp.mkdir()
    for child in SHARE.iterdir():
        if child.name == BULK:
            subprocess.run(["cp", "-al", str(child), str(tmp / BULK)], check=True)
        else:
            subprocess.run(["cp", "-a", str(child), str(tmp / child.name)], check=True)
    read_only(tmp, linked=tmp / BULK if (tmp / BULK).exists() else None)
    copy_meta(SHARE, tmp)
    os.chmod(tmp, 0o755)
    final = SNAPS / name
    tmp.rename(final)
    os.chmod(final, 0o555)
    return final


def drop_path(path: Path) -> None:
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)
        shutil.rmtree(path)


def cmd_snapshot(args) -> None:
    when = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else datetime.now(UTC)
    token = token_for(when)
    take(token)
    print(token)


def cmd_drop(args) -> None:
    manifest = load_manifest()
    for token in args.tokens:
        if not token.startswith("@GMT-") or "/" in token:
            raise SystemExit(f"not a snapshot token: {token!r}")
        drop_path(SNAPS / token)
        if token in manifest["tokens"]:
            manifest["tokens"].remove(token)
    save_manifest(manifest)


def cmd_remove(_args=None) -> None:
    manifest = load_manifest()
    for token in manifest["tokens"]:
        drop_path(SNAPS / token)
    for pending in manifest["pending"]:
        drop_path(SNAPS / pending)
    drop_path(SHARE / BULK)
    save_manifest({"tokens": [], "pending": []})
    log("removed bulk/ and its snapshots")


def cmd_publish(_args=None) -> None:
    manifest = load_manifest()
    if not manifest["pending"]:
        raise SystemExit("no pending snapshot (generate with --pending N)")
    pending = manifest["pending"].pop(0)
    token = token_for(datetime.now(UTC))
    os.chmod(SNAPS / pending, 0o755)
    (SNAPS / pending).rename(SNAPS / token)
    os.chmod(SNAPS / token, 0o555)
    manifest["tokens"].append(token)
    save_manifest(manifest)
    print(token)


def cmd_status(_args=None) -> None:
    manifest = load_manifest()
    present = [t for t in manifest["tokens"] if (SNAPS / t).exists()]
    print(json.dumps({"files": manifest.get("files"), "snapshots": len(present), "missing": len(manifest["tokens"])
                      - len(present), "pending": len(manifest["pending"]), "change_rate": manifest.get("change_rate"),
                      "live": (SHARE / BULK).exists()}))


# --- the tree ----------------------------------------------------------------------------------------

WORDS = ("budget", "forecast", "roadmap", "minutes", "proposal", "contract", "invoice", "summary", "report",
         "design", "migration", "handover", "training", "policy", "audit", "review", "plan", "notes", "offer",
         "quote", "timesheet", "expenses", "onboarding", "release", "backlog", "survey", "pricing", "strategy")
PROJECTS = ("Apollo", "Borealis", "Citrine", "Delta Wing", "Everest", "Falcon", "Granite", "Harbour", "Iris",
            "Juniper", "Kestrel", "Lighthouse", "Meridian", "Nimbus", "Orion", "Pioneer", "Quartz", "Redwood")
DOC_EXT = ((".docx", 30_000), (".xlsx", 45_000), (".pptx", 900_000), (".pdf", 250_000), (".txt", 2_000),
           (".msg", 60_000), (".csv", 20_000), (".vsdx", 120_000))


class Tree:
    """A deterministic estate: ``files`` files over profile trees of users u00001..; sizes and names
    drawn from ``rng``. Paths are relative to bulk/, with os.sep."""

    def __init__(self, files: int, rng: random.Random):
        self.rng = rng
        self.users = max(1, files // 800)
        self.budget = files
        self.files: dict[str, int] = {}  # path -> size

    def size(self, typical: int) -> int:
        return max(0, int(self.rng.lognormvariate(0, 1.0) * typical))

    def add(self, folder: str, name: str, typical: int) -> None:
        if len(self.files) < self.budget:
            self.files[f"{folder}/{name}"] = self.size(typical)

    def build(self) -> None:
        per_user = -(-self.budget // self.users)
        for u in range(1, self.users + 1):
            start = len(self.files)
            user = f"u{u:05d}"
            while len(self.files) - start < per_user and len(self.files) < self.budget:
                before = len(self.files)
                self.profile(user, start + per_user)
                if len(self.files) == before:
                    break

    def profile(self, user: str, stop: int) -> None:
        r = self.rng
        steps = [
            lambda: [self.add(f"{user}/AppData/Roaming/Microsoft/Windows/Recent", f"{r.choice(WORDS)}-{i}.lnk", 900)
                     for i in range(r.randint(10, 40))],
            lambda: [self.add(f"{user}/AppData/Roaming/Microsoft/Signatures", n, 4_000)
                     for n in ("Corp.htm", "Corp.rtf", "Corp.txt")],
            lambda: self.firefox(user),
            lambda: self.chrome(user),
            lambda: [self.add(f"{user}/AppData/Roaming/Code/User/workspaceStorage/{r.getrandbits(64):016x}", n, 30_000)
                     for _ in range(r.randint(2, 6)) for n in ("workspace.json", "state.vscdb")],
            lambda: [self.add(f"{user}/AppData/Roaming/Notepad++/backup", f"new {i}@2026-0{r.randint(1, 9)}.bak", 3_000)
                     for i in range(r.randint(1, 12))],
            lambda: self.add(f"{user}/AppData/Local/Packages/Microsoft.MicrosoftStickyNotes_8wekyb3d8bbwe/LocalState",
                             "plum.sqlite", 200_000),
            lambda: self.documents(user),
            lambda: [self.add(f"{user}/Desktop", f"{r.choice(WORDS)} {i}{r.choice(DOC_EXT)[0]}", 40_000)
                     for i in range(r.randint(3, 15))],
            lambda: self.pictures(user),
            lambda: [self.add(f"{user}/Downloads", f"{r.choice(WORDS)}_{r.randint(100, 999)}{ext}", 2_000_000)
                     for ext in (".pdf", ".zip", ".msi", ".exe") for _ in range(r.randint(1, 5))],
        ]
        for step in steps:
            if len(self.files) >= stop:
                return
            step()

    def firefox(self, user: str) -> None:
        base = f"{self.user_hex(user)}.default-release"
        folder = f"{user}/AppData/Roaming/Mozilla/Firefox/Profiles/{base}"
        for name, typical in (("prefs.js", 12_000), ("places.sqlite", 5_000_000), ("places.sqlite-wal", 500_000),
                              ("cookies.sqlite", 500_000), ("formhistory.sqlite", 200_000)):
            self.add(folder, name, typical)
        for i in range(self.rng.randint(50, 250)):
            self.add(f"{folder}/cache2/entries", f"{self.rng.getrandbits(160):040X}", 20_000)

    def chrome(self, user: str) -> None:
        folder = f"{user}/AppData/Local/Google/Chrome/User Data/Default"
        for name, typical in (("Preferences", 60_000), ("History", 2_000_000), ("Bookmarks", 20_000)):
            self.add(folder, name, typical)
        for i in range(self.rng.randint(40, 200)):
            self.add(f"{folder}/Cache/Cache_Data", f"f_{i:06x}", 30_000)

    def documents(self, user: str) -> None:
        r = self.rng
        for project in r.sample(PROJECTS, r.randint(2, 6)):
            folder = f"{user}/Documents/Projects/{project}"
            for i in range(r.randint(5, 25)):
                ext, typical = r.choice(DOC_EXT)
                self.add(folder if i % 4 else f"{folder}/drafts", f"{r.choice(WORDS)} {project} v{i}{ext}", typical)
        for year in (2024, 2025, 2026):
            for q in range(1, 5):
                for i in range(r.randint(1, 4)):
                    self.add(f"{user}/Documents/Reports/{year}/Q{q}", f"{r.choice(WORDS)}-{year}-Q{q}-{i}.pdf", 300_000)
        for i in range(r.randint(5, 30)):
            self.add(f"{user}/Documents/Invoices/2026", f"INV-{r.randint(10000, 99999)}.pdf", 80_000)
        if int(user[1:]) % 5 == 0:
            folder = f"{user}/Documents/Private"
            for i in range(r.randint(3, 10)):
                self.add(folder, f"{r.choice(('salary', 'appraisal', 'medical', 'contract'))} {i}.pdf", 100_000)

    def pictures(self, user: str) -> None:
        r = self.rng
        for year in (2025, 2026):
            for month in r.sample(range(1, 13), 4):
                for i in range(r.randint(5, 20)):
                    self.add(f"{user}/Pictures/{year}/{month:02d}", f"IMG_{r.randint(1000, 9999)}.jpg", 3_000_000)

    def user_hex(self, user: str) -> str:
        return f"{zlib.crc32(user.encode()):08x}"


def is_private(rel: str) -> bool:
    """<user>/Documents/Private and below: alice may not read them."""
    parts = rel.split("/")
    return len(parts) >= 3 and parts[1:3] == ["Documents", "Private"]


class Writer:
    """Writes the tree on disk with Samba's own NT ACLs (templates made over SMB)."""

    def __init__(self, root: Path, templates: dict[str, bytes]):
        self.root = root
        self.t = templates
        self.made: set[str] = set()

    def folder(self, rel: str) -> None:
        if rel in self.made or not rel:
            return
        self.folder(rel.rpartition("/")[0])
        path = self.root / rel
        path.mkdir(exist_ok=True)
        os.setxattr(path, NTACL, self.t["private_dir" if is_private(rel) else "dir"])
        os.chmod(path, 0o777)
        self.made.add(rel)

    def file(self, rel: str, size: int, mtime: float) -> None:
        """A new inode at ``rel`` (replacing any old one by rename: hard-linked snapshots keep theirs)."""
        folder = rel.rpartition("/")[0]
        self.folder(folder)
        path = self.root / rel
        tmp = path.with_name(f".{path.name}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        try:
            os.ftruncate(fd, size)
            os.setxattr(fd, NTACL, self.t["private_file" if is_private(folder) else "file"])
        finally:
            os.close(fd)
        os.utime(tmp, (mtime, mtime))
        os.rename(tmp, path)

    def delete(self, rel: str) -> None:
        os.unlink(self.root / rel)


def templates(alice_sid: str) -> dict[str, bytes]:
    """NT ACL xattrs of a folder and a file that Samba created over SMB in bulk/ (alice may read), and
    of a folder and file in a folder that denies her (a protected ACL without her)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vdiprotect.settings")
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(REPO))
    django.setup()
    from restore import smb
    from restore.nt.access import FILE_ALL_ACCESS
    from restore.nt.constants import (
        ACCESS_ALLOWED_ACE_TYPE,
        CONTAINER_INHERIT_ACE,
        OBJECT_INHERIT_ACE,
        SE_DACL_PROTECTED,
    )
    from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor, parse_security_descriptor

    client = smb.client_for(ENV["TESTENV_HOST"])
    inherit = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
    if not (SHARE / BULK).exists():
        client.mkdir("bench", BULK)
    sd = parse_security_descriptor(client.security_descriptor("bench", BULK))
    if not any(a.sid == alice_sid for a in sd.dacl or ()):
        mine = Ace(ACCESS_ALLOWED_ACE_TYPE, inherit, FILE_ALL_ACCESS, alice_sid)
        client.set_security_descriptor("bench", BULK, build_security_descriptor(
            SecurityDescriptor(sd.owner, sd.group, (sd.dacl or ()) + (mine,), sd.control)))
    base = f"{BULK}\\.templates"
    client.makedirs("bench", f"{base}\\dir")
    client.makedirs("bench", f"{base}\\private")
    psd = parse_security_descriptor(client.security_descriptor("bench", f"{base}\\private"))
    kept = tuple(Ace(a.type, inherit, a.mask, a.sid) for a in psd.dacl or () if a.sid != alice_sid)
    client.set_security_descriptor("bench", f"{base}\\private", build_security_descriptor(
        SecurityDescriptor(psd.owner, psd.group, kept, psd.control | SE_DACL_PROTECTED)))
    client.makedirs("bench", f"{base}\\private\\dir")
    for rel in (f"{base}\\file", f"{base}\\private\\file"):
        with client.create_file("bench", rel, overwrite=True) as handle:
            handle.write(0, b"x")
    disk = SHARE / BULK / ".templates"
    out = {"dir": os.getxattr(disk / "dir", NTACL), "file": os.getxattr(disk / "file", NTACL),
           "private_dir": os.getxattr(disk / "private" / "dir", NTACL),
           "private_file": os.getxattr(disk / "private" / "file", NTACL)}
    smb.reset_pool()
    shutil.rmtree(disk)
    return out


def alice_sid() -> str:
    """From the DC's own sam.ldb (no LDAP bind, which a DC with NTLM disabled refuses to a password)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import testenv_files

    return testenv_files.local_sids(ENV, ["alice"])["alice"]


def cmd_generate(args) -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root (it writes the share on disk)")
    t0 = time.monotonic()
    cmd_remove()
    rng = random.Random(args.seed)
    tree = Tree(args.files, rng)
    tree.build()
    xattrs = templates(alice_sid())
    total = args.snapshots + args.pending
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=total + 2)
    writer = Writer(SHARE / BULK, xattrs)
    files = dict(tree.files)
    for rel, size in files.items():
        writer.file(rel, size, (start - timedelta(days=rng.randint(1, 400), seconds=rng.randint(0, 86400))).timestamp())
    log(f"{len(files)} files in {len(writer.made)} folders written ({time.monotonic() - t0:.0f} s)")
    manifest = {"tokens": [], "pending": [], "files": args.files, "snapshots": args.snapshots,
                "change_rate": args.change_rate, "seed": args.seed, "generated": datetime.now(UTC).isoformat()}
    save_manifest(manifest)
    names = sorted(files)
    for i in range(total):
        when = start + timedelta(hours=i)
        if i:
            change(writer, files, names, rng, args.change_rate, when, i)
        if i < args.snapshots:
            token = token_for(when)
            take(token)
            manifest["tokens"].append(token)
        else:
            name = f".pending-{i - args.snapshots + 1}"
            take(name)
            manifest["pending"].append(name)
        save_manifest(manifest)
        if (i + 1) % 10 == 0 or i + 1 == total:
            log(f"{i + 1}/{total} snapshots ({time.monotonic() - t0:.0f} s)")
    log(f"done: {len(files)} live files, {args.snapshots} snapshots + {args.pending} pending "
        f"in {time.monotonic() - t0:.0f} s")


def change(writer: Writer, files: dict, names: list, rng: random.Random, rate: float, when: datetime, i: int) -> None:
    """Between two snapshots: rate x files changes (70 % modified, 15 % deleted, 15 % added), and every
    tenth time one project folder deleted with everything in it."""
    count = max(1, round(len(files) * rate))
    stamp = lambda: (when - timedelta(minutes=rng.randint(1, 55))).timestamp()  # noqa: E731
    for _ in range(count):
        roll = rng.random()
        rel = rng.choice(names)
        if rel not in files:
            continue
        if roll < 0.70:
            files[rel] = max(0, files[rel] + rng.randint(-2000, 20000))
            writer.file(rel, files[rel], stamp())
        elif roll < 0.85:
            writer.delete(rel)
            del files[rel]
        else:
            folder = rel.rpartition("/")[0]
            new = f"{folder}/{rng.choice(WORDS)} {rng.randint(1, 99999)}{rng.choice(DOC_EXT)[0]}"
            if new not in files:
                files[new] = rng.randint(100, 200_000)
                writer.file(new, files[new], stamp())
                names.append(new)
    if i % 10 == 0:
        projects = sorted({r.rpartition("/Projects/")[0] + "/Projects/" + r.partition("/Projects/")[2].split("/")[0]
                           for r in files if "/Projects/" in r})
        if projects:
            gone = rng.choice(projects)
            for rel in [r for r in files if r.startswith(gone + "/")]:
                del files[rel]
            shutil.rmtree(writer.root / gone)
            writer.made = {m for m in writer.made if not (m == gone or m.startswith(gone + "/"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--files", type=int, default=100_000)
    gen.add_argument("--snapshots", type=int, default=100)
    gen.add_argument("--change-rate", type=float, default=0.005)
    gen.add_argument("--pending", type=int, default=1)
    gen.add_argument("--seed", type=int, default=1)
    snap = sub.add_parser("snapshot")
    snap.add_argument("--at", default="", help="UTC time, ISO 8601 (default: now)")
    drop = sub.add_parser("drop")
    drop.add_argument("tokens", nargs="+")
    for name in ("publish", "remove", "status"):
        sub.add_parser(name)
    args = parser.parse_args()
    {"generate": cmd_generate, "snapshot": cmd_snapshot, "drop": cmd_drop, "publish": cmd_publish,
     "remove": cmd_remove, "status": cmd_status}[args.command](args)


if __name__ == "__main__":
    main()
