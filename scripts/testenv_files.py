"""Build the sample shares of the test domain: a VDI estate's profile and data folders, their NT
ACLs, and three back-dated snapshots with real differences between them.

Run by `scripts/testenv up` with the project's .venv (smbprotocol), after the DC has started:

    testenv_files.py .testenv/env

Every file is written over SMB as the person who owns it, so its owner and its inherited ACL are
what Samba itself computes; the few explicit ACLs are set with Samba's smbcacls. Last-write times
are then back-dated on disk (as a file server's history would have them) and each snapshot is a
read-only copy of the share taken by `scripts/testenv _take_snapshot`, which keeps the ACL xattrs.

History (T1 = 21 days ago, T2 = 7 days ago, T3 = 1 day ago; both shares snapshotted at each):
  T1  everything below is created
  T2  notes.txt v2, draft.txt renamed to final.txt, the folder "Old Project" deleted,
      Finance/forecast.xlsx changed, meeting-minutes.txt added, Firefox prefs and WAL changed
  T3  notes.txt v3, report.docx deleted, Archive/handover.docx no longer readable by alice,
      the Outlook signature changed, places.sqlite and ledger.sqlite (with their WAL) changed
  live  notes.txt v4, places.sqlite-wal changed again, IMG_0002.jpg added
"""

from __future__ import annotations

import base64
import os
import random
import shlex
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import smbclient
import smbclient.shutil

REPO = Path(__file__).resolve().parent.parent
FULL = "0x1f01ff"  # full control, written numerically (Samba 4.17 maps SDDL FA to 0x1ff)
READ_EXECUTE = "0x1200a9"
GENERIC_READ_FILE = 0x120089

# A 1x1 baseline JPEG (a real, decodable image).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwS"
    "ExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k="
)


def read_env(path: str) -> dict[str, str]:
    facts = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            facts[key] = shlex.split(value)[0] if value else ""
    return facts


class Estate:
    def __init__(self, env: dict[str, str]):
        self.env = env
        # A domain with NTLM disabled (scripts/testenv up --no-ntlm) signs everyone in with Kerberos, which
        # needs the file server's name (its SPN is cifs/<name>; the IP has none) and our krb5.conf.
        self.kerberos = env.get("TESTENV_NTLM") == "disabled"
        self.host = env["TESTENV_DC_NAME"] if self.kerberos else env["TESTENV_HOST"]
        if self.kerberos:
            os.environ["KRB5_CONFIG"] = env["KRB5_CONFIG"]
        self.domain = env["TESTENV_DOMAIN"]
        self.password = env["TESTENV_USER_PASSWORD"]
        self.sids = self.read_sids(["alice", "bob", "carol", "helpdesk1", "auditor1", "admin1", "Finance",
                                    "VDI Restore Service"])
        self.written: dict[str, list[Path]] = {}  # generation -> files on disk touched

    # --- directory ------------------------------------------------------------------------------
    def read_sids(self, names: list[str]) -> dict[str, str]:
        return local_sids(self.env, names)

    # --- SMB as a given person --------------------------------------------------------------------
    def creds(self, who: str) -> dict:
        password = self.env["TESTENV_ADMIN_PASSWORD"] if who == "Administrator" else self.password
        if self.kerberos:
            return {"username": f"{who}@{self.env['TESTENV_REALM']}", "password": password, "auth_protocol": "kerberos"}
        return {"username": f"{self.domain}\\{who}", "password": password, "auth_protocol": "ntlm"}

    def unc(self, share: str, path: str) -> str:
        return f"\\\\{self.host}\\{share}\\" + path.replace("/", "\\")

    def disk(self, share: str, path: str) -> Path:
        return Path(self.env[f"TESTENV_SHARE_{share.upper()}_PATH"]) / path

    def mkdir(self, who: str, share: str, path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if not self.disk(share, sub).is_dir():
                smbclient.mkdir(self.unc(share, sub), **self.creds(who))

    def put(self, who: str, share: str, path: str, data: bytes | str, generation: str) -> None:
        if "/" in path:
            self.mkdir(who, share, path.rsplit("/", 1)[0])
        with smbclient.open_file(self.unc(share, path), mode="wb", **self.creds(who)) as f:
            f.write(data.encode() if isinstance(data, str) else data)
        self.written.setdefault(generation, []).append(self.disk(share, path))

    def put_stream(self, who: str, share: str, path: str, stream: str, data: str) -> None:
        with smbclient.open_file(self.unc(share, path) + ":" + stream, mode="wb", **self.creds(who)) as f:
            f.write(data.encode())

    def remove(self, who: str, share: str, path: str) -> None:
        if self.disk(share, path).is_dir():
            smbclient.shutil.rmtree(self.unc(share, path), **self.creds(who))
        else:
            smbclient.remove(self.unc(share, path), **self.creds(who))

    def rename(self, who: str, share: str, path: str, new_path: str, generation: str) -> None:
        smbclient.rename(self.unc(share, path), self.unc(share, new_path), **self.creds(who))
        self.written.setdefault(generation, []).append(self.disk(share, new_path))

    def admin_signin(self) -> list[str]:
        """Samba's command-line tools' sign-in as Administrator (Kerberos when the domain refuses NTLM)."""
        password = self.env["TESTENV_ADMIN_PASSWORD"]
        if self.kerberos:
            return ["--use-kerberos=required", "-U", f"Administrator@{self.env['TESTENV_REALM']}%{password}"]
        return ["-U", f"{self.domain}/Administrator%{password}"]

    def smbcacls(self, share: str, path: str, *args: str) -> None:
        """Samba's own ACL tool, as Administrator."""
        subprocess.run(
            ["smbcacls", f"//{self.host}/{share}", path.replace("/", "\\") or "\\", *self.admin_signin(), *args],
            check=True, capture_output=True, text=True,
        )

    def set_sddl(self, share: str, path: str, sddl: str) -> None:
        self.smbcacls(share, path, "--sddl", "--set", sddl)

    # --- history --------------------------------------------------------------------------------
    def backdate(self, generation: str, when: datetime) -> None:
        """Give every file written in ``generation`` a last-write time shortly before ``when``."""
        for i, path in enumerate(sorted(set(self.written.pop(generation, [])))):
            t = (when - timedelta(hours=2) + timedelta(minutes=i)).timestamp()
            os.utime(path, (t, t))

    def snapshot(self, when: datetime) -> None:
        for share in ("profiles", "data"):
            subprocess.run([str(REPO / "scripts" / "testenv"), "_take_snapshot", share,
                            when.strftime("%Y-%m-%dT%H:%M:%SZ")], check=True, capture_output=True)


def local_sids(env: dict[str, str], names: list[str]) -> dict[str, str]:
    """sAMAccountName -> SID, read from the DC's own sam.ldb with Samba's ldbsearch (run as root, next to
    the DC): no LDAP bind at all, which a DC with NTLM disabled would refuse to a password (simple bind)."""
    sam = Path(env["TESTENV_STATE"]) / "samba" / "private" / "sam.ldb"
    wanted = "".join(f"(sAMAccountName={name})" for name in names)
    out = subprocess.run(["ldbsearch", "-H", str(sam), f"--configfile={env['TESTENV_SMB_CONF']}",
                          "-b", env["TESTENV_BASE_DN"], f"(|{wanted})", "sAMAccountName", "objectSid"],
                         capture_output=True, text=True, check=True).stdout
    sids, record = {}, {}
    for line in out.splitlines() + [""]:
        key, _, value = line.partition(": ")
        if key in ("sAMAccountName", "objectSid"):
            record[key] = value.strip()
        elif not line.strip() and record:
            sids[record["sAMAccountName"]] = record["objectSid"]
            record = {}
    missing = [name for name in names if name not in sids]
    if missing:
        raise SystemExit(f"testenv: no SID in {sam} for {', '.join(missing)}")
    return sids


def blob(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def log_text(size: int) -> bytes:
    rng = random.Random("big.log")
    lines, total = [], 0
    while total < size:
        line = f"2026-10-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} " \
               f"INFO worker-{rng.randint(1, 9)} processed batch {rng.randint(1000, 99999)}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def sqlite_set(rows: int, table: str = "items") -> dict[str, bytes]:
    """A real SQLite database in WAL mode with uncheckpointed changes: {'': db, '-wal': ..., '-shm': ...}."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "x.sqlite"
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.executemany(f"INSERT INTO {table} (name) VALUES (?)", [(f"row {i}",) for i in range(rows)])
        con.commit()
        parts = {suffix: (Path(str(db) + suffix)).read_bytes() for suffix in ("", "-wal", "-shm")}
        con.close()
    return parts


def put_sqlite(estate: Estate, who: str, share: str, path: str, rows: int, generation: str, *,
               with_shm: bool = True) -> None:
    for suffix, data in sqlite_set(rows).items():
        if suffix == "-shm" and not with_shm:
            continue
        estate.put(who, share, path + suffix, data, generation)


def user_folder_sddl(estate: Estate, who: str) -> str:
    owner, svc = estate.sids[who], estate.sids["VDI Restore Service"]
    return (f"O:{owner}G:DUD:P(A;OICI;{FULL};;;{owner})(A;OICI;{FULL};;;SY)(A;OICI;{FULL};;;BA)"
            f"(A;OICI;{FULL};;;{svc})")


def build(estate: Estate) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    t1, t2, t3 = now - timedelta(days=21), now - timedelta(days=7), now - timedelta(days=1)
    svc = estate.sids["VDI Restore Service"]
    people = ["alice", "bob", "carol", "helpdesk1", "auditor1", "admin1"]

    # Share roots: people may see the list of folders and reach their own; the service group and
    # the administrators have full control everywhere (as an estate grants its backup account).
    for share in ("profiles", "data", "bench"):
        estate.set_sddl(share, "", f"O:BAG:DUD:P(A;OICI;{FULL};;;SY)(A;OICI;{FULL};;;BA)(A;OICI;{FULL};;;{svc})"
                                   f"(A;;{READ_EXECUTE};;;AU)(A;OICIIO;{FULL};;;CO)")
    for who in people:
        for share, folder in (("data", who), ("profiles", f"{who}.V6")):
            estate.mkdir("Administrator", share, folder)
            estate.set_sddl(share, folder, user_folder_sddl(estate, who))

    g = "t1"
    a = "alice"
    docs = "alice/Documents"
    estate.put(a, "data", f"{docs}/notes.txt", "Notes\n- call the bank\n", g)
    estate.put(a, "data", f"{docs}/Budget 2026.xlsx", blob("budget", 24_000), g)
    estate.put(a, "data", f"{docs}/report.docx", blob("report", 18_000), g)
    estate.put(a, "data", f"{docs}/draft.txt", "First draft of the quarterly letter.\n", g)
    estate.put(a, "data", f"{docs}/Old Project/plan.txt", "Plan: phase 1, phase 2.\n", g)
    estate.put(a, "data", f"{docs}/Old Project/specs.md", "# Specs\n\nThe old project's specification.\n", g)
    estate.put(a, "data", f"{docs}/Old Project/diagrams/flow.txt", "start -> review -> done\n", g)
    estate.put(a, "data", f"{docs}/big.log", log_text(6 * 1024 * 1024 + 12345), g)
    estate.put(a, "data", f"{docs}/Archive/handover.docx", blob("handover", 9_000), g)
    estate.put(a, "data", f"{docs}/setup.pdf", b"%PDF-1.4\n" + blob("setup", 4_000), g)
    estate.put_stream(a, "data", f"{docs}/setup.pdf", "Zone.Identifier",
                      "[ZoneTransfer]\r\nZoneId=3\r\nReferrerUrl=https://intranet.example.test/\r\n")
    estate.put(a, "data", f"{docs}/desktop.ini", "[.ShellClassInfo]\r\nIconResource=%SystemRoot%\\system32\\imageres.dll,-112\r\n", g)
    put_sqlite(estate, a, "data", f"{docs}/ledger.sqlite", 10, g)
    for ext, size in (("shp", 2_000), ("shx", 300), ("dbf", 900)):
        estate.put(a, "data", f"{docs}/GIS/parcels.{ext}", blob(f"parcels.{ext}", size), g)
    estate.put(a, "data", f"{docs}/GIS/parcels.prj", 'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984"]]', g)
    estate.put(a, "data", f"{docs}/GIS/parcels.cpg", "UTF-8", g)
    estate.put(a, "data", "alice/Pictures/IMG_0001.jpg", JPEG, g)
    estate.put(a, "data", "alice/Pictures/IMG_0001.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>\n', g)
    estate.put(a, "data", "alice/Pictures/IMG_0001.thm", JPEG, g)
    estate.put(a, "data", "alice/Desktop/todo.txt", "- renew passport\n", g)
    estate.put(a, "data", "alice/Desktop/desktop.ini", "[.ShellClassInfo]\r\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,-21769\r\n", g)
    # A file whose protected ACL names only its owner (common in home folders): the portal's service
    # account cannot read its permissions (Samba ignores backup intent), so the portal hides it from
    # everyone and says so; its folder still lists.
    estate.put(a, "data", "alice/Desktop/private.txt", "Only alice may open this.\n", g)
    estate.set_sddl("data", "alice/Desktop/private.txt", f"O:{estate.sids[a]}G:DUD:P(A;;{FULL};;;{estate.sids[a]})")

    # A folder shared with the Finance group; one file in it denies bob explicitly.
    estate.mkdir(a, "data", f"{docs}/Finance")
    estate.smbcacls("data", f"{docs}/Finance", "--add", f"ACL:{estate.sids['Finance']}:ALLOWED/OI|CI/{READ_EXECUTE}")
    estate.put(a, "data", f"{docs}/Finance/forecast.xlsx", blob("forecast", 12_000), g)
    estate.put(a, "data", f"{docs}/Finance/salaries.xlsx", blob("salaries", 15_000), g)
    estate.smbcacls("data", f"{docs}/Finance/salaries.xlsx", "--add",
                    f"ACL:{estate.sids['bob']}:DENIED/0/0x{GENERIC_READ_FILE:08x}")

    profile = "alice.V6/AppData"
    ff = f"{profile}/Roaming/Mozilla/Firefox"
    estate.put(a, "profiles", f"{ff}/profiles.ini", "[Profile0]\nName=default-release\nPath=Profiles/k3x9.default-release\n", g)
    ffp = f"{ff}/Profiles/k3x9.default-release"
    put_sqlite(estate, a, "profiles", f"{ffp}/places.sqlite", 20, g)
    put_sqlite(estate, a, "profiles", f"{ffp}/favicons.sqlite", 5, g, with_shm=False)
    estate.put(a, "profiles", f"{ffp}/prefs.js", 'user_pref("browser.startup.page", 3);\n', g)
    sig = f"{profile}/Roaming/Microsoft/Signatures"
    estate.put(a, "profiles", f"{sig}/Work.htm", "<html><body>Alice Archer<br>Finance</body></html>\n", g)
    estate.put(a, "profiles", f"{sig}/Work.rtf", r"{\rtf1 Alice Archer\par Finance}", g)
    estate.put(a, "profiles", f"{sig}/Work.txt", "Alice Archer\nFinance\n", g)
    estate.put(a, "profiles", f"{sig}/Work_files/image001.png", blob("logo", 800), g)
    estate.put(a, "profiles", f"{sig}/Work_files/filelist.xml", "<xml><o:File HRef=\"image001.png\"/></xml>\n", g)
    estate.put(a, "profiles", f"{profile}/Roaming/Microsoft/UProof/CUSTOM.DIC", "vdiprotect\r\nSamba\r\n", g)
    estate.put(a, "profiles", f"{profile}/Roaming/Microsoft/Templates/Normal.dotm", blob("normal", 20_000), g)
    for browser in ("Google/Chrome", "Microsoft/Edge"):
        base = f"{profile}/Local/{browser}/User Data/Default"
        estate.put(a, "profiles", f"{base}/Bookmarks", '{"roots": {"bookmark_bar": {"children": []}}}\n', g)
        estate.put(a, "profiles", f"{base}/Bookmarks.bak", '{"roots": {"bookmark_bar": {"children": []}}}\n', g)
        estate.put(a, "profiles", f"{base}/Preferences", '{"homepage": "https://intranet.example.test/"}\n', g)
    npp = f"{profile}/Roaming/Notepad++"
    for name in ("config.xml", "session.xml", "shortcuts.xml"):
        estate.put(a, "profiles", f"{npp}/{name}", f"<NotepadPlus><!-- {name} --></NotepadPlus>\n", g)
    code = f"{profile}/Roaming/Code/User"
    estate.put(a, "profiles", f"{code}/settings.json", '{"editor.fontSize": 14}\n', g)
    estate.put(a, "profiles", f"{code}/keybindings.json", '[{"key": "ctrl+k", "command": "noop"}]\n', g)
    estate.put(a, "profiles", f"{code}/snippets/python.json", '{"main": {"prefix": "main", "body": ["pass"]}}\n', g)
    sticky = f"{profile}/Local/Packages/Microsoft.MicrosoftStickyNotes_8wekyb3d8bbwe/LocalState"
    put_sqlite(estate, a, "profiles", f"{sticky}/plum.sqlite", 3, g)
    estate.put(a, "profiles", "alice.V6/NTUSER.DAT", blob("ntuser-alice", 64_000), g)

    for who in ("bob", "carol", "helpdesk1", "auditor1", "admin1"):
        estate.put(who, "data", f"{who}/Documents/{who}-notes.txt", f"{who}'s notes\n", g)
        estate.put(who, "profiles", f"{who}.V6/NTUSER.DAT", blob(f"ntuser-{who}", 32_000), g)
    estate.put("bob", "data", "bob/Documents/Secret Plans.docx", blob("bob-secret", 7_000), g)
    estate.put("bob", "profiles", "bob.V6/AppData/Roaming/Microsoft/Signatures/Bob.htm", "<html>Bob Baker</html>\n", g)
    estate.backdate(g, t1)
    estate.snapshot(t1)

    g = "t2"
    estate.put(a, "data", f"{docs}/notes.txt", "Notes\n- call the bank\n- book the venue\n", g)
    estate.rename(a, "data", f"{docs}/draft.txt", f"{docs}/final.txt", g)
    estate.remove(a, "data", f"{docs}/Old Project")
    estate.put(a, "data", f"{docs}/Finance/forecast.xlsx", blob("forecast-2", 12_500), g)
    estate.put(a, "data", f"{docs}/meeting-minutes.txt", "Minutes of the planning meeting.\n", g)
    estate.put(a, "profiles", f"{ffp}/prefs.js", 'user_pref("browser.startup.page", 1);\n', g)
    put_sqlite(estate, a, "profiles", f"{ffp}/places.sqlite", 35, g)
    estate.put("bob", "data", "bob/Documents/bob-notes.txt", "bob's notes, second edition\n", g)
    estate.backdate(g, t2)
    estate.snapshot(t2)

    g = "t3"
    estate.put(a, "data", f"{docs}/notes.txt", "Notes\n- call the bank\n- book the venue\n- send invoices\n", g)
    estate.remove(a, "data", f"{docs}/report.docx")
    # The handover document was restricted: alice could read it in the older snapshots only.
    estate.set_sddl("data", f"{docs}/Archive/handover.docx",
                    f"O:{estate.sids['alice']}G:DUD:P(A;;{FULL};;;SY)(A;;{FULL};;;BA)(A;;{FULL};;;{svc})")
    estate.put(a, "profiles", f"{sig}/Work.htm", "<html><body>Alice Archer<br>Head of Finance</body></html>\n", g)
    put_sqlite(estate, a, "profiles", f"{ffp}/places.sqlite", 50, g)
    put_sqlite(estate, a, "data", f"{docs}/ledger.sqlite", 25, g)
    estate.backdate(g, t3)
    estate.snapshot(t3)

    g = "live"
    estate.put(a, "data", f"{docs}/notes.txt", "Notes\n- call the bank\n- book the venue\n- send invoices\n- lunch\n", g)
    estate.put(a, "profiles", f"{ffp}/places.sqlite-wal", sqlite_set(60)["-wal"], g)
    estate.put(a, "data", "alice/Pictures/IMG_0002.jpg", JPEG, g)
    estate.backdate(g, now)


def main(env_path: str) -> None:
    estate = Estate(read_env(env_path))
    try:
        build(estate)
    finally:
        smbclient.reset_connection_cache()
    print("testenv: shares built: profiles and data, 3 snapshots each", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
