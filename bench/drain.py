"""The drain: N restores queued through the API for one person as fast as it accepts them (the per-person
API throttle stays on: a 429 is waited out as its Retry-After says; the per-person limit on starting
restores is lifted), while 2 worker processes run them.

Prints how long queuing and draining took, jobs/s, and the counts that must be zero: lost (a 201 whose
job never ran), stuck (not final 5 minutes after the last was queued), failed, refused (an answer
other than 201/429), deadlocks (DeadlockDetected in the workers' logs or answers).

    scripts/bench drain [--jobs 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import os

# What the drain measures is the workers: the per-person limit on starting restores (RESTORE_START_RATE,
# 30/min) would make it a measure of that limit. The API throttle (API_THROTTLE_RATE) stays on.
os.environ.setdefault("RESTORE_START_RATE", "100000/min")

from harness import FINAL_STATES, Bench, RestoreJob, wait_for  # noqa: E402

from restore.models import JobState

STUCK_SECONDS = 300


def make_tree(bench: Bench, jobs: int, per_folder: int = 20) -> list[str]:
    """One small file per job (4 KiB), 20 to a folder, as they were in one snapshot: each job restores its
    own file alongside, so a file restored twice shows as a second copy."""
    names = []
    for n in range(jobs):
        folder = f"d{n // per_folder:03d}"
        if n % per_folder == 0:
            bench.area.mkdir(folder)
        names.append(f"{folder}/f{n % per_folder:02d}.txt")
        bench.area.write(names[-1].replace("/", "\\"), f"file {n}\n".encode() * 512)
    bench.snapshot()
    return names


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with Bench(workers=args.workers) as bench:
        names = make_tree(bench, args.jobs)
        bench.give_area()
        bench.start_workers(beat=True)
        wait_for(lambda: all("ready" in (bench.workdir / f"worker-{n}.log").read_text()
                             for n in range(args.workers)), "the workers to start", 120)
        answers, jobs = Counter(), []
        t0 = time.monotonic()
        while len(jobs) < args.jobs:
            status, job = bench.start_restore([names[len(jobs)]], mode="alongside")  # waits out a 429
            answers[status] += 1
            if job is None:
                break
            jobs.append(job)
        throttled = bench.throttled
        queued = time.monotonic() - t0

        def final_count():
            return RestoreJob.objects.filter(pk__in=jobs, state__in=FINAL_STATES).count()

        while final_count() < len(jobs) and time.monotonic() - t0 - queued < STUCK_SECONDS:
            time.sleep(0.5)
        drained = time.monotonic() - t0
        states = Counter(RestoreJob.objects.filter(pk__in=jobs).values_list("state", flat=True))
        logs = "".join(p.read_text(errors="replace") for p in bench.workdir.glob("*.log"))
        never_ran = RestoreJob.objects.filter(pk__in=jobs, attempts=0).exclude(state=JobState.DONE).count()
        dupes = sum(1 for p in bench.area.disk().rglob("*") if " (restored " in p.name) - states[JobState.DONE]
        print(f"queued {len(jobs)} restores through the API in {queued:.1f} s "
              f"({len(jobs) / queued:.1f}/s; answers {dict(answers)}, {throttled:.0f} s waited on 429)")
        print(f"all final after {drained:.1f} s: {len(jobs) / drained:.2f} jobs/s end to end with {args.workers} "
              f"worker processes")
        print(f"states {dict(states)}")
        bad = {"lost": never_ran, "stuck": len(jobs) - final_count(), "failed": len(jobs) - states[JobState.DONE],
               "refused": sum(n for s, n in answers.items() if s not in (201, 202, 429)),
               "deadlocks": logs.count("DeadlockDetected") + logs.count("deadlock detected"),
               "restored twice": max(0, dupes)}
        print("lost/stuck/failed/refused/deadlocks/restored twice: " + "/".join(str(v) for v in bad.values()))
        return 0 if not any(bad.values()) and len(jobs) == args.jobs else 1


if __name__ == "__main__":
    raise SystemExit(main())
