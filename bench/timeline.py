"""A file's timeline over 64 and 512 snapshots: vdiprotect's pipelined requests against the
sequential one-open-per-snapshot method Windows Explorer's Previous Versions tab uses.

Both ask the same questions of the same Samba server in the same run: for every snapshot, does
the file exist then, with which size and last-write time, and what was its ACL then.
  ours        versions.browse.versions(): per snapshot (and the live file) one related compound
              CREATE(TWrp)+QUERY_INFO(security)+CLOSE (the CREATE answer carries the times,
              attributes and size), all sent without waiting within the credit window (pipelined
              on the one connection), then the ACL evaluated for alice's token.
  sequential  for each snapshot in turn: open it (TWrp), read its attributes, close; open, read
              its security descriptor, close; the next one only after the answer.
cold: a new SMB connection and session and no cached snapshot list; warm: both reused.
rtt: 0 is plain loopback; other values put bench/slowlink.py (a delaying TCP proxy) between client
and Samba, as a LAN or WAN would be. The proxy runs in a process of its own (two threads per
direction that hold each received block for rtt/2), so that, as on a real network, its work does
not compete with the client's threads for the GIL; it still takes CPU from the same two cores.

    scripts/bench timeline            (README: "Benchmarks")
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vdiprotect.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402

from restore import smb  # noqa: E402
from restore.accounts import identity
from restore.nt.access import FILE_ALL_ACCESS  # noqa: E402
from restore.nt.constants import ACCESS_ALLOWED_ACE_TYPE, CONTAINER_INHERIT_ACE, OBJECT_INHERIT_ACE
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor, parse_security_descriptor
from restore.versions import browse as pv
from restore.versions import roots

REPO = Path(__file__).resolve().parent.parent
FILE = "alice\\timeline.txt"


def prepare(snapshots: int, owner_sid: str) -> None:
    """The timeline share holds alice's folder with one file that changed every 8th snapshot, and
    exactly ``snapshots`` snapshots (read-only copies, back-dated one hour apart)."""
    share = Path(os.environ["TESTENV_SHARE_TIMELINE_PATH"])
    snapdir = Path(os.environ["TESTENV_SHARE_TIMELINE_SNAPDIR"])
    for old in snapdir.iterdir():
        subprocess.run(["chmod", "-R", "u+w", str(old)], check=True)
        shutil.rmtree(old)
    client = smb.client_for("127.0.0.1")
    if not (share / "alice").exists():
        client.mkdir("timeline", "alice")
    # The share's root passes nothing on, so the folder's ACL gives its file to alice and to the
    # service account (its owner) alike; Samba ignores backup intent, so without an ACE of its own
    # the service account could neither rewrite the file nor read it in a snapshot.
    (share / "alice" / "timeline.txt").unlink(missing_ok=True)  # made again below, inheriting that ACL
    sd = parse_security_descriptor(client.security_descriptor("timeline", "alice"))
    inherit = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
    client.set_security_descriptor("timeline", "alice", build_security_descriptor(SecurityDescriptor(
        sd.owner, sd.group, tuple(Ace(ACCESS_ALLOWED_ACE_TYPE, inherit, FILE_ALL_ACCESS, sid)
                                  for sid in (sd.owner, owner_sid)), sd.control)))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=snapshots + 1)
    for i in range(snapshots):
        when = start + timedelta(hours=i)
        if i % 8 == 0:
            with client.create_file("timeline", FILE, overwrite=True) as handle:
                handle.write(0, f"version {i // 8}\n".encode() * (1 + i // 8))
            stamp = (when - timedelta(minutes=5)).timestamp()
            os.utime(share / "alice" / "timeline.txt", (stamp, stamp))
        subprocess.run([str(REPO / "scripts" / "testenv"), "_take_snapshot", "timeline",
                        when.strftime("%Y-%m-%dT%H:%M:%SZ")], check=True, capture_output=True)
    cache.clear()  # the snapshot list of an earlier run is gone


def ours(token, root) -> int:
    return len(pv.versions(token, root, "timeline.txt"))


def sequential(token, root) -> int:
    """One snapshot after another, as Explorer does; the same ACL evaluation at the end."""
    client = smb.client_for("127.0.0.1")
    found = 0
    for snapshot in pv.snapshots(root):
        try:
            client.stat("timeline", FILE, at=snapshot.at)
            sd = client.security_descriptor("timeline", FILE, at=snapshot.at)
        except smb.NotFound:
            continue
        found += pv.may_read(sd, token, False)
    return found


def timed(fn, *args, cold: bool) -> float:
    if cold:
        smb.reset_pool()
        cache.clear()
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rtt-ms", type=float, nargs="+", default=[0, 4])
    args = parser.parse_args()

    view = identity.look_up("alice")
    root = roots.Root(id="bench", kind="data", unc="\\\\127.0.0.1\\timeline\\alice")
    print(f"{'snapshots':>9} {'rtt':>5} {'cache':>5} {'ours (ms)':>10} {'sequential (ms)':>16} {'speed-up':>9}  rows")
    for n in args.snapshots:
        prepare(n, view.person.sid)
        for rtt in args.rtt_ms:
            link = slow_link(rtt / 2000) if rtt else None
            settings.SMB_PORT = int(link.stdout.readline()) if link else 445
            rows = ours(view.token, root)
            assert rows == -(-n // 8), rows  # one row per distinct version; the live copy equals the newest
            for cold in (True, False):
                a = [timed(ours, view.token, root, cold=cold) for _ in range(args.rounds)]
                b = [timed(sequential, view.token, root, cold=cold) for _ in range(args.rounds)]
                ma, mb = statistics.median(a) * 1000, statistics.median(b) * 1000
                print(f"{n:>9} {rtt:>3g}ms {'cold' if cold else 'warm':>5} {ma:>10.1f} {mb:>16.1f} "
                      f"{mb / ma:>8.1f}x  {rows}", flush=True)
            smb.reset_pool()
            settings.SMB_PORT = 445
            if link:
                link.stdin.close()  # the proxy's process ends
                link.wait()
    print(f"(median of {args.rounds} rounds each; Samba {samba_version()} on loopback, "
          f"{os.cpu_count()} cores)")


def slow_link(delay: float) -> subprocess.Popen:
    """bench/slowlink.py in a process of its own; it prints its port and runs until its stdin closes."""
    code = ("import sys; from bench.slowlink import SlowLink; link = SlowLink(delay=float(sys.argv[1])); "
            "print(link.port, flush=True); sys.stdin.read()")
    return subprocess.Popen([sys.executable, "-c", code, str(delay)], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def samba_version() -> str:
    return subprocess.run(["samba", "--version"], capture_output=True, text=True).stdout.split()[-1]


if __name__ == "__main__":
    main()
