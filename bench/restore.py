"""Restoring a 1 GiB file from a snapshot, three ways, in the same run on the same Samba server:

  server-side  vdiprotect's copy when source and target share a server: FSCTL_SRV_REQUEST_RESUME_KEY
               on the snapshot file (TWrp) + FSCTL_SRV_COPYCHUNK_WRITE (16 x 1 MiB per request);
               no data through the portal.
  streamed     vdiprotect's copy across servers: read from the snapshot and write the target
               through the portal, 4 MiB chunks, hashing on the way.
  local cp     the peer: `cp` of the snapshot file on the file server's own disk (what an admin
               with a shell on the server would do; the floor for any SMB method).
  verify       what a restore adds to either copy: SHA-256 of source (in its snapshot) and target
               read back over SMB.

The file lives in the `scratch` share (a snapshot of its own); targets are deleted after each
round. Median and min of --rounds, in seconds, and throughput.

    scripts/bench restore [--size-mib 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vdiprotect.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")
django.setup()

from restore import smb  # noqa: E402
from restore.restores import runner as copying

REPO = Path(__file__).resolve().parent.parent
SHARE = "scratch"
CHUNK = 4 * 1024 * 1024


def take_snapshot() -> str:
    out = subprocess.run([str(REPO / "scripts" / "testenv"), "_take_snapshot", SHARE, "-1 minute"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[-1]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    live = Path(os.environ["TESTENV_SHARE_SCRATCH_PATH"])
    snapdir = Path(os.environ["TESTENV_SHARE_SCRATCH_SNAPDIR"])
    folder = f"bench-restore-{uuid.uuid4().hex[:6]}"
    svc = smb.client_for("127.0.0.1")
    svc.mkdir(SHARE, folder)
    source = f"{folder}\\disk.vhdx"
    block = os.urandom(CHUNK)
    with svc.create_file(SHARE, source) as handle:
        for n in range(size // CHUNK):
            handle.write(n * CHUNK, block[n % 97:] + block[:n % 97])
    token = take_snapshot()
    at = smb.Snapshot.from_token(token).at
    snapshot_file = snapdir / token / folder / "disk.vhdx"
    results: dict[str, list[float]] = {"server-side": [], "streamed": [], "local cp": [], "verify": []}
    try:
        for _ in range(args.rounds):
            target = f"{folder}\\restored.vhdx"
            results["server-side"].append(timed(lambda: svc.server_side_copy(SHARE, source, at, SHARE, target)))
            results["verify"].append(timed(lambda: (svc.sha256(SHARE, source, at=at), svc.sha256(SHARE, target))))
            svc.delete(SHARE, target)
            results["streamed"].append(timed(lambda: copying._streamed_copy(svc, SHARE, source, at, svc, SHARE,
                                                                           target, None)))
            svc.delete(SHARE, target)
            local_target = live / folder / "restored-by-cp.vhdx"
            results["local cp"].append(timed(lambda: subprocess.run(["cp", str(snapshot_file), str(local_target)],
                                                                    check=True)))
            local_target.unlink()
    finally:
        subprocess.run(["rm", "-rf", str(live / folder)], check=False)
        subprocess.run(["chmod", "-R", "u+w", str(snapdir / token)], check=False)
        subprocess.run(["rm", "-rf", str(snapdir / token)], check=False)
    print(f"restore of {args.size_mib} MiB from a snapshot, {args.rounds} rounds, Samba on loopback")
    print(f"{'method':<12} {'median s':>9} {'min s':>7} {'MiB/s':>7}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<12} {median:9.2f} {min(times):7.2f} {args.size_mib / median:7.0f}")


if __name__ == "__main__":
    main()
