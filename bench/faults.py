"""The fault campaign: restores under faults, judged over SMB (issue 21).

Each round queues 1-5 restores through the API (files of 1-50 MiB from one snapshot; modes alongside,
replace, to_folder, download), waits a random moment while they run, and injects one fault:

  sigkill       a worker running a job (else any) is killed with SIGKILL, then started again
  sigterm       a worker gets SIGTERM (warm shutdown: it finishes its task and exits), then started again
  redis         the broker (a Redis of the campaign's own, append-only file) is killed -9 and restarted
  smb_cut       every SMB connection of the workers is dropped by the TCP proxy between them and Samba
  pg_terminate  the workers' PostgreSQL backends are terminated (pg_terminate_backend)
  samba         smbd as the workers see a restart: the smbd processes serving them are killed and the
                server refuses connections for 3 s (the rest of the shared test domain is left alone)

then judges each file on the file server itself, not from the database: no ~vdiprotect-*.tmp left;
every restored file's SHA-256 equals the snapshot's; in replace mode the earlier current copy exists
(kept, or back under its name if the job failed); nothing restored twice; a download's zip members
equal the snapshot; every job final (done, or failed with a reason) within 30 s of the recovery (a
job not final 120 s after it is stuck); the audit chain verifies. Prints a table fault x outcome and
exits 1 on any partial file, lost current copy, leftover temporary, duplicate, stuck or late job or 5xx.

    scripts/bench faults [--rounds 100] [--kinds sigkill,sigterm,...] [--seed 21]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import signal
import subprocess
import time
import zipfile
from collections import Counter, defaultdict

from harness import FINAL_STATES, SHARE, WORKER_APPNAME, Bench, RestoreJob, sha256_bytes, timed_wait, wait_for

from bench.cutlink import CutLink
from restore.audit.verify import verify_chain
from restore.models import JobState

KINDS = ("sigkill", "sigterm", "redis", "smb_cut", "pg_terminate", "samba")
MODES = ("alongside", "replace", "to_folder", "download")
SIZES_MIB = [1, 3, 8, 16, 32, 50, 24]
LATE_SECONDS, STUCK_SECONDS = 30, 120
BAD = ("partial", "lost_current", "temp_left", "duplicate", "stuck", "late", "http_5xx", "chain_broken", "refused")


class Campaign:
    def __init__(self, bench: Bench, proxy: CutLink, files: dict, rng: random.Random):
        self.bench, self.proxy, self.files, self.rng = bench, proxy, files, rng
        self.area = bench.area
        self.svc = self.area.svc  # judged over SMB, straight to Samba (not through the proxy)
        self.table: dict[str, Counter] = defaultdict(Counter)
        self.worst: dict[str, float] = defaultdict(float)

    # --- one round -----------------------------------------------------------------------------
    def round(self, kind: str) -> None:
        names = self.rng.sample(sorted(self.files), self.rng.randint(1, 5))
        jobs = []
        for name in names:
            mode = self.rng.choices(MODES, weights=(3, 3, 3, 1))[0]  # downloads do not involve the workers
            options = {"mode": mode, **({"target": {"root": "scratch", "path": "Restored"}}
                                        if mode == "to_folder" else {})}
            status, job = self.bench.start_restore([name], **options)
            row = self.table[kind]
            row["jobs"] += 1
            if status >= 500:
                row["http_5xx"] += 1
            elif job is None:
                row[f"refused_{status}"] += 1
            else:
                jobs.append((job, name, mode))
        time.sleep(self.rng.uniform(0.1, 2.0))  # a random moment, most often mid-copy
        self.table[kind]["running_at_fault"] += RestoreJob.objects.filter(
            pk__in=[j for j, _n, _m in jobs], state=JobState.RUNNING).count()
        recovered = self.inject(kind, [j for j, _n, m in jobs if m != "download"])
        self.judge(kind, jobs, recovered)
        self.reset(names)

    def inject(self, kind: str, job_ids: list) -> float:
        """Inject the fault; returns the monotonic time the system was whole again (the recovery)."""
        if kind in ("sigkill", "sigterm"):
            proc = self.worker_running(job_ids)
            if kind == "sigkill":
                self.bench.pool.kill(proc)
            else:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(300)
            self.bench.start_worker()  # as a supervisor (compose's restart policy) would
        elif kind == "redis":
            self.bench.broker.kill()
            time.sleep(1.0)
            self.bench.broker.start()
        elif kind == "smb_cut":
            self.proxy.cut()
        elif kind == "pg_terminate":
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND application_name = %s", [WORKER_APPNAME])
                self.table[kind]["backends_terminated"] += cursor.fetchone()[0]
        elif kind == "samba":
            ports = self.proxy.upstream_ports()
            self.proxy.cut(refuse_seconds=3.0)
            for pid in smbd_serving(ports):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(3.0)
        return time.monotonic()

    def worker_running(self, job_ids: list):
        live = self.bench.live_workers()
        holders = {int(w.rpartition(":")[2]) for w in RestoreJob.objects.filter(
            pk__in=job_ids, state=JobState.RUNNING).values_list("worker", flat=True) if w.rpartition(":")[2].isdigit()}
        for proc in live:
            if any(parent_of(pid) == proc.pid for pid in holders):
                return proc
        return self.rng.choice(live)

    # --- judging ---------------------------------------------------------------------------------
    def judge(self, kind: str, jobs: list, recovered: float) -> None:
        row = self.table[kind]
        row["rounds"] += 1
        queued = [j for j, _n, m in jobs if m != "download"]
        all_final, _ = timed_wait(lambda: len(self.bench.ended(queued)) == len(queued), STUCK_SECONDS)
        after = time.monotonic() - recovered
        states = {str(pk): state for pk, state in RestoreJob.objects.filter(
            pk__in=[j for j, _n, _m in jobs]).values_list("pk", "state")}
        for job, name, mode in jobs:
            if mode == "download":
                row.update(self.judge_download(job, name))
            elif states.get(str(job)) not in FINAL_STATES:
                row["stuck"] += 1
            else:
                row[states[str(job)]] += 1
                row.update(self.judge_file(name, mode, states[str(job)]))
        if all_final:
            self.worst[kind] = max(self.worst[kind], after)
            row["late"] += int(after > LATE_SECONDS)
        listing = self.names("") + [f"Restored\\{n}" for n in self.names("Restored")]
        row["temp_left"] += sum(1 for n in listing if "~vdiprotect-" in n)

    def judge_file(self, name: str, mode: str, state: str) -> Counter:
        out = Counter()
        want, current = self.files[name]["snapshot"], self.files[name]["current"]
        stem, ext = os.path.splitext(name)
        root = self.names("")
        if mode == "alongside":
            copies = [n for n in root if n.startswith(f"{stem} (restored ") and n.endswith(ext)]
            out["duplicate"] += max(0, len(copies) - 1)
            out["partial"] += sum(1 for n in copies if self.sha(n) != want)
            out["missing"] += int(state == JobState.DONE and not copies)
            out["lost_current"] += int(self.read(name) != current)
        elif mode == "replace":
            kept = [n for n in root if n.startswith(f"{stem} (before restore ") and n.endswith(ext)]
            out["duplicate"] += max(0, len(kept) - 1)
            live = self.sha(name) if name in root else None
            has_current = any(self.read(n) == current for n in kept) or (name in root and self.read(name) == current)
            out["lost_current"] += int(not has_current)
            out["partial"] += int(live not in (None, want, sha256_bytes(current)))
            out["missing"] += int(state == JobState.DONE and live != want)
        else:
            restored = [n for n in self.names("Restored") if n.startswith(stem)]
            out["duplicate"] += max(0, len(restored) - 1)
            out["partial"] += sum(1 for n in restored if self.sha(f"Restored\\{n}") != want)
            out["missing"] += int(state == JobState.DONE and not restored)
            out["lost_current"] += int(self.read(name) != current)
        return out

    def judge_download(self, job, name: str) -> Counter:
        response = self.bench.client.get(f"/api/v1/restores/{job}/download")
        if response.status_code >= 500:
            return Counter(http_5xx=1)
        if response.status_code != 200:
            return Counter(download_refused=1)
        data = b"".join(response.streaming_content) if response.streaming else response.content
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.namelist() if m.endswith(name)]
            ok = len(members) == 1 and sha256_bytes(zf.read(members[0])) == self.files[name]["snapshot"]
        return Counter(downloaded=int(ok), partial=int(not ok))

    # --- the tree, over SMB ------------------------------------------------------------------------
    def names(self, folder: str) -> list[str]:
        return [e.name for e in self.svc.list_dir(SHARE, self.area.path(folder)) if e.name not in (".", "..")]

    def sha(self, rel: str) -> str:
        return self.svc.sha256(SHARE, self.area.path(rel))

    def read(self, rel: str) -> bytes | None:
        try:
            with self.svc.open_read(SHARE, self.area.path(rel)) as handle:
                return b"".join(handle.iter_chunks(4 << 20))
        except Exception:
            return None

    def reset(self, names: list[str]) -> None:
        """Back to the history: the current copies as written, nothing else in the folder."""
        for n in self.names(""):
            if n not in self.files and n != "Restored":
                self.svc.delete(SHARE, self.area.path(n))
        for n in self.names("Restored"):
            self.svc.delete(SHARE, self.area.path(f"Restored\\{n}"))
        for name in names:
            if self.read(name) != self.files[name]["current"]:
                self.area.write(name, self.files[name]["current"])


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def smbd_serving(ports: set[int]) -> list[int]:
    """The smbd processes whose client connection comes from one of these local ports."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "( sport = :445 )"], capture_output=True,
                         text=True).stdout
    pids = []
    for line in out.splitlines():
        fields = line.split()
        peer = fields[3] if len(fields) > 3 else ""
        if peer.rpartition(":")[2].isdigit() and int(peer.rpartition(":")[2]) in ports:
            pids += [int(p) for p in re.findall(r"pid=(\d+)", line)]
    return pids


def print_table(table: dict, worst: dict) -> bool:
    columns = ["rounds", "jobs", "running_at_fault", "done", "partial_state", "failed", "downloaded", "partial", "lost_current",
               "temp_left", "duplicate", "stuck", "late", "http_5xx", "missing", "refused"]
    print(f"{'fault':<14}" + "".join(f"{c:>17}" for c in columns) + f"{'max s to final':>16}")
    total = Counter()
    for kind, row in table.items():
        row["partial_state"] = row.get(JobState.PARTIAL, 0)
        row["refused"] = sum(n for k, n in row.items() if k.startswith("refused_"))
        total.update(row)
        print(f"{kind:<14}" + "".join(f"{row.get(c, 0):>17}" for c in columns) + f"{worst.get(kind, 0):>16.1f}")
    total["partial_state"] = total.get(JobState.PARTIAL, 0)
    total["refused"] = sum(n for k, n in total.items() if k.startswith("refused_"))
    print(f"{'total':<14}" + "".join(f"{total.get(c, 0):>17}" for c in columns)
          + f"{max(worst.values(), default=0):>16.1f}")
    return not any(total.get(c, 0) for c in BAD)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    assert set(kinds) <= set(KINDS), f"kinds: {', '.join(KINDS)}"
    rng = random.Random(args.seed)
    proxy = CutLink()
    # Workers stream through the proxy (no server-side copy), so the bytes of every copy cross the faults.
    with Bench(workers=2, worker_env={"SMB_PORT": str(proxy.port), "RESTORE_COPY_METHOD": "stream"}) as bench:
        files = bench.make_history(SIZES_MIB, seed=args.seed)
        bench.give_area()
        bench.start_workers(beat=True)
        wait_for(lambda: all("ready" in (bench.workdir / f"worker-{n}.log").read_text() for n in range(2)),
                 "the workers to start", 120)
        campaign = Campaign(bench, proxy, files, rng)
        started = time.monotonic()
        for n in range(args.rounds):
            kind = kinds[n % len(kinds)]
            campaign.round(kind)
            print(f"round {n + 1}/{args.rounds} {kind}: {dict(campaign.table[kind])}", flush=True)
        report = verify_chain()
        if not report.ok:
            campaign.table[kinds[0]]["chain_broken"] += 1
        print(f"\n{args.rounds} rounds in {time.monotonic() - started:.0f} s; audit chain: "
              f"{'intact' if report.ok else report.problem}; proxy connections {proxy.connections}, cuts {proxy.cuts}")
        ok = print_table(campaign.table, campaign.worst)
    proxy.close()
    print("PASS: no loss, no leftover, no duplicate, nothing stuck or late" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
