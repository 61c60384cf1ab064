"""helpdesk1 acts for bob in a real browser: finds him on the Helpdesk page, starts acting with a
ticket and a reason, sees the banner on every page, browses bob's folder with bob's rights, stops."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from restore.models import ActingFor, AuditEvent

from .conftest import SIZES, Screens

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.samba]

TICKET, REASON = "INC0042424", "bob lost last week's notes"


@pytest.mark.parametrize("size", SIZES)
def test_helpdesk1_acts_for_bob_with_a_ticket_and_stops(size, portal):
    screens = Screens(first=30, size=size)
    page = portal("helpdesk1", screens)
    screens.follow(page, "Helpdesk", heading="Act for a user", what="helpdesk-search")

    page.get_by_label("Find a user by name, user name or mail address").fill("bob")
    page.get_by_role("button", name="Search").click()
    # the row whose user name is bob (on a phone the cells carry their column's name before them)
    bob = page.locator("tr").filter(has=page.locator("td", has_text=re.compile(r"^\s*bob\s*$")))
    expect(bob).to_have_count(1)
    bob.get_by_text("Act for bob").click()  # opens the row's <details>
    bob.get_by_label("Ticket").fill(TICKET)
    bob.get_by_label("Reason").fill(REASON)
    screens.saw(page, "helpdesk-found-bob")

    bob.get_by_role("button", name="Start acting for bob").click()
    banner = page.get_by_role("status").filter(has=page.get_by_role("button", name="Stop acting"))
    expect(banner).to_contain_text("Acting for Bob")
    expect(banner).to_contain_text(f"ticket {TICKET}")
    expect(page.get_by_role("heading", name="You act for")).to_contain_text("(bob)")
    acting = ActingFor.objects.get(actor_username="helpdesk1", ended_at=None)
    assert (acting.target_username, acting.ticket, acting.reason) == ("bob", TICKET, REASON)
    screens.saw(page, "helpdesk-acting-for-bob")

    screens.follow(page, "My files", heading="Hello", what="helpdesk-bobs-folders")
    expect(banner).to_be_visible()
    screens.follow(page, "Data", heading="Data", what="helpdesk-bobs-data")
    screens.follow(page, "Documents", heading="Documents", what="helpdesk-bobs-documents")
    expect(page.get_by_role("link", name="bob-notes.txt", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="notes.txt", exact=True)).to_have_count(0)  # alice's, not bob's
    expect(banner).to_contain_text("(bob)")

    banner.get_by_role("button", name="Stop acting").click()
    expect(page.get_by_role("status").filter(has_text="You no longer act for bob")).to_be_visible()
    expect(banner).to_have_count(0)
    screens.saw(page, "helpdesk-stopped")
    acting.refresh_from_db()
    assert acting.ended_at is not None
    started = AuditEvent.objects.get(action="act_for_start", actor_username="helpdesk1")
    assert started.acting_for_username == "bob" and started.details["acting_for_id"] == str(acting.id)

    screens.assert_accessible()
