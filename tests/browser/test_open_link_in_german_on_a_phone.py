"""alice, away from her desk, taps the intranet's "Restore previous versions" link for her notes on
her phone, whose browser speaks German: the link (/open?unc=\\\\127.0.0.1\\data\\alice\\Documents\\notes.txt)
opens her file's timeline, in German, and the restore dialog, in German, is usable with a thumb;
a link to bob's folder is 404. Every page is saved per size and checked with axe."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from restore.models import RestoreJob

from .conftest import Screens

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.samba]

GERMAN_SIGN_IN = ("Anmelden", "Benutzername", "Kennwort", "Abmelden")
NOTES = "\\\\127.0.0.1\\data\\alice\\Documents\\notes.txt"


def test_alice_opens_the_link_to_her_notes_on_a_german_phone(portal, testenv):
    screens = Screens(first=40, size="phone")
    page = portal("alice", screens, "Europe/Berlin", locale="de-DE", sign_in=GERMAN_SIGN_IN)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hallo")
    assert page.evaluate("document.documentElement.lang") == "de"

    page.goto(f"/open?unc={NOTES}")
    expect(page.get_by_role("heading", name="notes.txt", level=1)).to_be_visible()
    expect(page.get_by_text("Jede aufbewahrte Version dieser Datei, neueste zuerst.")).to_be_visible()
    expect(page.get_by_role("region", name="Dateien, die zu notes.txt gehören")).to_be_visible()
    screens.saw(page, "alice-opened-link-to-notes-in-german")

    page.get_by_role("link", name="Wiederherstellen…").last.click()  # the oldest version
    expect(page.get_by_role("heading", name="Was diese Wiederherstellung tun wird")).to_be_visible()
    start = page.get_by_role("button", name="Wiederherstellung starten")
    expect(start).to_be_visible()
    box, screen = start.bounding_box(), page.viewport_size
    assert box["y"] + box["height"] <= screen["height"] and box["width"] >= screen["width"] * 0.8, \
        "the start button sits at the bottom of the phone's screen, full width, where a thumb reaches it"
    screens.saw(page, "alice-restore-dialog-in-german")
    assert not RestoreJob.objects.exists()

    response = page.goto("/open?unc=\\\\127.0.0.1\\data\\bob\\Documents")
    assert response.status == 404
    screens.saw(page, "alice-link-to-bobs-folder-404")
    screens.assert_accessible()
