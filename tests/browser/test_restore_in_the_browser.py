"""alice gets her notes back from three weeks ago in a real browser, and auditor1 finds that restore
in the trail and in its CSV export.

alice signs in, opens her Documents as they were at the oldest snapshot, opens notes.txt's
timeline, previews the old version, compares it with the current file, opens the restore dialog, sees the plan with the related
desktop.ini and why it comes along, restores alongside and watches a real Celery worker finish
the job. The restored bytes on the share are the snapshot's.
"""

from __future__ import annotations

import csv
import json
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from restore.models import JobState, RestoreItem, RestoreJob
from tests.support.history import generation, on_disk, top_of

from .conftest import SIZES, Screens

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.samba]

NOTES_THEN = "- call the bank"  # notes.txt at the oldest snapshot (scripts/testenv_files.py) ...
NOTES_LATER = "- book the venue"  # ... and a line added after it
ALICES_ZONE = "Europe/Berlin"  # her browser's: times show in it (as en-GB writes dates), UTC on hover
DESKTOP_INI_REASON = "desktop.ini gives the folder its icon and display name"  # restore/related_rules.toml


def in_time(when) -> str:
    """A row's <time> for a snapshot (the page may show it in local time; the attribute stays UTC)."""
    return f"time[datetime='{when.isoformat()}']"


def settled(page: Page) -> None:
    """The timeline has loaded its related files (htmx, after the page) and alice scrolls back up to the
    versions: until she does, the browser keeps the #preview or #diff it jumped to in view while the page
    still grows, so the versions table moves under the pointer and a click could land beside its link."""
    expect(page.get_by_role("region", name="Files that belong with notes.txt")).to_be_visible()
    page.mouse.wheel(0, -10_000)
    page.wait_for_function("window.scrollY === 0")


def alice_restores_her_old_notes(page: Page, screens: Screens, oldest) -> RestoreJob:
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
    expect(page.get_by_role("link", name="Profile", exact=True)).to_be_visible()

    screens.follow(page, "Data", heading="Data", what="alice-data-now")
    screens.follow(page, "Documents", heading="Documents", what="alice-documents-now")
    expect(page.get_by_role("link", name="notes.txt", exact=True)).to_be_visible()

    page.get_by_label("Show this folder as it was").select_option(oldest.token)
    shown = page.get_by_role("heading", level=1).locator(in_time(oldest.at))
    expect(shown).to_have_attribute("title", oldest.at.strftime("%Y-%m-%d %H:%M UTC"))
    expect(shown).to_contain_text(oldest.at.astimezone(ZoneInfo(ALICES_ZONE)).strftime("%d/%m/%Y, %H:%M"))
    old_project = page.get_by_role("row").filter(has=page.get_by_role("link", name="Old Project", exact=True))
    expect(old_project).to_contain_text("deleted since")
    screens.saw(page, "alice-documents-at-oldest-snapshot")

    page.get_by_role("link", name="notes.txt", exact=True).click()
    expect(page.get_by_role("heading", name="notes.txt", level=1)).to_be_visible()
    related = page.get_by_role("region", name="Files that belong with notes.txt")
    expect(related.get_by_role("listitem").filter(has_text="desktop.ini")).to_contain_text(DESKTOP_INI_REASON)
    screens.saw(page, "alice-notes-timeline")

    then = page.get_by_role("row").filter(has=page.locator(in_time(oldest.at)))
    then.get_by_role("link", name="Preview").click()
    preview = page.get_by_title("Preview of notes.txt").content_frame
    expect(preview.get_by_text(NOTES_THEN)).to_be_visible()
    expect(preview.get_by_text(NOTES_LATER)).to_have_count(0)
    screens.saw(page, "alice-notes-preview-of-oldest")

    settled(page)
    then = page.get_by_role("row").filter(has=page.locator(in_time(oldest.at)))
    then.get_by_role("link", name="Compare with current").click()
    changes = page.locator("#diff")
    expect(changes.get_by_role("heading", name="Changes from the version of")).to_be_visible()
    expect(changes.locator("tr.added").filter(has_text=NOTES_LATER)).to_have_count(1)
    expect(changes.locator("tr.context").filter(has_text=NOTES_THEN)).to_have_count(1)
    screens.saw(page, "alice-notes-compared-with-current")

    settled(page)
    then = page.get_by_role("row").filter(has=page.locator(in_time(oldest.at)))
    then.get_by_role("link", name="Restore…").click()
    expect(page.get_by_role("heading", name="What this restore will do")).to_be_visible()
    offered = page.get_by_role("group", name="Files that belong with it")
    expect(offered.get_by_role("checkbox", name="desktop.ini")).to_be_checked()
    plan = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="What happens"))
    expect(plan.get_by_role("row").filter(has_text="desktop.ini")).to_contain_text(DESKTOP_INI_REASON)
    expect(plan.get_by_role("row").filter(has_text="notes.txt")).to_contain_text("notes (restored ")
    assert not RestoreJob.objects.exists()  # showing the plan wrote nothing
    page.get_by_role("radio", name="Alongside the original").check()
    screens.saw(page, "alice-restore-dialog-plan")

    page.get_by_role("button", name="Start restore").click()
    expect(page.get_by_role("progressbar", name="Restore progress")).to_be_visible()
    screens.saw(page, "alice-job-started")
    expect(page.locator("#progress strong").first).to_have_text("Done")  # htmx polls the job the worker runs
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    screens.saw(page, "alice-job-done")
    return RestoreJob.objects.get()


@pytest.mark.parametrize("size", SIZES)
def test_alice_restores_a_file_with_its_related_files_and_the_auditor_finds_it(
        size, portal, worker, testenv, cleanup):
    oldest = generation(testenv, "data", 0)
    alice_screens = Screens(first=1, size=size)
    try:
        job = alice_restores_her_old_notes(portal("alice", alice_screens, ALICES_ZONE), alice_screens, oldest)
    finally:  # whatever the worker restored goes, even when the page did not show it
        cleanup.extend({("data", top_of(i.target_path, i.path)) for i in RestoreItem.objects.exclude(target_path="")})
    items = list(job.items.order_by("seq"))
    assert job.state == JobState.DONE
    assert {i.path for i in items} >= {"Documents\\notes.txt", "Documents\\desktop.ini"}
    for item in items:  # what is on the share now is what the snapshot held
        assert item.verified, item.path
        assert on_disk(testenv, "data", item.target_path, None).read_bytes() == \
            on_disk(testenv, "data", item.path, oldest).read_bytes(), item.path
    notes = next(i for i in items if i.path == "Documents\\notes.txt")

    auditor_screens = Screens(first=20, size=size)
    page = portal("auditor1", auditor_screens)
    auditor_screens.follow(page, "Audit trail", heading="Audit trail", what="auditor-trail")
    page.get_by_label("Person").fill("alice")
    page.get_by_label("Action").select_option("restore_item")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"person=alice.*action=restore_item"))
    rows = page.get_by_role("row").filter(has_text="restore_item")
    expect(rows.filter(has_text="data:Documents\\notes.txt")).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="sign_in")).to_have_count(0)
    auditor_screens.saw(page, "auditor-trail-alice-restores")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    with open(download.value.path(), newline="", encoding="utf-8") as exported:
        records = list(csv.DictReader(exported))
    assert records and {(r["actor"], r["action"]) for r in records} == {("alice", "restore_item")}
    (row,) = [r for r in records if r["path"] == "Documents\\notes.txt"]
    details = json.loads(row["details"])
    # '@GMT-...' would start a spreadsheet formula: the export writes it as text, with a leading quote
    assert (row["root"], row["snapshot"], row["result"]) == ("data", "'" + oldest.token, "ok")
    assert details["job"] == str(job.id) and details["sha256_target"] == notes.sha256_target

    alice_screens.assert_accessible()
    auditor_screens.assert_accessible()
