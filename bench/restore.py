"""Restoring a file from a snapshot, side by side with the server's own tools, in one run on the same
Samba server (docs/performance.md has the figures and where the time goes):

  server-side        vdiprotect's copy when source and target share a server: a block clone is
                     tried (FSCTL_DUPLICATE_EXTENTS_TO_FILE; Samba refuses it on ext4), then
                     FSCTL_SRV_COPYCHUNK_WRITE, 16 x 1 MiB per request, several requests in flight.
  streamed           vdiprotect's copy across servers: pipelined multi-credit reads from the snapshot,
                     each answer's buffer written on (pipelined) and hashed on another thread.
  smbclient get+put  the peer for `streamed`: Samba's own C client fetches the snapshot file to a
                     local file, then uploads it (two runs of `smbclient`, signing on, as ours).
  local cp           the peer for `server-side`: `cp` of the snapshot file on the server's own disk.
  verified restore   what a job does for one file on one server: server-side copy, then SHA-256 of
                     the source (in its snapshot) and of the copy, both read at once over SMB.
  cp + sha256sum     its peer: `cp` on the server, then `sha256sum` of both files.

The file lives in the `scratch` share (a snapshot of its own); targets are deleted after each
round. Median and min of --rounds, in seconds, and throughput (of the file's size). The peak RSS
of this process is printed too (constant memory: it does not grow with --size-mib).

--rss is the memory check instead: one streamed restore (the path a restore across servers and the
zip download take) of a --size-mib file, printing this process's peak RSS before and after. The
file is sparse (written over SMB as one byte at its end), so the disk holds only the copy; Samba
reads holes faster than data, which makes the copy quicker, not its buffers fewer.

    scripts/bench restore [--size-mib 1024] [--rounds 3]
    scripts/bench restore --rss --size-mib 10240
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vdiprotect.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")
django.setup()

from django.conf import settings  # noqa: E402

from restore import smb  # noqa: E402
from restore.restores import runner as copying  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARE = "scratch"
CHUNK = 4 * 1024 * 1024
ROWS = ("server-side", "streamed", "smbclient get+put", "local cp", "verified restore", "cp + sha256sum")
PEERS = {"server-side": "local cp", "streamed": "smbclient get+put", "verified restore": "cp + sha256sum"}


def take_snapshot() -> str:
    out = subprocess.run([str(REPO / "scripts" / "testenv"), "_take_snapshot", SHARE, "-1 minute"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[-1]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def smbclient(command: str) -> None:
    """Samba's own client, as the service account, signing required (as the portal signs)."""
    user = f"{settings.SMB_DOMAIN}\\{settings.SMB_USERNAME}"
    subprocess.run(["smbclient", f"//127.0.0.1/{SHARE}", "-U", user, "--option=client signing=required",
                    "-c", command], check=True, capture_output=True, env={**os.environ, "PASSWD": settings.SMB_PASSWORD})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss", action="store_true", help="the memory check: one streamed copy, peak RSS")
    args = parser.parse_args()
    if args.rss:
        return memory_check(args.size_mib)
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
    local = Path("/tmp") / f"{folder}.bin"  # smbclient's local copy between get and put
    results: dict[str, list[float]] = {name: [] for name in ROWS}
    methods = set()
    target = f"{folder}\\restored.vhdx"
    local_target = live / folder / "restored-by-cp.vhdx"
    try:
        for _ in range(args.rounds):
            results["server-side"].append(timed(lambda: methods.add(
                svc.server_side_copy(SHARE, source, at, SHARE, target).method)))
            svc.delete(SHARE, target)
            results["streamed"].append(timed(lambda: copying._streamed_copy(svc, SHARE, source, at, svc, SHARE,
                                                                           target, None)))
            svc.delete(SHARE, target)
            results["smbclient get+put"].append(timed(lambda: (
                smbclient(f'get "{token}\\{source}" {local}'), smbclient(f'put {local} "{target}"'))))
            local.unlink()
            svc.delete(SHARE, target)
            results["local cp"].append(timed(lambda: subprocess.run(["cp", str(snapshot_file), str(local_target)],
                                                                    check=True)))
            local_target.unlink()

            def verified():
                svc.server_side_copy(SHARE, source, at, SHARE, target)
                one, two = smb.sha256_files([(svc, SHARE, source, at), (svc, SHARE, target, None)])
                assert one == two

            results["verified restore"].append(timed(verified))
            svc.delete(SHARE, target)
            results["cp + sha256sum"].append(timed(lambda: subprocess.run(
                f"cp '{snapshot_file}' '{local_target}' && sha256sum '{snapshot_file}' '{local_target}' >/dev/null",
                shell=True, check=True)))
            local_target.unlink()
    finally:
        local.unlink(missing_ok=True)
        remove(live / folder, snapdir / token)
    print(f"restore of {args.size_mib} MiB from a snapshot, {args.rounds} rounds, Samba on loopback "
          f"({os.cpu_count()} cores); server-side copy by {', '.join(sorted(methods))}")
    print(f"{'method':<18} {'median s':>9} {'min s':>7} {'MiB/s':>7}  vs peer (median)")
    medians = {name: statistics.median(times) for name, times in results.items()}
    for name, times in results.items():
        peer = PEERS.get(name)
        versus = f"  {medians[peer] / medians[name]:.2f}x {peer}" if peer else ""
        print(f"{name:<18} {medians[name]:9.2f} {min(times):7.2f} {args.size_mib / medians[name]:7.0f}{versus}")
    print(f"peak RSS of this process: {peak_rss_mib()} MiB")


def remove(folder: Path, snapshot: Path) -> None:
    """The run's live folder and its snapshot (read-only until made writable again)."""
    subprocess.run(["rm", "-rf", str(folder)], check=False)
    subprocess.run(["chmod", "-R", "u+w", str(snapshot)], check=False)
    subprocess.run(["rm", "-rf", str(snapshot)], check=False)


def peak_rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def memory_check(size_mib: int) -> None:
    """One streamed restore of a sparse ``size_mib`` file from its snapshot; peak RSS before and after."""
    live = Path(os.environ["TESTENV_SHARE_SCRATCH_PATH"])
    snapdir = Path(os.environ["TESTENV_SHARE_SCRATCH_SNAPDIR"])
    folder = f"bench-rss-{uuid.uuid4().hex[:6]}"
    svc = smb.client_for("127.0.0.1")
    svc.mkdir(SHARE, folder)
    source, target = f"{folder}\\large.vhdx", f"{folder}\\restored.vhdx"
    with svc.create_file(SHARE, source) as handle:
        handle.write(size_mib * 1024 * 1024 - 1, b"\x00")
    token = take_snapshot()
    try:
        before = peak_rss_mib()
        seconds = timed(lambda: copying._streamed_copy(svc, SHARE, source, smb.Snapshot.from_token(token).at, svc,
                                                       SHARE, target, None))
        copied = (live / folder / "restored.vhdx").stat().st_size
        assert copied == size_mib * 1024 * 1024, copied
    finally:
        remove(live / folder, snapdir / token)
    print(f"streamed restore of {size_mib} MiB (sparse source) from a snapshot: {seconds:.1f} s, "
          f"{size_mib / seconds:.0f} MiB/s; {settings.SMB_IO_SIZE >> 20} MiB requests, {settings.SMB_IO_DEPTH} in flight")
    print(f"peak RSS of this process: {before} MiB before the copy, {peak_rss_mib()} MiB after")


if __name__ == "__main__":
    main()
