"""Listing a folder inside a 10 GiB profile container in a snapshot, two ways, in the same run on the
same Samba server:

  in place   vdiprotect: the VHDX in the snapshot opened over SMB (TWrp, read-only) as a random-access
             file with a 64 KiB block cache (restore/smb/randomaccess.py), VHDX + GPT + NTFS parsed by
             restore/versions/containers, the folder listed through its $I30 index: only the metadata
             needed is read. Nothing cached before the round (a snapshot not read before).
  copy+open  the peer, what a helpdesk does by hand today: copy the whole VHDX out of the snapshot
             (4 MiB pipelined reads), then open it locally (with the same parser, so only the copy
             differs; mounting it with qemu-nbd + ntfs-3g would add to this side) and list the folder.

The container (a GPT disk with one NTFS partition, made with mkntfs + ntfs-3g, converted with
qemu-img to a dynamic VHDX) holds --fill-gib of files and a folder of --files small files (a Documents
folder's worth), the one listed. It lies in the `bench` share, in a snapshot of its own. Median and min of --rounds.

    scripts/bench containers [--size-gib 10] [--fill-gib 4] [--files 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vdiprotect.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")
django.setup()

from testenv_vhdx import MIB, assemble, run, to_vhdx  # noqa: E402

from django.conf import settings  # noqa: E402

from restore import smb  # noqa: E402
from restore.smb import randomaccess  # noqa: E402
from restore.versions import containers  # noqa: E402

SHARE = "bench"
FOLDER = "Profile\\Documents\\Projects"
NAME = "S-1-5-21-1-2-3-1001_bench\\Profile_bench.vhdx"


def build(work: Path, size_gib: int, fill_gib: int, files: int) -> Path:
    part, raw, mnt = work / "p.img", work / "d.raw", work / "mnt"
    with open(part, "wb") as f:
        f.truncate((size_gib * 1024 - 2) * MIB)
    run("mkntfs", "-q", "-F", "-Q", "-p", "2048", "-L", "Profile", str(part))
    mnt.mkdir()
    run("ntfs-3g", str(part), str(mnt))
    try:
        block = os.urandom(MIB)
        bulk = mnt / "Profile" / "AppData" / "Local" / "Cache"
        bulk.mkdir(parents=True)
        for n in range(fill_gib * 4):  # 256 MiB files
            with open(bulk / f"blob{n:03}.bin", "wb") as f:
                for _ in range(256):
                    f.write(block)
        listed = mnt.joinpath(*FOLDER.split("\\"))
        listed.mkdir(parents=True)
        for n in range(files):
            (listed / f"file{n:05}.txt").write_bytes(f"file {n}\n".encode() * 20)
    finally:
        run("fusermount", "-u", str(mnt))
    assemble(part, raw, size_gib * 1024)
    part.unlink()
    out = to_vhdx(raw, work / "Profile_bench.vhdx")
    raw.unlink()
    return out


def in_place(client: smb.Client, at) -> dict:
    start = time.perf_counter()
    with randomaccess.open_file(client, SHARE, NAME, at) as fh, containers.open_container(fh, name=NAME) as c:
        opened = time.perf_counter() - start
        entries = c.list_dir(FOLDER)
        total = time.perf_counter() - start
        return {"seconds": total, "open_seconds": opened, "entries": len(entries), "requests": fh.requests,
                "bytes": fh.bytes_fetched}


def copy_then_open(client: smb.Client, at, work: Path) -> dict:
    local = work / "copy.vhdx"
    start = time.perf_counter()
    with client.open_read(SHARE, NAME, at) as handle, open(local, "wb") as out:
        for chunk in handle.iter_chunks(smb.MAX_CHUNK):
            out.write(chunk)
    copied = time.perf_counter() - start
    with open(local, "rb") as fh, containers.open_container(fh, name=str(local)) as c:
        entries = c.list_dir(FOLDER)
    total = time.perf_counter() - start
    size = local.stat().st_size
    local.unlink()
    return {"seconds": total, "copy_seconds": copied, "entries": len(entries), "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-gib", type=int, default=10)
    parser.add_argument("--fill-gib", type=int, default=4)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = {k: v for k, v in (line.split("=", 1) for line in (REPO / ".testenv" / "env").read_text().splitlines()
                             if "=" in line and not line.startswith("#"))}
    share_dir = Path(env["TESTENV_SHARE_BENCH_PATH"].strip("'"))
    work = Path(tempfile.mkdtemp(prefix="bench-containers-", dir=REPO / "var"))
    target = share_dir / NAME.replace("\\", "/")
    kept = REPO / "var" / f"bench-container-{args.size_gib}g-{args.fill_gib}g-{args.files}.vhdx"  # built once
    snapshot_dir = None
    try:
        if not kept.exists():
            t0 = time.perf_counter()
            shutil.move(build(work, args.size_gib, args.fill_gib, args.files), kept)
            print(f"built {kept.stat().st_size / MIB:,.0f} MiB VHDX ({args.size_gib} GiB disk) in "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kept, target)
        token = subprocess.run([str(REPO / "scripts" / "testenv"), "_take_snapshot", SHARE, "-1 minute"],
                               check=True, capture_output=True, text=True).stdout.split()[-1]
        snapshot_dir = Path(env["TESTENV_SHARE_BENCH_SNAPDIR"].strip("'")) / token
        at = smb.Snapshot.from_token(token).at
        client = smb.client_for("127.0.0.1", smb.Credentials(settings.SMB_USERNAME, settings.SMB_PASSWORD,
                                                             settings.SMB_DOMAIN, "ntlm"))
        client.enumerate_snapshots(SHARE, "")  # the SMB session exists before either side is timed
        ours, peer = [], []
        for _ in range(args.rounds):
            ours.append(in_place(client, at))
            peer.append(copy_then_open(client, at, work))
        report = {"size_gib": args.size_gib, "vhdx_bytes": target.stat().st_size, "files_in_folder": args.files,
                  "rounds": args.rounds, "in_place": ours, "copy_then_open": peer}
        for label, rows in (("in place (vdiprotect)", ours), ("copy + open (peer)", peer)):
            secs = [r["seconds"] for r in rows]
            print(f"{label:24} median {statistics.median(secs):8.3f} s  min {min(secs):8.3f} s  "
                  f"read {statistics.median(r['bytes'] for r in rows) / MIB:10,.1f} MiB  "
                  f"entries {rows[0]['entries']}")
        print(f"in place: {statistics.median(r['requests'] for r in ours):.0f} SMB reads, opening "
              f"{statistics.median(r['open_seconds'] for r in ours):.3f} s; peer copy "
              f"{statistics.median(r['copy_seconds'] for r in peer):.1f} s")
        (REPO / "var" / "bench-containers.json").write_text(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(target.parent, ignore_errors=True)
        if snapshot_dir is not None:
            subprocess.run(["chmod", "-R", "u+w", str(snapshot_dir)], check=False)
            shutil.rmtree(snapshot_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
