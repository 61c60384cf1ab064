"""The load test: gunicorn as docker-compose.yml runs it (3 processes x 4 threads, DEBUG off, the
per-person API throttle and the sign-in lockout on) against the test domain, and Locust (headless,
bench/locustfile.py) with N people signed in through the real sign-in page, browsing folders (live and
in snapshots), timelines and search, listing their restores and restoring files as zips. The test
domain has three end users (alice, bob, carol): the N sessions are spread over them, so each person's
throttle (API_THROTTLE_RATE) sees a third of the load. Prints p50/p95/p99 per page and the error rate;
exits 1 on any error (a failed request or a 5xx) or a p95 over --p95-ms.

    scripts/bench load [--users 50] [--minutes 3] [--p95-ms 300]
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import read_env_file  # noqa: E402
from tests.support.broker import free_port, wait_for  # noqa: E402

GUNICORN = ["--workers", "3", "--threads", "4", "--timeout", "120"]  # docker-compose.yml's web service


def compose_gunicorn_args() -> list[str]:
    """The web service's gunicorn options, read from docker-compose.yml so this test follows it."""
    import yaml

    command = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["web"]["command"]
    words = " ".join(command).split("gunicorn", 1)[1].split()
    options, skip = [], False
    for n, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word in ("--bind", "--access-logfile"):
            skip = True
            continue
        if word.startswith("-"):
            options += [word, words[n + 1]] if n + 1 < len(words) and not words[n + 1].startswith("-") else [word]
    return options or GUNICORN


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--p95-ms", type=float, default=300)
    args = parser.parse_args()
    lock = open(Path(tempfile.gettempdir()) / "vdiprotect-bench.lock", "w")  # never beside faults or drain:
    fcntl.flock(lock, fcntl.LOCK_EX)  # signing alice in here resets the roots they gave her, and skews their timing
    facts = read_env_file(REPO / ".testenv" / "env")
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="vdiprotect-load-"))
    env = {**os.environ, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
           "CSRF_COOKIE_SECURE": "false", "STATIC_MANIFEST": "false", "ALLOWED_HOSTS": "127.0.0.1",
           "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")}
    options = [o for o in compose_gunicorn_args() if o != "vdiprotect.wsgi:application"]
    web = subprocess.Popen([str(REPO / ".venv/bin/gunicorn"), "vdiprotect.wsgi:application", "--bind",
                            f"127.0.0.1:{port}", *options], cwd=REPO, env=env, stdout=open(work / "gunicorn.log", "w"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), "gunicorn to answer", 60, 0.5)
        started = time.monotonic()
        locust = subprocess.run(
            [str(REPO / ".venv/bin/locust"), "-f", str(REPO / "bench/locustfile.py"), "--headless", "-u",
             str(args.users), "-r", "10", "-t", f"{int(args.minutes * 60)}s", "--host", f"http://127.0.0.1:{port}",
             "--csv", str(work / "load"), "--only-summary", "--loglevel", "WARNING"],
            env={**env, "LOAD_PASSWORD": facts["TESTENV_USER_PASSWORD"]}, capture_output=True, text=True)
        took = time.monotonic() - started
    finally:
        os.killpg(web.pid, 15)
        web.wait(30)
    rows = list(csv.DictReader(open(work / "load_stats.csv")))
    print(f"gunicorn {' '.join(options)}; {args.users} people, {took:.0f} s; logs in {work}")
    print(f"{'page':<34}{'requests':>9}{'errors':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'req/s':>8}")
    total = next(r for r in rows if r["Name"] == "Aggregated")
    for r in [r for r in rows if r["Name"] != "Aggregated"] + [total]:
        print(f"{r['Name'][:33]:<34}{r['Request Count']:>9}{r['Failure Count']:>8}{r['50%']:>8}{r['95%']:>8}"
              f"{r['99%']:>8}{float(r['Requests/s']):>8.1f}")
    errors = int(total["Failure Count"])
    rate = errors / max(1, int(total["Request Count"]))
    print(f"error rate {rate:.4%} ({errors} of {total['Request Count']})")
    failures = work / "load_failures.csv"
    if errors and failures.exists():
        print(failures.read_text()[:2000])
    if locust.returncode not in (0, 1):
        print(locust.stdout[-2000:], locust.stderr[-2000:])
    slow = [r["Name"] for r in rows if r["Name"] != "Aggregated" and float(r["95%"]) > args.p95_ms]
    if slow:
        print(f"p95 over {args.p95_ms:.0f} ms: {', '.join(slow)}")
    return 0 if not errors and not slow else 1


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
