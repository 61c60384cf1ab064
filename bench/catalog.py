"""The snapshot catalog at scale: building it, updating it for one new snapshot, and searching it,
each side by side with the brute-force way a portal without a catalog would answer "find my
file": walk every snapshot's tree over SMB with list_dir and match the names.

The bench share's bulk/ tree (`scripts/testenv bulk generate`: realistic profile trees, a history
of back-dated snapshots with a small change rate, Private folders alice may not read) is made if
it is missing or of another size. Both sides list folders the same way (4 threads ahead of the
walk) against the same Samba server in the same run, and both apply the same access rules for
alice's token (each version's SD in its snapshot, every folder above it listable then); the
brute-force answers are compared with the catalog's, so the speed-up is for the same answer.

  build         catalog build of every snapshot (CATALOG_ACL_CHECK=on-change: SDs of new and
                changed objects) | peer: one brute-force walk of every snapshot (names only)
  incremental   one new snapshot, on-change | peer: a brute-force walk of that snapshot
  incremental   one new snapshot, every-snapshot (every SD read again, the default mode): first
                the switch (nothing to compare with), then steady state
  search        p50 / p95 of the catalog search (with the live check of the results) | the
                brute-force search: walk of every snapshot, SDs of the matches, live check

    scripts/bench catalog [--files 100000] [--snapshots 100] [--change-rate 0.005] [--queries 20]
                          [--brute-queries 3] [--keep]
Use PostgreSQL for representative figures: DATABASE_URL=postgres://... scripts/bench catalog
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vdiprotect.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from restore import identity, smb  # noqa: E402
from restore.catalog import build, logic, search, sources  # noqa: E402
from restore.models.catalog import CatalogEntry, CatalogSnapshot, CatalogVersion  # noqa: E402
from restore.paths import Unc  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TESTENV = REPO / "scripts" / "testenv"
MANIFEST = REPO / ".testenv" / "bulk.json"
ROOT = identity.Root(id="bulk", kind="data", unc="\\\\127.0.0.1\\bench\\bulk")
BRUTE_QUERIES = ["backlog Apollo", "IMG_40??.jpg", "salary"]  # few results each: compared in full
QUERIES = ["invoice", "*.pptx", "places.sqlite", "Kestrel", "IMG_4*.jpg", "roadmap", "Q3-?.pdf", "salary",
           "prefs.js", "handover", "*.msi", "Signatures", "backlog Apollo", "timesheet", "workspace.json",
           "new 1@2026-0?.bak", "Cache_Data", "contract", "f_0000a?", "budget 2026"]


def bulk_ready(files: int, snapshots: int, change_rate: float, pending: int) -> bool:
    if not MANIFEST.exists():
        return False
    m = json.loads(MANIFEST.read_text())
    snapdir = Path(os.environ["TESTENV_SHARE_BENCH_SNAPDIR"])
    return (m.get("files") == files and m.get("change_rate") == change_rate and len(m["tokens"]) == snapshots
            and len(m["pending"]) >= pending and all((snapdir / t).exists() for t in m["tokens"]))


def bulk(*args: str) -> str:
    return subprocess.run([str(TESTENV), "bulk", *args], check=True, capture_output=True, text=True).stdout.strip()


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


# --- the brute-force peer --------------------------------------------------------------------------


def walk(client: smb.Client, share: str, base: str, at, visit) -> int:
    """Every folder of the tree at ``at``, listed 4 at a time ahead of the walk (as the catalog does)."""
    folders = 0
    with ThreadPoolExecutor(build.LIST_THREADS) as pool:
        queue = [(base, pool.submit(client.list_dir, share, base, at))]
        while queue:
            path, future = queue.pop()
            try:
                entries = future.result()
            except smb.NotFound:  # Samba 4.17 below a folder deleted live: as the catalog, nothing known
                continue
            folders += 1
            for e in entries:
                child = f"{path}\\{e.name}"
                visit(child, e)
                if e.is_dir:
                    queue.append((child, pool.submit(client.list_dir, share, child, at)))
    return folders


def walk_all(snapshots) -> int:
    client = smb.client_for("127.0.0.1")
    return sum(walk(client, "bench", "bulk", s.at, lambda p, e: None) for s in snapshots)


def brute_search(token, query: logic.Query, snapshots) -> dict:
    """The same answer as the catalog, found without it: {path: [(size, last_write, tokens)]}."""
    client = smb.client_for("127.0.0.1")
    seen: dict[tuple[str, bool], dict] = {}
    for snap in snapshots:
        def visit(path, entry, snap=snap):
            if query.matches(entry.name):
                seen.setdefault((path, entry.is_dir), {})[snap] = entry
        walk(client, "bench", "bulk", snap.at, visit)
    decisions = search.Decisions()
    visible: dict = {}
    by_snap: dict = {}
    for (path, is_dir), at in seen.items():
        for snap in at:
            by_snap.setdefault(snap, set()).update([path] + logic.ancestors("bulk", path))
    for snap, paths in by_snap.items():
        sds = client.security_descriptors_many("bench", sorted(paths), at=snap.at)
        for (path, is_dir), at in seen.items():
            entry = at.get(snap)
            if entry is None:
                continue
            chain = [(p, True) for p in logic.ancestors("bulk", path)] + [(path, is_dir)]
            if all(sds.get(p) is not None and decisions.allows(_sha(sds[p]), sds[p], token, d) for p, d in chain):
                visible.setdefault((path, is_dir), {})[snap] = entry
    out = {}
    index = {s: i for i, s in enumerate(sorted(snapshots))}
    token_of = {i: s.token for s, i in index.items()}
    for (path, is_dir), at in visible.items():
        if is_dir:
            out[(path[len("bulk\\"):], True)] = [tuple(s.token for s in sorted(at, reverse=True))]
        else:
            groups = logic.group_versions((index[s], 0 if e.is_dir else e.size, e.last_write) for s, e in at.items())
            out[(path[len("bulk\\"):], False)] = [(g.size, g.last_write, tuple(token_of[i] for i in g.indices))
                                                  for g in groups]
    if out:  # the live check the portal makes of its results too
        client.security_descriptors_many("bench", [f"bulk\\{p}" for p, _ in out])
    return out


def _sha(data: bytes) -> str:
    return build.sd_hash(data)


def catalog_answer(results: search.Results) -> dict:
    out = {}
    for hit in results.hits:
        if hit.is_dir:
            out[(hit.path, True)] = [tuple(s.token for s in hit.versions[0].snapshots)]
        else:
            out[(hit.path, False)] = [(v.size, v.last_write, tuple(s.token for s in v.snapshots)) for v in hit.versions]
    return out


# --- the run ---------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--change-rate", type=float, default=0.005)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--brute-queries", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep bulk/ and its snapshots for the next run")
    args = parser.parse_args()

    t0 = time.perf_counter()
    if not bulk_ready(args.files, args.snapshots, args.change_rate, 3):
        print(f"generating bulk/: {args.files} files, {args.snapshots} snapshots, change rate {args.change_rate} ...",
              flush=True)
        bulk("generate", "--files", str(args.files), "--snapshots", str(args.snapshots), "--change-rate",
             str(args.change_rate), "--pending", "3")
        print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    view = identity.look_up("alice")
    source = sources.register(Unc("127.0.0.1", "bench", "bulk"))
    build.reset(source)
    client = smb.client_for("127.0.0.1")
    snapshots = sorted(client.enumerate_snapshots("bench", ""))
    rows = []

    settings.CATALOG_ACL_CHECK = build.ACL_ON_CHANGE
    t_build, outcome = timed(build.build_source, source.id)
    assert not outcome.error, outcome
    t_walk, folders = timed(walk_all, snapshots)
    folders_per_snapshot = folders / len(snapshots)
    objects = CatalogSnapshot.objects.filter(source=source).values_list("objects_seen", flat=True)
    versions = CatalogVersion.objects.filter(entry__source=source).count()
    entries = CatalogEntry.objects.filter(source=source).count()
    rows.append(("build: every snapshot, on-change", t_build, "walk of every snapshot", t_walk, ""))

    def one_more(mode: str, label: str):
        settings.CATALOG_ACL_CHECK = mode
        token = bulk("publish")
        new = smb.Snapshot.from_token(token)
        t_inc, out = timed(build.build_source, source.id)
        assert out.built == [token], out
        t_peer, _ = timed(walk_all, [new])
        snap = CatalogSnapshot.objects.get(source=source, token=token)
        rows.append((label, t_inc, "walk of that snapshot", t_peer,
                     f"{snap.rows_written} rows written, {snap.sd_reads} ACLs read"))

    one_more(build.ACL_ON_CHANGE, "+1 snapshot, on-change")
    one_more(build.ACL_EVERY, "+1 snapshot, every-snapshot (switch)")
    one_more(build.ACL_EVERY, "+1 snapshot, every-snapshot")
    snapshots = sorted(client.enumerate_snapshots("bench", ""))

    queries = [logic.parse_query(q) for q in (QUERIES * 4)[:args.queries]]
    for q in queries[:2]:
        search.search(view.token, [ROOT], q)  # warm: connections, caches
    catalog_times, hits = [], 0
    for q in queries:
        dt, results = timed(search.search, view.token, [ROOT], q)
        catalog_times.append(dt)
        hits += len(results.hits)
    brute_times, mismatches = [], 0
    for q in [logic.parse_query(q) for q in (BRUTE_QUERIES * 4)[:args.brute_queries]]:
        dt, brute = timed(brute_search, view.token, q, snapshots)
        brute_times.append(dt)
        mine = catalog_answer(search.search(view.token, [ROOT], q, limit=search.MAX_LIMIT))
        if mine != brute:  # (the catalog's answer is capped at MAX_LIMIT results; these queries have fewer)
            mismatches += 1
            print(f"  MISMATCH for {q.text!r}: catalog {len(mine)} results, brute force {len(brute)}", flush=True)

    print()
    print(f"scale: {args.files} files generated, {len(snapshots) - 3} snapshots (+3 during the run), "
          f"change rate {args.change_rate}; "
          f"{statistics.mean(objects):.0f} objects and {folders_per_snapshot:.0f} folders per snapshot")
    print(f"catalog: {entries} paths, {versions} version rows for {sum(objects)} (object, snapshot) pairs "
          f"({sum(objects) / max(1, versions):.0f}x fewer rows); database {connection.vendor}")
    print(f"{'':38} {'catalog':>10}   {'brute force (peer)':<28} {'':>10} {'peer/ours':>9}")
    for label, ours, peer_label, peer, note in rows:
        print(f"{label:38} {ours:>9.1f}s   {peer_label:<28} {peer:>9.1f}s {peer / ours:>8.1f}x  {note}")
    p50, p95 = percentile(catalog_times, 50) * 1000, percentile(catalog_times, 95) * 1000
    b50, b95 = percentile(brute_times, 50) * 1000, percentile(brute_times, 95) * 1000
    counts = f"{len(catalog_times)} / {len(brute_times)} queries"
    print(f"{'search p50':38} {p50:>8.0f}ms   {'walk + ACLs of the matches':<28} {b50:>8.0f}ms {b50 / p50:>8.0f}x  {counts}")
    print(f"{'search p95':38} {p95:>8.0f}ms   {'':<28} {b95:>8.0f}ms {b95 / p95:>8.0f}x")
    print(f"(same answers for {args.brute_queries - mismatches} of {args.brute_queries} brute-force queries; "
          f"{hits} results over {len(queries)} catalog queries; Samba on loopback, {os.cpu_count()} cores; "
          f"total {time.perf_counter() - t0:.0f} s)")
    if not args.keep:
        bulk("remove")


if __name__ == "__main__":
    main()
