"""Previous Versions through the API and the pages, against the real Samba shares.

The oracle is the file system behind the share: each snapshot is a directory in the share's
snapdir, so what the portal answers is compared with what is on disk for that snapshot."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.samba import opens_inside_deleted_folders

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

TEAM_ROOT = "team=\\\\127.0.0.1\\data\\alice\\Documents\\Finance"


def snapshot_dirs(testenv, share="data") -> list[Path]:
    """The snapshots on disk, newest first."""
    return sorted((p for p in testenv.snapdir(share).iterdir() if p.name.startswith("@GMT-")),
                  key=lambda p: p.name, reverse=True)


def token_time(token: str) -> str:
    return datetime.strptime(token, "@GMT-%Y.%m.%d-%H.%M.%S").replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def get(client, url, **params):
    return client.get(url, params)


def api(client, root, what, **params):
    return client.get(f"/api/v1/roots/{root}/{what}", params)


def test_roots_are_the_persons_profile_and_data_folders(alice):
    roots = {r["kind"]: r for r in alice.get("/api/v1/roots").json()}
    assert set(roots) == {"profile", "data", "profile-container", "office-container"}
    assert roots["data"]["unc"] == "\\\\127.0.0.1\\data\\alice"


def test_snapshots_are_listed_newest_first_in_utc_matching_the_server(testenv, alice):
    on_disk = [p.name for p in snapshot_dirs(testenv)]
    answer = api(alice, "data", "snapshots").json()
    assert [s["id"] for s in answer] == on_disk
    assert [s["at"] for s in answer] == [token_time(t) for t in on_disk]
    assert len(answer) >= 3


def test_a_new_snapshot_appears_once_the_cache_expires(testenv, alice, settings):
    before = len(api(alice, "data", "snapshots").json())
    token = testenv.snapshot("data")
    from django.core.cache import cache

    cache.clear()  # the short TTL (SNAPSHOT_CACHE_SECONDS) elapsed
    after = api(alice, "data", "snapshots").json()
    assert len(after) == before + 1 and after[0]["id"] == token


def listing(client, root, path, at=None):
    params = {"path": path}
    if at:
        params["at"] = at
    response = api(client, root, "entries", **params)
    assert response.status_code == 200, response.content
    return {e["name"]: e for e in response.json()["entries"]}


def test_folder_at_each_snapshot_equals_that_snapshots_tree(testenv, alice):
    for snap in snapshot_dirs(testenv):
        on_disk = {p.name for p in (snap / "alice" / "Documents").iterdir()}
        shown = listing(alice, "data", "Documents", snap.name)
        assert set(shown) == on_disk  # alice may read everything in her Documents in every snapshot


def test_deleted_folder_is_listed_in_the_old_snapshot_and_marked_deleted_since(testenv, alice):
    oldest = snapshot_dirs(testenv)[-1].name
    assert "Old Project" not in listing(alice, "data", "Documents")
    old = listing(alice, "data", "Documents", oldest)
    assert old["Old Project"]["kind"] == "folder" and old["Old Project"]["exists_live"] is False
    assert old["notes.txt"]["exists_live"] is True
    assert old["draft.txt"]["exists_live"] is False  # renamed since
    assert api(alice, "data", "entries", path="Documents/Old Project").status_code == 404


@opens_inside_deleted_folders
def test_inside_a_deleted_folder_the_old_snapshot_lists_its_files(testenv, alice):
    oldest = snapshot_dirs(testenv)[-1].name
    inside = listing(alice, "data", "Documents/Old Project", oldest)
    assert set(inside) == {p.name for p in (testenv.snapdir("data") / oldest / "alice/Documents/Old Project").iterdir()}
    assert all(e["exists_live"] is False for e in inside.values())


def test_entries_carry_name_kind_size_and_last_write(testenv, alice):
    notes = listing(alice, "data", "Documents")["notes.txt"]
    stat = (testenv.share_path("data") / "alice/Documents/notes.txt").stat()
    assert notes["kind"] == "file" and notes["size"] == stat.st_size
    assert datetime.fromisoformat(notes["last_write"].replace("Z", "+00:00")).timestamp() == pytest.approx(
        stat.st_mtime, abs=1e-3)


def test_timeline_has_one_row_per_distinct_version_with_the_live_copy(testenv, alice):
    rows = api(alice, "data", "versions", path="Documents/notes.txt").json()["versions"]
    files = [testenv.share_path("data") / "alice/Documents/notes.txt"] + [
        s / "alice/Documents/notes.txt" for s in snapshot_dirs(testenv)]
    distinct = {(f.stat().st_size, int(f.stat().st_mtime_ns // 1000)) for f in files if f.exists()}
    assert len(rows) == len(distinct)
    assert rows[0]["live"] is True and rows[0]["at"] == "live"
    assert [r["last_write"] for r in rows] == sorted((r["last_write"] for r in rows), reverse=True)


def test_unchanged_file_collapses_to_one_row_holding_every_snapshot(testenv, alice):
    rows = api(alice, "data", "versions", path="Documents/Budget 2026.xlsx").json()["versions"]
    assert len(rows) == 1 and rows[0]["live"]
    assert rows[0]["snapshots"] == [s.name for s in snapshot_dirs(testenv)
                                    if (s / "alice/Documents/Budget 2026.xlsx").exists()]


def test_timeline_of_a_deleted_file_shows_the_versions_from_before_the_deletion(testenv, alice):
    rows = api(alice, "data", "versions", path="Documents/report.docx").json()["versions"]
    assert rows and not any(r["live"] for r in rows)
    holding = [s.name for s in snapshot_dirs(testenv) if (s / "alice/Documents/report.docx").exists()]
    assert sorted(t for r in rows for t in r["snapshots"]) == sorted(holding)


def test_content_at_each_snapshot_is_that_snapshots_bytes(testenv, alice):
    for snap in snapshot_dirs(testenv):
        response = api(alice, "data", "content", path="Documents/notes.txt", at=snap.name)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == (snap / "alice/Documents/notes.txt").read_bytes()
        assert 'attachment; filename="notes.txt"' == response["Content-Disposition"]
    live = api(alice, "data", "content", path="Documents/notes.txt")
    assert b"".join(live.streaming_content) == (testenv.share_path("data") / "alice/Documents/notes.txt").read_bytes()


def test_large_file_is_streamed_in_chunks_and_intact(testenv, alice):
    response = api(alice, "data", "content", path="Documents/big.log")
    chunks = list(response.streaming_content)
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 4 * 1024 * 1024
    on_disk = (testenv.share_path("data") / "alice/Documents/big.log").read_bytes()
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == hashlib.sha256(on_disk).hexdigest()
    assert int(response["Content-Length"]) == len(on_disk)


def test_preview_is_inline_only_for_harmless_types(alice):
    text = api(alice, "data", "content", path="Documents/notes.txt", disposition="inline")
    assert text["Content-Disposition"].startswith("inline") and text["Content-Type"].startswith("text/plain")
    image = api(alice, "data", "content", path="Pictures/IMG_0001.jpg", disposition="inline")
    assert image["Content-Disposition"].startswith("inline") and image["Content-Type"] == "image/jpeg"
    doc = api(alice, "data", "content", path="Documents/report.docx", disposition="inline",
              at=api(alice, "data", "versions", path="Documents/report.docx").json()["versions"][0]["at"])
    assert doc["Content-Disposition"].startswith("attachment")
    assert "sandbox" in text["Content-Security-Policy"]


def test_file_readable_only_in_an_old_snapshot_shows_only_those_versions(testenv, alice):
    rows = api(alice, "data", "versions", path="Documents/Archive/handover.docx").json()["versions"]
    assert rows and not any(r["live"] for r in rows)
    assert api(alice, "data", "content", path="Documents/Archive/handover.docx").status_code == 404
    assert api(alice, "data", "content", path="Documents/Archive/handover.docx", at=rows[0]["at"]).status_code == 200
    assert "handover.docx" not in listing(alice, "data", "Documents/Archive")
    assert "handover.docx" in listing(alice, "data", "Documents/Archive", rows[0]["at"])


BAD_PATHS = ["..", "../bob", "Documents/../../bob", "/etc/passwd", "\\Documents", "\\\\127.0.0.1\\data\\bob",
             "C:\\Windows", "@GMT-2026.01.01-00.00.00/notes.txt", "Documents\x00", "Documents/notes.txt:Zone.Identifier",
             "CON", "Documents/aux.txt", "a" * 300, "Documents//notes.txt"]


@pytest.mark.parametrize("bad", BAD_PATHS)
@pytest.mark.parametrize("what", ["entries", "versions", "content"])
def test_unsafe_paths_get_400_with_a_reason_and_touch_nothing(alice, bad, what):
    from restore.models import AuditEvent

    before = AuditEvent.objects.count()
    response = api(alice, "data", what, path=bad)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert AuditEvent.objects.count() == before


def test_bad_at_gets_400_and_an_unknown_snapshot_404(alice):
    assert api(alice, "data", "entries", path="Documents", at="yesterday").status_code == 400
    # a token's shape but no date, and a time no year can hold: 400, not a server error
    for impossible in ("@GMT-2026.13.45-25.61.61", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"):
        response = api(alice, "data", "entries", path="Documents", at=impossible)
        assert response.status_code == 400 and response.json()["detail"], impossible
    assert api(alice, "data", "entries", path="Documents", at="@GMT-1999.01.01-00.00.00").status_code == 404


def test_alice_cannot_reach_bobs_files_by_any_root(alice):
    for root in ("bob", "home", "team", "data2", "..", "profile%2F..%2Fbob"):
        assert api(alice, root, "entries").status_code == 404
    names = set(listing(alice, "data", ""))
    assert "bob" not in names


def test_another_users_folder_is_404_not_403_and_names_do_not_leak(settings, sign_in, testenv):
    settings.USER_ROOTS = settings.USER_ROOTS + ";" + TEAM_ROOT
    carol = sign_in("carol")  # not in Finance: the team folder's ACL does not let her list it
    response = api(carol, "team", "entries")
    assert response.status_code == 404
    assert b"salaries" not in response.content and b"forecast" not in response.content


def test_explicit_deny_hides_the_file_from_the_denied_user_only(settings, sign_in, client, testenv):
    settings.USER_ROOTS = settings.USER_ROOTS + ";" + TEAM_ROOT
    bob = sign_in("bob")
    bob_sees = listing(bob, "team", "")
    assert "forecast.xlsx" in bob_sees and "salaries.xlsx" not in bob_sees
    assert api(bob, "team", "content", path="salaries.xlsx").status_code == 404
    assert api(bob, "team", "versions", path="salaries.xlsx").status_code == 404
    from django.test import Client

    other = Client()
    other.post("/signin/", {"username": "alice", "password": testenv.password})
    assert "salaries.xlsx" in listing(other, "team", "")


def test_denied_access_is_audited_but_answers_like_missing(settings, sign_in):
    from restore.models import AuditEvent

    settings.USER_ROOTS = settings.USER_ROOTS + ";" + TEAM_ROOT
    bob = sign_in("bob")
    assert api(bob, "team", "content", path="salaries.xlsx").status_code == 404
    assert api(bob, "team", "content", path="no-such-file.xlsx").status_code == 404
    denied = AuditEvent.objects.filter(action="access_denied", actor_username="bob")
    assert list(denied.values_list("path", flat=True)) == ["salaries.xlsx"]


def test_listing_at_a_snapshot_and_timeline_and_download_are_audited(testenv, alice):
    from restore.models import AuditEvent

    oldest = snapshot_dirs(testenv)[-1].name
    listing(alice, "data", "Documents", oldest)
    api(alice, "data", "versions", path="Documents/notes.txt")
    b"".join(api(alice, "data", "content", path="Documents/notes.txt", at=oldest).streaming_content)
    actions = list(AuditEvent.objects.filter(actor_username="alice").exclude(action="sign_in")
                   .values_list("action", "path", "snapshot"))
    assert actions == [("list", "Documents", oldest), ("timeline", "Documents\\notes.txt", ""),
                       ("download", "Documents\\notes.txt", oldest)]


def test_pages_show_the_folder_at_a_snapshot_and_the_timeline(testenv, alice):
    oldest = snapshot_dirs(testenv)[-1].name
    page = alice.get("/roots/data/", {"path": "Documents", "at": oldest})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Old Project" in html and "deleted since" in html
    timeline = alice.get("/roots/data/file", {"path": "Documents/notes.txt"}).content.decode()
    assert "Current file" in timeline and "Download" in timeline
    assert alice.get("/roots/data/", {"path": "../bob"}).status_code == 400
    assert alice.get("/roots/bob/").status_code == 404


def test_auditors_cannot_browse_files(sign_in):
    auditor = sign_in("auditor1")
    assert auditor.get("/api/v1/roots").status_code == 403
    assert api(auditor, "data", "entries").status_code == 403
    assert auditor.get("/roots/data/").status_code == 403
