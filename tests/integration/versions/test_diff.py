"""Comparing a version with the current file, through the API and the timeline page, against the
real shares. The oracle is the file system behind the share: the snapshot's copy and the live copy
on disk."""

from __future__ import annotations

import pytest

from restore.models import AuditEvent
from tests.support.acting import acting_helpdesk1
from tests.support.history import generation, on_disk

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


def diff(client, **params):
    return client.get("/api/v1/roots/data/diff", params)


def test_a_text_version_is_compared_line_by_line_with_the_live_copy(testenv, alice):
    t1 = generation(testenv, "data", 0)
    then = on_disk(testenv, "data", "Documents/notes.txt", t1).read_text().splitlines()
    now = on_disk(testenv, "data", "Documents/notes.txt", None).read_text().splitlines()
    response = diff(alice, path="Documents/notes.txt", at=t1.token)
    assert response.status_code == 200
    body = response.json()
    assert (body["old"], body["new"], body["state"]) == (t1.token, "live", "different")
    added = [line["text"] for line in body["lines"] if line["kind"] == "added"]
    removed = [line["text"] for line in body["lines"] if line["kind"] == "removed"]
    assert added == [line for line in now if line not in then] and body["added"] == len(added)
    assert removed == [line for line in then if line not in now] and body["removed"] == len(removed)
    for line in body["lines"]:  # line numbers point at the line in each version
        if line["old_no"]:
            assert then[line["old_no"] - 1] == line["text"]
        if line["new_no"]:
            assert now[line["new_no"] - 1] == line["text"]
    event = AuditEvent.objects.filter(action="preview", actor_username="alice").latest("id")
    assert event.snapshot == t1.token and event.details["diff_against"] == "live"


def test_two_snapshots_can_be_compared_and_unchanged_ones_are_identical(testenv, alice):
    t1, t2 = generation(testenv, "data", 0), generation(testenv, "data", 1)
    body = diff(alice, path="Documents/notes.txt", at=t1.token, against=t2.token).json()
    assert body["state"] == "different" and body["new"] == t2.token
    assert [line["text"] for line in body["lines"] if line["kind"] == "added"] == ["- book the venue"]
    same = diff(alice, path="Documents/Budget 2026.xlsx", at=t1.token).json()
    assert (same["state"], same["lines"]) == ("identical", [])


def test_binary_deleted_and_too_large_files_say_why_there_are_no_lines(testenv, alice, settings):
    t1, t2 = generation(testenv, "data", 0), generation(testenv, "data", 1)
    assert diff(alice, path="Documents/Finance/forecast.xlsx", at=t1.token).json()["state"] == "binary"
    assert diff(alice, path="Documents/report.docx", at=t2.token).json()["state"] == "deleted"
    settings.DIFF_MAX_BYTES = 8
    assert diff(alice, path="Documents/notes.txt", at=t1.token).json()["state"] == "too-large"


def test_bad_requests_get_400_and_other_peoples_files_404(testenv, alice):
    t1 = generation(testenv, "data", 0)
    assert diff(alice, path="Documents/notes.txt").status_code == 400  # no version chosen
    assert diff(alice, path="Documents/notes.txt", at="yesterday").status_code == 400
    assert diff(alice, path="../bob/Documents/bob-notes.txt", at=t1.token).status_code == 400
    assert diff(alice, path="Documents/notes.txt", at=t1.token, against="soon").status_code == 400
    assert alice.get("/api/v1/roots/bob/diff", {"path": "Documents/bob-notes.txt", "at": t1.token}).status_code == 404
    # readable at T1 only: the current copy's ACL shuts alice out, so there is nothing to compare with
    assert diff(alice, path="Documents/Archive/handover.docx", at=t1.token).json()["state"] == "deleted"


def test_content_blind_helpdesk_may_not_compare(helpdesk1, testenv, settings):
    settings.HELPDESK_CONTENT_BLIND = True
    acting_helpdesk1(helpdesk1)
    t1 = generation(testenv, "data", 0)
    assert diff(helpdesk1, path="Documents/notes.txt", at=t1.token).status_code == 403
    page = helpdesk1.get("/roots/data/file", {"path": "Documents/notes.txt", "diff": t1.token})
    assert page.status_code == 403


def test_the_timeline_page_offers_the_comparison_and_shows_it(testenv, alice):
    t1 = generation(testenv, "data", 0)
    timeline = alice.get("/roots/data/file", {"path": "Documents/notes.txt"}).content.decode()
    assert "Compare with current" in timeline and "Restore…" in timeline
    page = alice.get("/roots/data/file", {"path": "Documents/notes.txt", "diff": t1.token}).content.decode()
    assert 'id="diff"' in page and '<tr class="added">' in page and "- send invoices" in page
    assert alice.get("/roots/data/file", {"path": "Documents/notes.txt", "diff": "nope"}).status_code == 400
