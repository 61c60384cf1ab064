"""Explorer's "Restore previous versions" link, /open?unc=\\\\server\\share\\path, and its API twin
GET /api/v1/resolve?unc=: a path in one of the person's roots opens its folder page or the file's
timeline; anything else (another person's folder, a share without a root, '..' climbing out) is
404, the same answer whether it exists or not. Role x person x content-blind."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support.acting import acting_helpdesk1

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

ALICE = "\\\\127.0.0.1\\data\\alice"
BOB = "\\\\127.0.0.1\\data\\bob"


def opened(client: Client, unc: str):
    return client.get("/open", {"unc": unc})


@pytest.mark.parametrize("unc, where", [
    (ALICE, "/roots/data/"),
    (ALICE + "\\Documents\\Finance", "/roots/data/?path=Documents%2FFinance"),
    (ALICE + "\\Documents\\notes.txt", "/roots/data/file?path=Documents%2Fnotes.txt"),
    ("\\\\127.0.0.1\\DATA\\Alice\\documents\\", "/roots/data/?path=documents"),  # Windows compares names so
    ("//127.0.0.1/data/alice/Documents/notes.txt", "/roots/data/file?path=Documents%2Fnotes.txt"),
    ("file://127.0.0.1/data/alice/Documents", "/roots/data/?path=Documents"),
    ('"\\\\127.0.0.1\\profiles\\alice.V6\\AppData"', "/roots/profile/?path=AppData"),  # quoted, as %1 often is
    (ALICE + "\\Documents\\Old Project", "/roots/data/file?path=Documents%2FOld+Project"),  # gone: its timeline
])
def test_a_path_in_alices_roots_opens_its_page(alice, unc, where):
    response = opened(alice, unc)
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == where
    assert alice.get(response["Location"]).status_code in (200, 404)  # the page itself decides


def test_the_folder_and_the_timeline_it_opens_are_alices(alice):
    folder = alice.get(opened(alice, ALICE + "\\Documents")["Location"])
    assert folder.status_code == 200 and "notes.txt" in folder.content.decode()
    timeline = alice.get(opened(alice, ALICE + "\\Documents\\notes.txt")["Location"])
    assert timeline.status_code == 200 and "<h1>notes.txt</h1>" in timeline.content.decode()


@pytest.mark.parametrize("unc", [
    BOB,  # another person's folder
    BOB + "\\Documents\\bob-notes.txt",
    "\\\\127.0.0.1\\data\\alicea\\Documents",  # a name that only starts like hers
    ALICE + "\\..\\bob\\Documents",  # climbing out
    ALICE + "\\Documents\\..\\..\\bob",
    ALICE + "/../bob",
    "\\\\127.0.0.2\\data\\alice\\Documents",  # another server
    "\\\\127.0.0.1\\scratch\\alice",  # a share without a root of hers
    "\\\\127.0.0.1\\data",  # the share above her root
    ALICE + "\\Documents\\no-such-file.txt",
    ALICE + "\\Documents\\a:b",
])
def test_anything_outside_alices_roots_is_404(alice, unc):
    response = opened(alice, unc)
    if response.status_code == 302:  # only a path inside her root may lead on, to a page that says 404
        assert response["Location"].startswith("/roots/data/file?") and "bob" not in response["Location"]
        response = alice.get(response["Location"])
    assert response.status_code == 404
    page = response.content.decode().split("<footer")[0]  # the footer's switcher returns to the URL asked
    assert "bob-notes" not in page and "Documents" not in page


@pytest.mark.parametrize("unc", ["", "   ", "H:\\Documents\\notes.txt", "Documents\\notes.txt", "\\\\", "x" * 5000])
def test_what_is_no_unc_path_is_a_clear_400(alice, unc):
    response = opened(alice, unc)
    assert response.status_code == 400
    assert "UNC" in response.content.decode()


def test_bobs_path_opens_for_bob_and_for_the_helpdesk_acting_for_him_not_for_alice(alice, bob, helpdesk1):
    target = BOB + "\\Documents"
    assert opened(bob, target)["Location"] == "/roots/data/?path=Documents"
    assert opened(alice, target).status_code == 404
    assert opened(helpdesk1, target).status_code == 404  # not acting: its own roots only
    helpdesk = acting_helpdesk1(helpdesk1, "bob")
    assert opened(helpdesk, target)["Location"] == "/roots/data/?path=Documents"
    assert opened(helpdesk, ALICE + "\\Documents").status_code == 404


def test_a_content_blind_helpdesk_is_led_to_the_page_which_keeps_the_content_hidden(helpdesk1, settings):
    settings.HELPDESK_CONTENT_BLIND = True
    helpdesk = acting_helpdesk1(helpdesk1, "bob")
    response = opened(helpdesk, BOB + "\\Documents\\bob-notes.txt")
    assert response["Location"] == "/roots/data/file?path=Documents%2Fbob-notes.txt"
    page = helpdesk.get(response["Location"]).content.decode()
    assert "Restore…" in page and "Preview" not in page and "/content?" not in page


def test_the_auditor_and_anonymous_are_refused(auditor1, client):
    assert opened(auditor1, ALICE).status_code == 403
    anonymous = opened(Client(), ALICE + "\\Documents")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/signin/?next=/open")
    assert Client().post("/open", {"unc": ALICE}).status_code in (302, 405)


# --- the API -------------------------------------------------------------------------------------


def resolved(client: Client, unc: str):
    return client.get("/api/v1/resolve", {"unc": unc})


def test_the_api_resolves_alices_paths(alice):
    assert resolved(alice, ALICE + "\\Documents\\notes.txt").json() == \
        {"root": "data", "path": "Documents/notes.txt", "kind": "file"}
    assert resolved(alice, ALICE + "\\Documents").json() == {"root": "data", "path": "Documents", "kind": "folder"}
    assert resolved(alice, ALICE).json() == {"root": "data", "path": "", "kind": "folder"}
    assert resolved(alice, ALICE + "\\Documents\\Old Project").json()["kind"] == "gone"


def test_the_api_answers_404_outside_the_roots_and_400_for_no_unc(alice, bob, auditor1):
    for unc in (BOB, BOB + "\\Documents", ALICE + "\\..\\bob", "\\\\127.0.0.1\\data"):
        response = resolved(alice, unc)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}, unc
    assert resolved(bob, BOB + "\\Documents").json() == {"root": "data", "path": "Documents", "kind": "folder"}
    bad = resolved(alice, "H:\\Documents")
    assert bad.status_code == 400 and "UNC" in bad.json()["detail"]
    assert resolved(auditor1, ALICE).status_code == 403
    assert resolved(Client(), ALICE).status_code == 401


def test_the_api_answers_in_german_too(alice):
    response = alice.get("/api/v1/resolve", {"unc": "H:\\x"}, HTTP_ACCEPT_LANGUAGE="de")
    assert response.json()["detail"].startswith("Laufwerksbuchstaben können hier nicht geöffnet werden")
