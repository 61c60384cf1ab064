"""The snapshot catalog against the real Samba shares: building, incremental updates, resuming,
search with the file server's ACLs, the timeline from the catalog, the admin's progress view.

Fixture data (read only): the data share's three snapshots (scripts/testenv_files.py). Tests that
need snapshots of their own make a folder of their own in the bench share and snapshot it with
`scripts/testenv bulk snapshot`, and drop those snapshots afterwards.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from restore import smb
from restore.accounts import identity
from restore.catalog import build, sources, walk
from restore.models import AuditEvent
from restore.models import catalog as catalog_models
from restore.models.catalog import CatalogEntry, CatalogSnapshot, CatalogSource, CatalogVersion, SnapshotState
from restore.nt.access import FILE_ALL_ACCESS
from restore.nt.constants import ACCESS_ALLOWED_ACE_TYPE, CONTAINER_INHERIT_ACE, OBJECT_INHERIT_ACE
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor, parse_security_descriptor
from restore.versions import browse as pv
from restore.versions import catalogued as lookup
from restore.versions import roots
from restore.versions.paths import Unc
from tests.support.history import T1, T2, T3, generation
from tests.support.samba import hides_inside_deleted_folders, opens_inside_deleted_folders, samba_version

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

REPO = Path(__file__).resolve().parents[3]
TEAM_ROOT = "team=\\\\127.0.0.1\\data\\alice\\Documents\\Finance"
BOBS_ROOT = "others=\\\\127.0.0.1\\data\\bob"


def data_catalog() -> CatalogSource:
    source = sources.register(Unc("127.0.0.1", "data"))
    outcome = build.build_source(source.id)
    assert not outcome.error and not outcome.busy
    return source


def find(client, q, **params):
    response = client.get("/api/v1/search", {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()


def by_path(answer) -> dict:
    return {(r["root"], r["path"]): r for r in answer["results"]}


def snapshot_tokens(testenv, share="data") -> list[str]:
    return sorted((p.name for p in testenv.snapdir(share).iterdir() if p.name.startswith("@GMT-")), reverse=True)


# --- the sample domain's data share --------------------------------------------------------------


def test_a_deleted_folder_is_found_in_the_snapshots_that_held_it_and_marked_deleted(testenv, alice):
    data_catalog()
    oldest = snapshot_tokens(testenv)[-1]
    hit = by_path(find(alice, "old project"))[("data", "Documents/Old Project")]
    assert hit["kind"] == "folder" and hit["exists_live"] is False
    assert hit["versions"][0]["snapshots"] == [oldest] and hit["last_seen"] == oldest
    assert hit["url"] == f"/roots/data/?path=Documents%2FOld+Project&at={oldest.replace('@', '%40')}"


def test_a_file_deleted_from_a_live_folder_is_found_in_the_snapshots_before_its_deletion(testenv, alice):
    data_catalog()
    t3, t2, t1 = snapshot_tokens(testenv)[-3:]
    hit = by_path(find(alice, "report.docx"))[("data", "Documents/report.docx")]
    assert hit["kind"] == "file" and hit["exists_live"] is False
    assert [v["snapshots"] for v in hit["versions"]] == [[t2, t1]]
    assert hit["versions"][0]["size"] == 18_000
    assert hit["url"] == "/roots/data/file?path=Documents%2Freport.docx"


def test_versions_are_grouped_per_file_newest_first_and_a_live_file_is_not_deleted(testenv, alice):
    data_catalog()
    hit = by_path(find(alice, "notes.txt", root="data"))[("data", "Documents/notes.txt")]
    assert hit["exists_live"] is True
    assert [v["size"] for v in hit["versions"]][-3:] == [55, 39, 22]  # newer ones when tests took snapshots
    assert hit["versions"][-1]["snapshots"] == [snapshot_tokens(testenv)[-1]]


def test_a_glob_matches_whole_names_case_insensitively(alice):
    data_catalog()
    found = {r["path"] for r in find(alice, "*.XLSX", root="data")["results"]}
    assert {"Documents/Budget 2026.xlsx", "Documents/Finance/forecast.xlsx", "Documents/Finance/salaries.xlsx"} <= found
    assert all(p.lower().endswith(".xlsx") for p in found)


@hides_inside_deleted_folders
def test_files_inside_a_folder_deleted_before_it_was_catalogued_are_hidden_not_guessed(alice):
    """Documents/Old Project was deleted live before any catalog build: on Samba 4.17 the catalog
    knows the names (the deleted folder lists) but not the security descriptors, so it shows nothing."""
    data_catalog()
    assert find(alice, "plan.txt")["results"] == []
    plan = CatalogEntry.objects.get(path="alice\\Documents\\Old Project\\plan.txt")
    assert [v.sd_id for v in CatalogVersion.objects.filter(entry=plan)] == [None]  # unknown: fails closed


@opens_inside_deleted_folders
def test_files_inside_a_folder_deleted_before_it_was_catalogued_are_found(alice):
    data_catalog()
    assert by_path(find(alice, "plan.txt")).get(("data", "Documents/Old Project/plan.txt"))


def test_a_file_bob_may_not_read_never_appears_in_his_results(settings, sign_in):
    settings.USER_ROOTS += ";" + TEAM_ROOT
    data_catalog()
    bob = sign_in("bob")
    assert find(bob, "salaries", root="team")["results"] == []
    assert [r["path"] for r in find(bob, "forecast", root="team")["results"]] == ["forecast.xlsx"]
    bob.post("/signout/")
    alice = sign_in("alice")
    assert [r["path"] for r in find(alice, "salaries", root="team")["results"]] == ["salaries.xlsx"]


def test_other_peoples_files_never_appear_even_under_a_root_that_holds_them(settings, sign_in):
    settings.USER_ROOTS += ";" + BOBS_ROOT  # alice gets a root on bob's folder; her token still cannot read it
    data_catalog()
    alice = sign_in("alice")
    assert find(alice, "Secret Plans", root="others")["results"] == []
    assert find(alice, "bob-notes")["results"] == []
    alice.post("/signout/")
    bob = sign_in("bob")
    assert set(by_path(find(bob, "Secret Plans"))) == {("data", "Documents/Secret Plans.docx")}
    assert {r["path"] for r in find(bob, "notes.txt")["results"]} == {"Documents/bob-notes.txt"}


def test_a_version_whose_acl_changed_shows_only_in_the_snapshots_that_allowed_it(testenv, alice):
    """Archive/handover.docx kept its size and date; only its ACL changed at T3 (alice lost it).
    Samba's listings do not show an ACL change: the catalog reads every SD at every snapshot."""
    data_catalog()
    t3, t2, t1 = snapshot_tokens(testenv)[-3:]
    hit = by_path(find(alice, "handover"))[("data", "Documents/Archive/handover.docx")]
    assert [v["snapshots"] for v in hit["versions"]] == [[t2, t1]]


@pytest.mark.parametrize("params, why", [
    ({}, "at least 2"), ({"q": ""}, "at least 2"), ({"q": "a"}, "at least 2"), ({"q": "**"}, "at least 2"),
    ({"q": "Documents\\notes"}, "cannot contain"), ({"q": "x" * 300}, "longer than"),
    ({"q": "notes", "limit": "0"}, "limit"), ({"q": "notes", "limit": "many"}, "limit"),
    ({"q": "notes", "limit": "1000"}, "limit"),
])
def test_search_answers_400_with_a_reason_to_bad_input_and_records_nothing(alice, params, why):
    before = AuditEvent.objects.filter(action="search").count()
    response = alice.get("/api/v1/search", params)
    assert response.status_code == 400 and why in response.json()["detail"]
    assert AuditEvent.objects.filter(action="search").count() == before


@pytest.mark.parametrize("root", ["bobs", "team", "../data", "profile2"])
def test_search_in_a_root_that_is_not_mine_is_404(alice, root):
    assert alice.get("/api/v1/search", {"q": "notes", "root": root}).status_code == 404


def test_search_of_a_root_without_a_catalog_says_so_and_finds_nothing(alice):
    answer = find(alice, "notes", root="profile")
    assert answer["results"] == [] and answer["coverage"] == [
        {"root": "profile", "catalogued": False, "snapshots": 0, "pending": 0, "newest": None, "building": False,
         "seconds_left": None, "progress": "not catalogued"}]


def test_search_is_for_file_users_only(sign_in, client):
    assert client.get("/api/v1/search", {"q": "notes"}).status_code == 401
    auditor = sign_in("auditor1")
    assert auditor.get("/api/v1/search", {"q": "notes"}).status_code == 403
    assert auditor.get("/search/", {"q": "notes"}).status_code == 403


def test_a_search_is_audited_with_what_was_asked(alice):
    data_catalog()
    find(alice, "report", root="data")
    event = AuditEvent.objects.filter(action="search").latest("id")
    assert event.actor_username == "alice" and event.root == "data"
    assert event.details["q"] == "report" and event.details["results"] >= 1


def test_the_search_page_shows_results_linking_to_the_timeline(alice):
    data_catalog()
    page = alice.get("/search/", {"q": "report.docx"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/roots/data/file?path=Documents%2Freport.docx"' in html and "deleted since" in html
    partial = alice.get("/search/", {"q": "report.docx"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.content.decode()
    bad = alice.get("/search/", {"q": "a"})
    assert bad.status_code == 400 and "at least 2" in bad.content.decode()
    assert alice.get("/search/", {"q": "notes", "root": "nope"}).status_code == 404
    assert 'href="/search/"' in alice.get("/").content.decode()


def test_the_timeline_and_snapshot_listings_are_the_same_with_and_without_the_catalog(testenv, monkeypatch):
    view = identity.look_up("alice")
    root = next(r for r in view.roots if r.id == "data")
    files = ["Documents\\notes.txt", "Documents\\report.docx", "Documents\\Archive\\handover.docx",
             "Documents\\Finance\\salaries.xlsx", "Documents\\final.txt", "Documents\\Old Project\\plan.txt"]
    folders = ["", "Documents", "Documents\\Old Project", "Documents\\Archive", "Documents\\Finance"]

    def answers():
        out = {}
        for f in files:
            try:
                out[f] = pv.versions(view.token, root, f)
            except roots.NotFound:
                out[f] = "not found"
        for snapshot in pv.snapshots(root):
            for folder in folders:
                try:
                    out[(folder, snapshot.token)] = pv.list_entries(view.token, root, folder, snapshot)
                except roots.NotFound:
                    out[(folder, snapshot.token)] = "not found"
        return out

    without = answers()
    data_catalog()
    asked = []
    stat_at_many = smb.Client.stat_at_many
    monkeypatch.setattr(smb.Client, "stat_at_many",
                        lambda self, share, path, ats: asked.extend(ats) or stat_at_many(self, share, path, ats))
    assert answers() == without
    assert asked == []  # every snapshot came from the catalog


# --- snapshots of our own, in the bench share ------------------------------------------------------


class BenchTree:
    """A folder of this test's own in the bench share, with alice's subfolder readable by her."""

    def __init__(self, testenv):
        self.testenv = testenv
        self.client = smb.client_for("127.0.0.1")
        self.base = f"cattest-{uuid.uuid4().hex[:8]}"
        self.tokens: list[str] = []
        self.client.makedirs("bench", f"{self.base}\\alice")
        alice = identity.look_up("alice").person.sid
        sd = parse_security_descriptor(self.client.security_descriptor("bench", f"{self.base}\\alice"))
        mine = Ace(ACCESS_ALLOWED_ACE_TYPE, OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE, FILE_ALL_ACCESS, alice)
        self.client.set_security_descriptor("bench", f"{self.base}\\alice", build_security_descriptor(
            SecurityDescriptor(sd.owner, sd.group, (sd.dacl or ()) + (mine,), sd.control)))
        self.source = sources.register(Unc("127.0.0.1", "bench", self.base))

    def path(self, rel: str) -> str:
        return f"{self.base}\\alice\\{rel}" if rel else f"{self.base}\\alice"

    def put(self, rel: str, data: bytes) -> None:
        parent = self.path(rel).rpartition("\\")[0]
        self.client.makedirs("bench", parent)
        with self.client.create_file("bench", self.path(rel), overwrite=True) as handle:
            handle.write(0, data)

    def delete_tree(self, rel: str) -> None:
        """Delete a folder live, over SMB, deepest objects first."""
        disk = self.testenv.share_path("bench") / self.base / "alice" / rel.replace("\\", "/")
        for p in sorted(disk.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            self.client.delete("bench", self.path(f"{rel}\\{p.relative_to(disk)}".replace("/", "\\")))
        self.client.delete("bench", self.path(rel))

    def snapshot(self) -> str:
        time.sleep(1.1)  # one snapshot per second at most: tokens have a resolution of one second
        out = subprocess.run([str(REPO / "scripts" / "testenv"), "bulk", "snapshot"], check=True,
                             capture_output=True, text=True).stdout.split()
        self.tokens.append(out[-1])
        return out[-1]

    def build(self, **kwargs) -> build.Outcome:
        outcome = build.build_source(self.source.id, **kwargs)
        assert not outcome.error and not outcome.busy, outcome
        return outcome

    def dump(self) -> list[tuple]:
        """The catalog as comparable facts: every row with its path and snapshot tokens."""
        tokens = dict(CatalogSnapshot.objects.filter(source=self.source).values_list("index", "token"))
        return sorted(
            (path, is_dir, tokens[first], tokens.get(last), size, last_write, changed, attributes, sha)
            for path, is_dir, first, last, size, last_write, changed, attributes, sha in CatalogVersion.objects.filter(
                entry__source=self.source).values_list("entry__path", "entry__is_dir", "first_idx", "last_idx", "size",
                                                       "last_write", "changed", "attributes", "sd__sha256"))

    def close(self) -> None:
        if self.tokens:
            subprocess.run([str(REPO / "scripts" / "testenv"), "bulk", "drop", *self.tokens], check=True)
        subprocess.run(["rm", "-rf", str(self.testenv.share_path("bench") / self.base)], check=True)


@pytest.fixture
def bench(testenv, settings):
    tree = BenchTree(testenv)
    settings.USER_ROOTS += f";cat=\\\\127.0.0.1\\bench\\{tree.base}\\%USERNAME%"
    yield tree
    tree.close()


def test_a_file_in_a_folder_deleted_after_it_was_catalogued_is_found_with_its_timeline(bench, sign_in):
    bench.put("Project X\\plan.txt", b"phase 1\n")
    bench.put("keep.txt", b"keep\n")
    first = bench.snapshot()
    bench.build()  # the folder still exists: its files' security descriptors are read now
    bench.delete_tree("Project X")
    second = bench.snapshot()
    bench.build()
    alice = sign_in("alice")
    hit = by_path(find(alice, "plan", root="cat"))[("cat", "Project X/plan.txt")]
    assert hit["exists_live"] is False and [v["snapshots"] for v in hit["versions"]] == [[first]]
    timeline = alice.get("/api/v1/roots/cat/versions", {"path": "Project X/plan.txt"})
    assert timeline.status_code == 200
    assert [v["snapshots"] for v in timeline.json()["versions"]] == [[first]]
    assert second not in str(timeline.json())
    CatalogSource.objects.filter(id=bench.source.id).update(enabled=False)
    uncatalogued = alice.get("/api/v1/roots/cat/versions", {"path": "Project X/plan.txt"})
    if samba_version() < (4, 22):  # the server cannot open it inside the deleted folder: nothing to show
        assert uncatalogued.status_code == 404
    else:  # read from the server itself now: the same history
        assert [v["snapshots"] for v in uncatalogued.json()["versions"]] == [[first]]


def test_an_incremental_build_writes_only_what_changed_and_equals_a_build_from_scratch(bench):
    for i in range(6):
        bench.put(f"folder{i}\\a.txt", b"a" * i)
        bench.put(f"folder{i}\\sub\\b.txt", b"b" * i)
    bench.snapshot()
    bench.build()
    bench.put("folder3\\a.txt", b"changed, longer than before")
    newest = bench.snapshot()
    bench.build()
    snap = CatalogSnapshot.objects.get(source=bench.source, token=newest)
    assert snap.state == SnapshotState.DONE and snap.complete
    assert snap.rows_written == 2  # a.txt's old row closed, its new row opened; unchanged folders wrote nothing
    rows = CatalogVersion.objects.filter(entry__path__endswith="folder3\\a.txt", entry__source=bench.source)
    assert rows.count() == 2 and rows.filter(last_idx__isnull=True).get().size == 27
    assert CatalogVersion.objects.filter(entry__path__endswith="folder4\\sub\\b.txt").get().last_idx is None
    incremental = bench.dump()
    build.reset(bench.source)
    bench.build()
    assert bench.dump() == incremental


@pytest.mark.parametrize("group", [1, 3, 64])
def test_changed_folders_written_in_groups_equal_a_build_from_scratch(bench, settings, monkeypatch, group):
    """Groups of changed folders (writes.py) of any size: files changed, added and deleted in many folders,
    a folder deleted (with what is below it), a new folder with a subfolder, a folder back after its
    deletion, in each of two snapshots, in on-change and in every-snapshot mode."""
    monkeypatch.setattr(walk, "GROUP", group)
    for i in range(7):
        bench.put(f"d{i}\\a.txt", b"a")
        bench.put(f"d{i}\\keep.txt", b"k")
        bench.put(f"d{i}\\sub\\b.txt", b"b")
    bench.put("gone\\deep\\x.txt", b"x")
    bench.snapshot()
    for i in range(0, 7, 2):
        bench.put(f"d{i}\\a.txt", b"a, changed")
        bench.put(f"d{i}\\sub\\new.txt", b"new")
    bench.client.delete("bench", bench.path("d1\\keep.txt"))
    bench.delete_tree("gone")
    bench.put("fresh\\inner\\z.txt", b"z")
    second = bench.snapshot()
    bench.put("gone\\deep\\x.txt", b"back")
    bench.put("d3\\a.txt", b"changed in the third")
    bench.delete_tree("d5\\sub")
    third = bench.snapshot()
    for mode in (catalog_models.ACL_ON_CHANGE, catalog_models.ACL_EVERY):
        settings.CATALOG_ACL_CHECK = mode
        build.reset(bench.source)
        bench.build()
        incremental = bench.dump()
        for token in (second, third):
            assert CatalogSnapshot.objects.get(source=bench.source, token=token).complete
        monkeypatch.setattr(walk, "GROUP", 10_000)
        build.reset(bench.source)
        bench.build()
        assert bench.dump() == incremental
        monkeypatch.setattr(walk, "GROUP", group)
    facts = {(row[0].rpartition("alice\\")[2], row[2], row[3]) for row in incremental}
    tokens = bench.tokens
    assert ("d1\\keep.txt", tokens[0], tokens[0]) in facts  # deleted at the second: closed at the first
    assert ("gone\\deep\\x.txt", tokens[0], tokens[0]) in facts and ("gone\\deep\\x.txt", third, None) in facts
    assert ("d5\\sub\\b.txt", tokens[0], second) in facts and ("fresh\\inner\\z.txt", second, None) in facts
    assert ("d2\\a.txt", tokens[0], tokens[0]) in facts and ("d2\\a.txt", second, None) in facts
    assert ("d3\\a.txt", tokens[0], second) in facts and ("d3\\a.txt", third, None) in facts


def test_an_interrupted_build_resumes_where_it_stopped_and_equals_an_uninterrupted_one(bench, monkeypatch):
    # Checkpoints every 2 folders (changed ones are written in groups, unchanged ones marked in batches),
    # so that a crash at the 25th folder has work behind it to keep.
    monkeypatch.setattr(walk, "GROUP", 2)
    monkeypatch.setattr(walk, "FLUSH_FOLDERS", 2)
    for i in range(8):
        bench.put(f"f{i}\\x.txt", b"x")
        bench.put(f"f{i}\\deeper\\y.txt", b"y")
    bench.snapshot()
    bench.put("f5\\x.txt", b"x2")
    bench.put("f9\\new.txt", b"new")
    bench.delete_tree("f2")
    newest = bench.snapshot()
    seen = []

    def crash(path):
        seen.append(path)
        if len(seen) == 25:  # in the second snapshot, part-way through its folders
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError):
        build.build_source(bench.source.id, on_folder=crash)
    snap = CatalogSnapshot.objects.get(source=bench.source, token=newest)
    assert snap.state == SnapshotState.BUILDING and 0 < snap.folders_done
    paused = bench.build(stop_after_folders=2)  # a clean stop keeps its work too
    assert paused.more
    resumed = []
    bench.build(on_folder=resumed.append)
    assert CatalogSnapshot.objects.get(id=snap.id).state == SnapshotState.DONE
    assert len(resumed) < len(seen)  # folders done before the crash were not listed again
    interrupted = bench.dump()
    build.reset(bench.source)
    bench.build()
    assert bench.dump() == interrupted


def test_a_snapshot_removed_from_the_server_leaves_the_search(bench, sign_in):
    bench.put("old.txt", b"old")
    first = bench.snapshot()
    bench.client.delete("bench", bench.path("old.txt"))
    bench.snapshot()
    bench.build()
    alice = sign_in("alice")
    assert [v["snapshots"] for v in by_path(find(alice, "old.txt", root="cat"))[("cat", "old.txt")]["versions"]] == [
        [first]]
    subprocess.run([str(REPO / "scripts" / "testenv"), "bulk", "drop", first], check=True)
    bench.tokens.remove(first)
    bench.build()
    assert CatalogSnapshot.objects.get(source=bench.source, token=first).state == SnapshotState.GONE
    assert find(alice, "old.txt", root="cat")["results"] == []
    assert not CatalogEntry.objects.filter(source=bench.source, path__endswith="old.txt").exists()  # pruned


def test_a_snapshot_thinned_out_of_the_middle_of_the_history_takes_only_its_own_versions(bench):
    bench.put("kept.txt", b"kept")
    bench.put("brief.txt", b"v1")
    before = bench.snapshot()
    bench.put("brief.txt", b"v2, seen in one snapshot only")
    middle = bench.snapshot()
    bench.put("brief.txt", b"v3")
    after = bench.snapshot()
    bench.build()

    def versions(name):
        return sorted(CatalogVersion.objects.filter(entry__source=bench.source, entry__path__endswith="\\" + name)
                      .values_list("size", flat=True))

    assert versions("brief.txt") == [2, 2, len(b"v2, seen in one snapshot only")]
    subprocess.run([str(REPO / "scripts" / "testenv"), "bulk", "drop", middle], check=True)
    bench.tokens.remove(middle)
    bench.build()
    assert versions("brief.txt") == [2, 2]  # v1 (before) and v3 (after) stay, v2 goes with its snapshot
    assert versions("kept.txt") == [4]  # one row over before..after, the gap inside it changes nothing
    assert {before, after} <= set(CatalogSnapshot.objects.filter(source=bench.source, state=SnapshotState.DONE)
                                  .values_list("token", flat=True))


def test_a_snapshot_older_than_the_catalogued_history_makes_the_source_catalogued_again(bench):
    bench.put("a.txt", b"now")
    newer = bench.snapshot()
    bench.build()
    out = subprocess.run([str(REPO / "scripts" / "testenv"), "bulk", "snapshot", "--at", "2020-01-01T00:00:00Z"],
                         check=True, capture_output=True, text=True).stdout.split()
    bench.tokens.append(out[-1])  # a back-dated snapshot appears below the catalogued ones
    bench.build()
    states = dict(CatalogSnapshot.objects.filter(source=bench.source).values_list("token", "state"))
    assert states[out[-1]] == states[newer] == SnapshotState.DONE
    indices = dict(CatalogSnapshot.objects.filter(source=bench.source).values_list("token", "index"))
    assert indices[out[-1]] < indices[newer]  # in time order again
    rows = CatalogVersion.objects.filter(entry__source=bench.source, entry__path__endswith="\\a.txt")
    holding = {token for token, i in indices.items() for r in rows
               if r.first_idx <= i and (r.last_idx is None or i <= r.last_idx)}
    assert holding == {out[-1], newer}  # (other tests' snapshots of the bench share may lie in between)


def test_the_catalog_of_a_snapshot_answers_the_timeline_lookup_for_covered_snapshots_only(bench):
    bench.put("a.txt", b"1")
    first = bench.snapshot()
    bench.build()
    bench.put("a.txt", b"22")
    second = bench.snapshot()  # not catalogued yet
    where = Unc("127.0.0.1", "bench", bench.path("a.txt"))
    snaps = [smb.Snapshot.from_token(second), smb.Snapshot.from_token(first)]
    known = lookup.history(where, snaps)
    assert list(known) == [snaps[1].at] and known[snaps[1].at].size == 1 and known[snaps[1].at].sd


# --- building on schedule and on demand, and what administrators see ------------------------------


def until(condition, seconds: float = 180) -> bool:
    """Polls ``condition`` (a real worker is doing the work) until it holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_refresh_registers_the_configured_shares_and_a_real_worker_builds_them(testenv, worker):
    from restore.catalog import tasks as catalog_tasks

    ids = catalog_tasks.refresh_catalogs()  # as the beat runs it: queued on the broker, not run here
    registered = {(s.server, s.share, s.path): s.id for s in CatalogSource.objects.filter(id__in=ids)}
    assert {("127.0.0.1", "profiles", ""), ("127.0.0.1", "data", "")} <= set(registered)
    assert until(lambda: CatalogSource.objects.filter(id__in=ids, last_run_at__isnull=True).count() == 0), (
        f"the worker built {CatalogSource.objects.filter(id__in=ids).exclude(last_run_at=None).count()} of "
        f"{len(ids)} queued sources in time; its log: {worker.log_dir}")
    for share, root in (("data", "data"), ("profiles", "profile")):
        history = [generation(testenv, root, n).token for n in (T1, T2, T3)]
        built = CatalogSnapshot.objects.filter(source_id=registered[("127.0.0.1", share, "")], token__in=history)
        assert sorted(built.filter(state=SnapshotState.DONE).values_list("token", flat=True)) == history, share
    assert CatalogEntry.objects.filter(source_id=registered[("127.0.0.1", "data", "")],
                                       path__iendswith="documents\\notes.txt").exists()
    sid = identity.look_up("alice").person.sid  # what is inside each profile container is a source too
    inside = registered[("127.0.0.1", "fslogix", f"{sid}_alice\\Profile_alice.vhdx")]
    assert CatalogEntry.objects.filter(source_id=inside, path__iendswith="\\documents\\report.docx").exists()
    assert ("127.0.0.1", "fslogix", "") not in registered  # the container share's VHDX files are not


def test_progress_is_shown_to_administrators_only(client, django_user_model, sign_in):
    source = data_catalog()
    admin = django_user_model.objects.create_superuser("root-admin", "", "a-long-admin-password-1")
    client.force_login(admin)
    page = client.get("/catalog/")
    assert page.status_code == 200 and "\\\\127.0.0.1\\data" in page.content.decode()
    api = client.get("/api/v1/catalog").json()
    row = next(r for r in api if r["id"] == source.id)
    assert row["snapshots"]["done"] >= 3 and row["current"] is None
    assert client.get(f"/admin/restore/catalogsource/{source.id}/change/").status_code == 200
    assert client.post("/api/v1/catalog/999999/build").status_code == 404
    client.logout()
    alice = sign_in("alice")
    assert alice.get("/catalog/").status_code == 302  # to the admin sign-in
    assert alice.get("/api/v1/catalog").status_code == 403
    assert alice.post(f"/api/v1/catalog/{source.id}/build").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_build_queued_on_demand_runs_in_a_real_worker(bench, client, django_user_model, worker):
    bench.put("worker.txt", b"w")
    bench.snapshot()
    admin = django_user_model.objects.create_superuser("root-admin2", "", "a-long-admin-password-2")
    client.force_login(admin)
    assert client.post(f"/api/v1/catalog/{bench.source.id}/build").status_code == 202
    assert until(lambda: CatalogEntry.objects.filter(source=bench.source, path__endswith="worker.txt").exists(), 120), (
        f"the worker did not catalogue worker.txt in time; its log: {worker.log_dir}")
    assert CatalogSnapshot.objects.filter(source=bench.source, token=bench.tokens[-1],
                                          state=SnapshotState.DONE).exists()
