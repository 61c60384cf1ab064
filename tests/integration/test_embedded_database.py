"""The embedded database holds (issue 16, finding 5): the demo's processes on the default SQLite file.

With no DATABASE_URL the portal keeps its data in one SQLite file. The test starts what a small
installation runs on it — `manage.py runserver --noreload` (the demo's web server), two Celery worker
processes and `celery beat` (which queues the catalog build) — against the real test domain and a
Redis db of its own, then has alice, bob and carol search while the catalog is being built, list
folders and restore files, all at once over HTTP. Before WAL mode, `BEGIN IMMEDIATE` and a busy
timeout, a search during the build answered 500 "database is locked".

Checked: no answer is a 5xx; no process logged "database is locked"; every restore ends done; the
build finishes; `manage.py verify_audit` finds the chain intact with one record per audited action.
Deadlines only bound how long a broken run waits; nothing here measures speed.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.scratch import FULL, SERVER, SHARE, ScratchArea, sid_of
from tests.support.workers import REPO, Workers

pytestmark = [pytest.mark.samba]
PEOPLE = ("alice", "bob", "carol")
FOLDERS = 20  # per person: enough that the build is still running while the first searches arrive
FILES = 12  # per folder
RESTORES = 2  # per person, at the same time
DEADLINE = 100.0  # seconds for the whole concurrent phase


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what: str, deadline: float):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


# --- the files: each person's folder of many small files, in a snapshot, some changed since -----------


@pytest.fixture(scope="module")
def area(testenv):
    area = ScratchArea(testenv, prefix="embedded").create()
    try:
        area.sids.update({"carol": sid_of(testenv, "carol")})
        for person in PEOPLE:
            area.mkdir(person)
            area.set_acl(person, {person: FULL}, owner=person)  # protected: only the person (and the service)
            area.mkdir(f"{person}/docs", client=area.svc)
            area.mkdir(f"{person}/docs/f00", client=area.svc)
            for n in range(FILES):
                area.write(f"{person}/docs/f00/report-{n:02}.txt", f"{person} {n}\n".encode(), client=area.svc)
            first = area.disk(f"{person}/docs/f00")
            for f in range(1, FOLDERS):  # copies on disk keep the NT ACLs Samba wrote (security.NTACL): fast
                subprocess.run(["cp", "-a", str(first), str(first.with_name(f"f{f:02}"))], check=True)
            for n in range(RESTORES):
                area.write(f"{person}/notes-{n}.txt", f"{person}'s notes {n}, as they were\n".encode(),
                           client=area.svc)
        area.snapshot("-2 hours")
        for person in PEOPLE:
            for n in range(RESTORES):
                area.write(f"{person}/notes-{n}.txt", b"overwritten by mistake\n", client=area.svc)
            area.write(f"{person}/docs/f00/report-00.txt", b"changed since\n", client=area.svc)
        area.snapshot("-1 hour")
        yield area
    finally:
        area.remove()


# --- the portal: the demo's processes on a SQLite file ----------------------------------------------


class Portal:
    """runserver + 2 workers + beat, with no DATABASE_URL: the default SQLite file in ``<tmp>/var``."""

    def __init__(self, testenv, area: ScratchArea, tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        redis = "redis://127.0.0.1:6379/14"  # this test's own db: cache and broker of the portal under test
        self.pool = Workers(redis, tmp)
        self.env = self.pool.environment(**{
            **testenv.facts, "DATABASE_URL": "", "DATA_DIR": str(tmp / "var"), "REDIS_URL": redis, "DEBUG": "true",
            "USER_ROOTS": f"scratch=\\\\{SERVER}\\{SHARE}\\{area.name}\\%USERNAME%", "ROOTS_FROM_AD": "false",
            "CATALOG_SHARES": f"\\\\{SERVER}\\{SHARE}\\{area.name}", "CATALOG_REFRESH_SECONDS": "2",
            "RESTORE_SWEEP_SECONDS": "5", "RESTORE_STALE_SECONDS": "60", "API_THROTTLE_RATE": "100000/min"})
        self.web = None

    def manage(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=120)

    def start(self) -> None:
        subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=True, capture_output=True)
        migrated = self.manage("migrate", "--noinput", "-v0")
        assert migrated.returncode == 0, migrated.stderr
        log = open(self.tmp / "web.log", "w")
        self.web = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                                    cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        for _ in range(2):
            self.pool.start(**self.env)
        self.pool.start_beat(**self.env)
        wait_for(self.answers, "the web server to answer (see web.log)", 60)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/signin/", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.web is not None and self.web.poll() is None:
            os.killpg(self.web.pid, signal.SIGTERM)
            self.web.wait(20)
        self.pool.stop_all()

    def logs(self) -> dict[str, str]:
        return {p.name: p.read_text(errors="replace") for p in self.tmp.glob("*.log")}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer to look at, not to follow


class Session:
    """One person's browser session (cookies, CSRF token); every answer is kept in ``answers``."""

    answers: list[tuple[str, str, int, bytes]] = []
    lock = threading.Lock()

    def __init__(self, portal: Portal):
        self.portal = portal
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, *, form: dict | None = None, body: dict | None = None):
        data, headers = None, {"X-CSRFToken": self.csrf()}
        if form is not None:
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": self.csrf()}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        req = urllib.request.Request(self.portal.url + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=60) as response:
                status, content = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, content = exc.code, exc.read()
        with self.lock:
            self.answers.append((method, path, status, content if status >= 500 else content[:300]))
        return status, content

    def get(self, path: str):
        return self.request("GET", path)

    def json(self, method: str, path: str, body: dict | None = None) -> dict:
        status, content = self.request(method, path, body=body)
        assert status < 300, f"{method} {path}: {status} {content[:300]!r}"
        return json.loads(content)

    def sign_in(self, username: str, password: str) -> "Session":
        self.get("/signin/")
        status, content = self.request("POST", "/signin/", form={"username": username, "password": password})
        assert status == 302, f"sign-in of {username}: {status} {content[:300]!r}"
        return self


@pytest.fixture
def portal(testenv, area, tmp_path):
    portal = Portal(testenv, area, tmp_path)
    Session.answers = []
    try:
        portal.start()
        yield portal
    finally:
        portal.stop()


def why(content: bytes) -> str:
    """A 5xx answer's reason: the exception on Django's DEBUG page, else the start of the body."""
    text = content.decode(errors="replace")
    start = text.find('<pre class="exception_value">')
    return text[start + 29:text.find("</pre>", start)] if start >= 0 else text[:200]


# --- the test ---------------------------------------------------------------------------------------


def test_web_two_workers_and_beat_on_the_default_sqlite_database_answer_every_request_and_keep_one_chain(
        portal, area, testenv):
    people = {p: Session(portal).sign_in(p, testenv.password) for p in PEOPLE}
    old, newer = area.snapshots
    end = time.monotonic() + DEADLINE
    built = threading.Event()
    searched_while_building = []
    jobs: dict[str, list[dict]] = {p: [] for p in PEOPLE}
    failures: list[str] = []

    def search(person: str) -> None:
        session = people[person]
        n = 0
        while not built.is_set() and time.monotonic() < end:
            status, content = session.get(f"/api/v1/search?q=report-{n % FILES:02}&root=scratch")
            n += 1
            if status != 200:
                continue
            coverage = json.loads(content)["coverage"][0]
            if coverage["pending"] == 0 and coverage["snapshots"] >= len(area.snapshots):
                built.set()
            elif coverage["pending"]:
                searched_while_building.append(person)

    def browse(person: str) -> None:
        session = people[person]
        n = 0
        while not built.is_set() and time.monotonic() < end:
            at = (old, newer, "")[n % 3]
            session.get(f"/api/v1/roots/scratch/entries?path=docs/f{n % FOLDERS:02}&at={urllib.parse.quote(at)}")
            n += 1

    def restore(person: str, n: int) -> None:
        session = people[person]
        job = session.json("POST", "/api/v1/restores", {"items": [{"root": "scratch", "path": f"notes-{n}.txt",
                                                                    "at": old}]})
        while job["state"] in ("queued", "running") and time.monotonic() < end:
            time.sleep(0.3)
            job = session.json("GET", f"/api/v1/restores/{job['id']}")
        jobs[person].append(job)

    def guarded(target, *args):
        def run():
            try:
                target(*args)
            except Exception as exc:  # an assertion in a thread: reported by the test, not lost
                failures.append(f"{target.__name__}{args}: {exc!r}")
        return threading.Thread(target=run)

    threads = [guarded(search, p) for p in PEOPLE] + [guarded(browse, p) for p in PEOPLE]
    threads += [guarded(restore, p, n) for p in PEOPLE for n in range(RESTORES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE + 70)
    portal.stop()

    answers = Session.answers
    server_errors = [(m, p, s, why(c)) for m, p, s, c in answers if s >= 500]
    assert not server_errors, f"{len(server_errors)} of {len(answers)} answers were 5xx: {server_errors[:5]}"
    assert not failures, failures
    locked = [name for name, text in portal.logs().items() if "database is locked" in text]
    assert not locked, f"'database is locked' in {locked}"
    assert built.is_set(), "the catalog build did not finish in time (see beat.log and worker-*.log)"
    assert searched_while_building, "no search ran while the catalog was being built: the test proved nothing"
    for person in PEOPLE:
        states = [(j["state"], j["error"]) for j in jobs[person]]
        assert states == [("done", "")] * RESTORES, f"{person}'s restores ended {states}"
        for n in range(RESTORES):
            restored = [p.name for p in area.disk(person).iterdir() if p.name.startswith(f"notes-{n} (restored")]
            assert len(restored) == 1, f"{person}: {sorted(p.name for p in area.disk(person).iterdir())}"
            assert area.disk(f"{person}/{restored[0]}").read_text() == f"{person}'s notes {n}, as they were\n"

    verified = portal.manage("verify_audit")
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout, verified.stdout + verified.stderr
    with sqlite3.connect(portal.tmp / "var" / "db.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        recorded = dict(db.execute("SELECT action, count(*) FROM restore_auditevent WHERE result = 'ok' "
                                   "GROUP BY action").fetchall())
    # every search and every listing of a snapshot is audited (live listings are not)
    answered = {"search": sum(1 for _, p, s, _ in answers if p.startswith("/api/v1/search") and s == 200),
                "list": sum(1 for _, p, s, _ in answers if "/entries" in p and "at=%40GMT" in p and s == 200)}
    assert {a: recorded.get(a, 0) for a in answered} == answered, "an answered request is missing from the trail"
    assert recorded.get("restore_finished") == len(PEOPLE) * RESTORES
