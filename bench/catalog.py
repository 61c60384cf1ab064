"""The snapshot catalog at scale: building it, updating it for one new snapshot, and searching it,
each side by side with the brute-force way a portal without a catalog would answer "find my
file": walk every snapshot's tree over SMB with list_dir and match the names.

The bench share's bulk/ tree (`scripts/testenv bulk generate`: realistic profile trees, a history
of back-dated snapshots with a small change rate, Private folders alice may not read) is made if
it is missing or of another size. Both sides list folders with the same adapter code (the packed
listing compound of Client.list_dirs on the SMB fast path) against the same Samba server in the
same run: the walk one folder per call, 4 calls at once, each folder asked for as soon as its
parent's listing names it (a plain walk); the catalog build 32 folders per call, 2 calls at once,
asked for ahead of the walk from the tree it already knows (restore/catalog/listing.py). Both
apply the same access rules for alice's token (each version's SD in its snapshot, every folder
above it listable then); the brute-force answers are compared with the catalog's, so the speed-up
is for the same answer.

  build         catalog build of every snapshot (CATALOG_ACL_CHECK=on-change: SDs of new and
                changed objects) | peer: the walk of those snapshots, timed snapshot by snapshot
                inside the first brute-force search (the same walk; it also matches each name)
  incremental   one new snapshot, on-change | peer: a walk of that snapshot
  search        p50 / p95 of the catalog search (with the live check of the results; also without
                it, the same queries again) | the brute-force search: walk of every snapshot, SDs of
                the matches, live check
  incremental   (--every-snapshot, default) one more snapshot with every SD read again (the default
                mode): first the switch (nothing to compare with), then steady state

    scripts/bench catalog [--files 100000] [--snapshots 100] [--change-rate 0.005] [--queries 20]
                          [--brute-queries 3] [--no-every-snapshot] [--keep] [--phase all|build|after-build]
Use PostgreSQL for representative figures: DATABASE_URL=postgres://... scripts/bench catalog
--phase build stops after the build (bulk/ kept); --phase after-build then does the rest on that
catalog and reports the build's time as the builder recorded it (first snapshot started to last
finished). Other sessions' tests snapshot the bench share for a few seconds at a time: each step
waits until only bulk/'s history is there.
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

from restore import smb  # noqa: E402
from restore.accounts import identity
from restore.catalog import (
    build,
    logic,
    search,  # noqa: E402
    sources,
)
from restore.catalog import rows as rows_
from restore.models import catalog
from restore.models.catalog import (  # noqa: E402
    CatalogEntry,
    CatalogSecurityDescriptor,
    CatalogSnapshot,
    CatalogVersion,
    SnapshotState,
)
from restore.versions import roots
from restore.versions.paths import Unc  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WALK_THREADS = 4  # the plain walk's listings in flight (the catalog's before issue 22's batches)
TESTENV = REPO / "scripts" / "testenv"
MANIFEST = REPO / ".testenv" / "bulk.json"
ROOT = roots.Root(id="bulk", kind="data", unc="\\\\127.0.0.1\\bench\\bulk")
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
    """Every folder of the tree at ``at``, as a plain walk lists it: one folder per call, 4 calls at once,
    each folder asked for as soon as its parent's listing names it."""
    folders = 0
    with ThreadPoolExecutor(WALK_THREADS) as pool:
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


def bulk_tokens() -> set[str]:
    return set(json.loads(MANIFEST.read_text())["tokens"])


def quiet_share(t0: float, limit: float = 300) -> None:
    """Wait until the bench share has no snapshot but bulk/'s history: the catalog's tests take snapshots
    of this share for a few seconds (other sessions run them on this machine), and a build catalogues
    every snapshot the share has."""
    client = smb.client_for("127.0.0.1")
    deadline = time.monotonic() + limit
    while True:
        foreign = {s.token for s in client.enumerate_snapshots("bench", "")} - bulk_tokens()
        if not foreign or time.monotonic() > deadline:
            break
        log(t0, f"waiting for other snapshots of the bench share to go: {sorted(foreign)}")
        time.sleep(5)


def catalog_build_seconds(source) -> float:
    """The build's duration as the builder recorded it: first snapshot started to last one finished."""
    done = CatalogSnapshot.objects.filter(source=source, state=SnapshotState.DONE)
    return (max(done.values_list("finished_at", flat=True)) - min(done.values_list("started_at", flat=True))
            ).total_seconds()


def brute_search(token, query: logic.Query, snapshots, walk_seconds: dict | None = None) -> dict:
    """The same answer as the catalog, found without it: {path: [(size, last_write, tokens)]}.
    ``walk_seconds`` receives each snapshot's walk time (the search's walk is the build's peer)."""
    client = smb.client_for("127.0.0.1")
    seen: dict[tuple[str, bool], dict] = {}
    for snap in snapshots:
        def visit(path, entry, snap=snap):
            if query.matches(entry.name):
                seen.setdefault((path, entry.is_dir), {})[snap] = entry
        t0 = time.perf_counter()
        walk(client, "bench", "bulk", snap.at, visit)
        if walk_seconds is not None:
            walk_seconds[snap] = time.perf_counter() - t0
            if len(walk_seconds) % 10 == 0:
                print(f"  [{time.strftime('%H:%M:%S')}] walked {len(walk_seconds)} snapshots in "
                      f"{sum(walk_seconds.values()):.1f} s", flush=True)
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
    return rows_.sd_hash(data)


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


def log(t0: float, message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} +{time.perf_counter() - t0:.0f}s] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--change-rate", type=float, default=0.005)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--brute-queries", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep bulk/ and its snapshots for the next run")
    parser.add_argument("--every-snapshot", action=argparse.BooleanOptionalAction, default=True,
                        help="also two more snapshots with CATALOG_ACL_CHECK=every-snapshot (switch, steady)")
    parser.add_argument("--phase", choices=["all", "build", "after-build"], default="all",
                        help="build: generate and build the catalog only (keeps bulk/); after-build: the rest, "
                             "on the catalog that phase built (its time as the builder recorded it)")
    args = parser.parse_args()
    if args.brute_queries < 1:
        parser.error("--brute-queries must be at least 1: the first brute-force search's walk is the build's peer")

    t0 = time.perf_counter()
    source = sources.register(Unc("127.0.0.1", "bench", "bulk"))
    client = smb.client_for("127.0.0.1")
    if args.phase != "after-build":
        if not bulk_ready(args.files, args.snapshots, args.change_rate, 3):
            log(t0, f"generating bulk/: {args.files} files, {args.snapshots} snapshots, change rate "
                    f"{args.change_rate} ...")
            bulk("generate", "--files", str(args.files), "--snapshots", str(args.snapshots), "--change-rate",
                 str(args.change_rate), "--pending", "3")
            log(t0, "generated")
        build.reset(source)
        settings.CATALOG_ACL_CHECK = catalog.ACL_ON_CHANGE
        log(t0, "building the catalog (on-change) ...")
        t_build, outcome = timed(build.build_source, source.id)
        assert not outcome.error, outcome
        log(t0, f"build: {t_build:.1f} s for {len(outcome.built)} snapshots")
        if args.phase == "build":
            return
    quiet_share(t0)
    build.sync_snapshots(source, client)  # a test's snapshot catalogued by the build and gone since: gone
    t_build = catalog_build_seconds(source)
    built = list(CatalogSnapshot.objects.filter(source=source, state=SnapshotState.DONE).order_by("index"))
    foreign = [s.token for s in built if s.token not in bulk_tokens()]
    if foreign:
        log(t0, f"WARNING: the build also catalogued snapshots another agent's tests took: {foreign}")
    view = identity.look_up("alice")
    snapshots = sorted(smb.Snapshot.from_token(s.token) for s in built)
    objects = [s.objects_seen for s in built]
    versions = CatalogVersion.objects.filter(entry__source=source).count()
    entries = CatalogEntry.objects.filter(source=source).count()
    size, descriptors = catalog_size(), CatalogSecurityDescriptor.objects.count()
    rows = []

    def one_more(mode: str, label: str):
        settings.CATALOG_ACL_CHECK = mode
        quiet_share(t0)
        build.sync_snapshots(source, client)
        token = bulk("publish")
        new = smb.Snapshot.from_token(token)
        t_inc, out = timed(build.build_source, source.id)
        assert token in out.built and not out.error, out
        if out.built != [token]:
            log(t0, f"WARNING: this build also catalogued snapshots another session's tests took: {out.built}")
        t_peer, _ = timed(walk_all, [new])
        snap = CatalogSnapshot.objects.get(source=source, token=token)
        rows.append((label, t_inc, "walk of that snapshot", t_peer,
                     f"{snap.rows_written} rows written, {snap.sd_reads} ACLs read"))
        log(t0, f"{label}: {t_inc:.1f} s, walk {t_peer:.1f} s")
        return new

    snapshots.append(one_more(catalog.ACL_ON_CHANGE, "+1 snapshot, on-change"))

    # Search every snapshot: the catalog, then the brute force (whose walk of every snapshot, timed
    # snapshot by snapshot, is also the build's peer), answers compared.
    queries = [logic.parse_query(q) for q in (QUERIES * 4)[:args.queries]]
    for q in queries[:2]:
        search.search(view.token, [ROOT], q)  # warm: connections, caches
    catalog_times, answer_times, hits = [], [], 0
    for q in queries:
        dt, results = timed(search.search, view.token, [ROOT], q)
        catalog_times.append(dt)
        hits += len(results.hits)
        answer_times.append(timed(search.search, view.token, [ROOT], q, check_live=False)[0])
    log(t0, f"catalog search: {len(queries)} queries, p50 {percentile(catalog_times, 50) * 1000:.0f} ms, "
            f"p95 {percentile(catalog_times, 95) * 1000:.0f} ms (without the live check: p50 "
            f"{percentile(answer_times, 50) * 1000:.0f} ms, p95 {percentile(answer_times, 95) * 1000:.0f} ms)")
    brute_times, mismatches, walk_seconds = [], 0, {}
    for i, q in enumerate([logic.parse_query(q) for q in (BRUTE_QUERIES * 4)[:args.brute_queries]]):
        log(t0, f"brute-force search {q.text!r} over {len(snapshots)} snapshots ...")
        dt, brute = timed(brute_search, view.token, q, snapshots, walk_seconds if i == 0 else None)
        brute_times.append(dt)
        mine = catalog_answer(search.search(view.token, [ROOT], q, limit=search.MAX_LIMIT))
        if mine != brute:  # (the catalog's answer is capped at MAX_LIMIT results; these queries have fewer)
            mismatches += 1
            print(f"  MISMATCH for {q.text!r}: catalog {len(mine)} results, brute force {len(brute)}", flush=True)
        log(t0, f"brute-force search: {dt:.1f} s, {len(brute)} results, same answer: {mine == brute}")
    built_tokens = {s.token for s in built}
    t_walk = sum(t for s, t in walk_seconds.items() if s.token in built_tokens)
    rows.insert(0, ("build: every snapshot, on-change", t_build, "walk of every snapshot", t_walk, ""))
    log(t0, f"walk of the {len(built)} snapshots the build catalogued (within the brute-force search): {t_walk:.1f} s")

    if args.every_snapshot:
        one_more(catalog.ACL_EVERY, "+1 snapshot, every-snapshot (switch)")
        one_more(catalog.ACL_EVERY, "+1 snapshot, every-snapshot")

    size_after = catalog_size()
    print()
    print(f"scale: {args.files} files generated, {len(built)} snapshots built (+1 to 3 during the run), "
          f"change rate {args.change_rate}; "
          f"{statistics.mean(objects):.0f} objects and {statistics.mean(s.folders_done for s in built):.0f} "
          f"folders per snapshot")
    print(f"catalog: {entries} paths, {versions} version rows for {sum(objects)} (object, snapshot) pairs "
          f"({sum(objects) / max(1, versions):.0f}x fewer rows) after the build; database {connection.vendor}")
    if size is not None:
        print(f"catalog size: {size / 2**20:.1f} MiB with indexes ({size_after / 2**20:.1f} MiB at the end of the "
              f"run), {size / 2**20 / (sum(objects) / 1e6):.1f} MiB per million (object, snapshot) pairs; "
              f"{descriptors} distinct security descriptors")
    print(f"{'':38} {'catalog':>10}   {'brute force (peer)':<28} {'':>10} {'peer/ours':>9}")
    for label, ours, peer_label, peer, note in rows:
        print(f"{label:38} {ours:>9.1f}s   {peer_label:<28} {peer:>9.1f}s {peer / ours:>8.2f}x  {note}")
    p50, p95 = percentile(catalog_times, 50) * 1000, percentile(catalog_times, 95) * 1000
    b50, b95 = percentile(brute_times, 50) * 1000, percentile(brute_times, 95) * 1000
    counts = f"{len(catalog_times)} / {len(brute_times)} queries"
    print(f"{'search p50':38} {p50:>8.0f}ms   {'walk + ACLs of the matches':<28} {b50:>8.0f}ms {b50 / p50:>8.0f}x  {counts}")
    print(f"{'search p95':38} {p95:>8.0f}ms   {'':<28} {b95:>8.0f}ms {b95 / p95:>8.0f}x")
    a50, a95 = percentile(answer_times, 50) * 1000, percentile(answer_times, 95) * 1000
    print(f"{'search p50 / p95 without the live check':38} {a50:>5.0f} / {a95:.0f} ms (the catalog's own answer; "
          f"the rows above include the live check of the page's hits)")
    print(f"(same answers for {args.brute_queries - mismatches} of {args.brute_queries} brute-force queries; "
          f"{hits} results over {len(queries)} catalog queries; Samba on loopback, {os.cpu_count()} cores; "
          f"total {time.perf_counter() - t0:.0f} s)")
    if not args.keep:
        bulk("remove")


def catalog_size() -> int | None:
    """Bytes the catalog's tables and their indexes take (PostgreSQL; the benchmark's database holds one
    source), after a VACUUM so that dead rows are not counted."""
    if connection.vendor != "postgresql":
        return None
    tables = [m._meta.db_table for m in (CatalogEntry, CatalogVersion, CatalogSecurityDescriptor)]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM {table}")
        cursor.execute("SELECT sum(pg_total_relation_size(c::regclass)) FROM unnest(%s::text[]) AS c", [tables])
        return int(cursor.fetchone()[0])


if __name__ == "__main__":
    main()
