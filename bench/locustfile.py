"""Locust scenario of bench/load.py: people signed in through the real sign-in page (against AD) who
browse their folders, open file timelines, search, list their restores and ask for restores (a dry
run, then a zip download, so the shared test data is never written). Each simulated person waits 1-3 s
between pages, as a person reading them does. Names in the results are the pages, not the URLs."""

from __future__ import annotations

import itertools
import os
import random
import re

from locust import HttpUser, between, task

PEOPLE = os.environ.get("LOAD_PEOPLE", "alice,bob,carol").split(",")
PASSWORD = os.environ["LOAD_PASSWORD"]
_next = itertools.count()
FILES = ["Documents/notes.txt"]
QUERIES = ["notes", "report", "budget", "*.txt"]


class Person(HttpUser):
    wait_time = between(1, 3)

    def on_start(self):
        # One connection per request, as gunicorn sees it behind a TLS proxy that does not keep upstream
        # connections alive (nginx's default); else a kept-alive connection that gunicorn closes after its
        # keep-alive (2 s) while the person reads (1-3 s) races the next request into a reset.
        self.client.headers["Connection"] = "close"
        self.username = PEOPLE[next(_next) % len(PEOPLE)]
        page = self.client.get("/signin/", name="sign-in page")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        response = self.client.post("/signin/", {"username": self.username, "password": PASSWORD,
                                                 "csrfmiddlewaretoken": token[1] if token else ""},
                                    headers={"Referer": self.host + "/signin/"}, name="sign in", allow_redirects=False)
        if response.status_code != 302:
            response.failure(f"sign-in of {self.username}: {response.status_code}")
        self.csrf = self.client.cookies.get("csrftoken", "")
        snapshots = self.client.get("/api/v1/roots/data/snapshots", name="api: snapshots").json()
        items = snapshots if isinstance(snapshots, list) else snapshots.get("snapshots", [])
        self.snapshots = [s["id"] for s in items if isinstance(s, dict) and s.get("id")] or [None]
        self.folders, self.files = [""], []  # what this person has, from their own listing
        for folder in ("", "Documents"):
            listing = self.client.get("/api/v1/roots/data/entries", params={"path": folder}, name="api: entries")
            if listing.status_code != 200:
                continue
            for entry in listing.json().get("entries", []):
                (self.folders if entry["kind"] == "folder" else self.files).append(entry["path"])
        self.files = self.files or FILES

    @task(4)
    def browse(self):
        self.client.get("/roots/data/", params={"path": random.choice(self.folders)}, name="folder page")

    @task(2)
    def browse_in_snapshot(self):
        self.in_snapshot(random.choice(self.folders), random.choice(self.snapshots))

    def in_snapshot(self, folder: str, at: str):
        """A folder as it was; 404 is the right answer for a folder made after that snapshot."""
        with self.client.get("/api/v1/roots/data/entries", params={"path": folder, "at": at}, catch_response=True,
                             name="api: entries in a snapshot") as response:
            if response.status_code == 404:
                response.success()
            return response

    @task(3)
    def timeline(self):
        self.client.get("/roots/data/file", params={"path": random.choice(self.files)}, name="timeline page")

    @task(2)
    def search(self):
        self.client.get("/search/", params={"q": random.choice(QUERIES)}, name="search page")

    @task(1)
    def my_restores(self):
        self.client.get("/restores/", name="my restores page")

    @task(1)
    def restore(self):
        """A file as it was in a snapshot: the plan (dry run), the restore as a zip, the zip."""
        at = random.choice(self.snapshots)
        listing = self.in_snapshot(random.choice(self.folders), at)
        files = [e["path"] for e in (listing.json().get("entries", []) if listing.status_code == 200 else [])
                 if e["kind"] == "file"]
        if not files:
            return
        body = {"items": [{"root": "data", "path": random.choice(files), "at": at}], "mode": "download"}
        headers = {"X-CSRFToken": self.csrf, "Referer": self.host + "/"}
        self.post("/api/v1/restores", {**body, "dry_run": True}, headers, "api: restore plan (dry run)")
        started = self.post("/api/v1/restores", body, headers, "api: restore (download)")
        if started.status_code in (201, 202):
            self.client.get(f"/api/v1/restores/{started.json()['id']}/download", name="api: restore zip")

    def post(self, url: str, body: dict, headers: dict, name: str):
        """A 429 is the per-person limit on starting restores (RESTORE_START_RATE) doing its job: it is
        counted under a name of its own, not as an error, and this person skips that restore."""
        with self.client.post(url, json=body, headers=headers, name=name, catch_response=True) as response:
            if response.status_code == 429:
                response.success()
                self.environment.events.request.fire(request_type="POST", name=f"{name}: 429 throttled",
                                                     response_time=0, response_length=0, exception=None,
                                                     context={})
            return response
