"""The last English a German reader met, now in German: the related-file rules' applications and reasons
(page, restore dialog, API related items and dry-run plan), the search's progress line while snapshots
are still being catalogued (page and API `progress`), and the API's own error `detail`. The English stays
as it was for a browser that asks for English."""

from __future__ import annotations

import pytest
from django.test import Client

from restore.catalog import build, sources
from restore.models.catalog import CatalogSnapshot, SnapshotState
from restore.versions.paths import Unc
from tests.support.history import FF, SIG, T2, generation

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

DE = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}
FIREFOX_DE = ("Firefox speichert Lesezeichen und Chronik in places.sqlite, ihre Symbole in favicons.sqlite und die "
              "zugehörigen Einstellungen in prefs.js; Dateien von verschiedenen Tagen passen nicht zusammen.")
OUTLOOK_DE = ("Eine Outlook-Signatur besteht aus einer .htm-, einer .rtf- und einer .txt-Datei (eine je "
              "Nachrichtenformat) und einem _files-Ordner mit ihren Bildern.")
FIREFOX_EN = "Firefox keeps bookmarks and history in places.sqlite"


@pytest.fixture
def alice_de(testenv) -> Client:
    client = Client(**DE)
    response = client.post("/signin/", {"username": "alice", "password": testenv.password})
    assert response.status_code == 302, response.content[:500]
    return client


def test_alice_in_german_reads_the_related_files_reasons_on_the_page_and_in_the_api(testenv, alice_de, alice):
    t2 = generation(testenv, "profile", T2)

    fragment = alice_de.get("/roots/profile/related", {"path": f"{FF}/places.sqlite", "at": t2.token})
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert "Mozilla Firefox: " + FIREFOX_DE in html and FIREFOX_EN not in html
    signature = alice_de.get("/roots/profile/related", {"path": f"{SIG}/Work.htm", "at": t2.token}).content.decode()
    assert "Microsoft Outlook: " + OUTLOOK_DE in signature

    dialog = alice_de.get("/restores/new", {"root": "profile", "path": f"{FF}/places.sqlite", "at": t2.token})
    assert dialog.status_code == 200 and FIREFOX_DE in dialog.content.decode()

    api = alice_de.get("/api/v1/roots/profile/related", {"path": f"{FF}/places.sqlite", "at": t2.token}).json()
    prefs = next(i for i in api["related"] if i["key"] == f"{FF}/prefs.js")
    assert (prefs["rule"], prefs["application"], prefs["reason"]) == ("firefox-profile", "Mozilla Firefox", FIREFOX_DE)
    plan = alice_de.post("/api/v1/restores", {"items": [{"root": "profile", "path": f"{SIG}/Work.htm", "at": t2.token}],
                                              "dry_run": True}, content_type="application/json")
    assert plan.status_code == 200, plan.content
    assert OUTLOOK_DE in {i["reason"] for i in plan.json()["items"]}

    # the same person's English browser: the rule's text as the TOML has it
    english = alice.get("/api/v1/roots/profile/related", {"path": f"{FF}/places.sqlite", "at": t2.token}).json()
    assert next(i for i in english["related"] if i["key"] == f"{FF}/prefs.js")["reason"].startswith(FIREFOX_EN)


def test_the_search_says_in_german_how_far_the_catalog_is(alice_de, alice):
    source = sources.register(Unc("127.0.0.1", "data"))
    assert not build.build_source(source.id).error
    done = CatalogSnapshot.objects.filter(source=source, state=SnapshotState.DONE)
    total = done.count()
    assert total >= 3
    CatalogSnapshot.objects.filter(pk=done.order_by("-index").first().pk).update(state=SnapshotState.PENDING)

    page = alice_de.get("/search/", {"q": "notes", "root": "data"})
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Daten: {total - 1} von {total} Snapshots katalogisiert, noch etwa " in html
    assert f"Die {total - 1} katalogisierten Snapshots wurden durchsucht" in html and "catalogued" not in html

    coverage = alice_de.get("/api/v1/search", {"q": "notes", "root": "data"}).json()["coverage"]
    assert coverage[0]["progress"].startswith(f"{total - 1} von {total} Snapshots katalogisiert, noch etwa ")
    assert alice_de.get("/api/v1/search", {"q": "notes", "root": "profile"}).json()["coverage"][0]["progress"] == \
        "nicht katalogisiert"
    english = alice.get("/api/v1/search", {"q": "notes", "root": "data"}).json()["coverage"][0]["progress"]
    assert english.startswith(f"catalogued {total - 1} of {total} snapshots, about ")


def test_the_apis_own_refusals_are_in_german(alice_de):
    not_an_object = alice_de.post("/api/v1/restores", [], content_type="application/json")
    assert (not_an_object.status_code, not_an_object.json()) == (400, {"detail": "Senden Sie ein JSON-Objekt"})
    dry_run = alice_de.post("/api/v1/restores", {"items": [], "dry_run": "yes"}, content_type="application/json")
    assert dry_run.status_code == 400 and dry_run.json()["detail"] == "„dry_run“ muss true oder false sein"
    assert alice_de.get("/api/v1/search", {"q": "notes", "root": "bobs"}).json() == {
        "detail": "Diesen Ordner gibt es nicht."}


def test_the_catalog_status_page_and_a_persons_roles_are_in_german(alice_de, django_user_model):
    sources.register(Unc("127.0.0.1", "data"))  # registered, not built yet
    admin = Client(**DE)
    admin.force_login(django_user_model.objects.create_superuser("catalog-admin", "", "a-long-admin-password-3"))
    html = admin.get("/catalog/").content.decode()
    assert "<h1>Snapshot-Katalog</h1>" in html and "Verwaltungsseite</a>" in html
    assert "Letzter Lauf" in html and "</time>" not in html and "nie" in html  # never run yet
    assert "Last run" not in html and "Snapshots done" not in html

    me = alice_de.get("/me/").content.decode()
    assert "<dt>Rollen</dt><dd>Benutzer</dd>" in me


def test_a_sign_in_name_of_another_domain_is_refused_in_german(client, settings):
    page = client.post("/signin/", {"username": "ELSEWHERE\\alice", "password": "not tried"}, **DE)
    assert f"Melden Sie sich mit einem Konto der Domäne {settings.LDAP_DOMAIN} an." in page.content.decode()
    assert client.post("/signin/", {"username": "al ice", "password": "not tried"}, **DE).content.decode().count(
        "Das ist kein gültiger Benutzername") == 1


def test_a_refusal_about_one_parameter_is_translated_after_its_name(testenv, alice_de):
    t1 = generation(testenv, "data", 0)
    answer = alice_de.get("/api/v1/roots/data/diff", {"path": "Documents/notes.txt", "at": t1.token, "against": "C:"})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("against: „at“ muss"), answer.json()
