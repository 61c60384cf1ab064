"""The person's language: alice's browser asks for German (Accept-Language: de) and gets German pages,
restore dialog, errors (pages and API `detail`) and the email that says how her restore ended; the
switcher's choice is remembered, also on a browser that never saw it; the audit export stays
machine-readable whatever the language."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from restore.models import Identity, RestoreJob
from restore.restores import notifications
from restore.restores import runner as copying
from tests.support.history import generation, on_disk, top_of

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

DE = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


def signed_in_with(testenv, username: str, **headers) -> Client:
    client = Client(**headers)
    response = client.post("/signin/", {"username": username, "password": testenv.password})
    assert response.status_code == 302, response.content[:500]
    return client


def test_the_sign_in_page_follows_the_browsers_language(client):
    page = client.get("/signin/", **DE)
    html = page.content.decode()
    assert page["Content-Language"] == "de" and '<html lang="de">' in html
    assert "Anmelden" in html and "Kennwort" in html and "Sign in" not in html
    refused = client.post("/signin/", {"username": "alice", "password": "not her password"}, **DE)
    assert "Falscher Benutzername oder falsches Kennwort" in refused.content.decode()


def test_alice_in_german_sees_german_pages_dialog_and_errors(testenv):
    alice = signed_in_with(testenv, "alice", **DE)
    t1 = generation(testenv, "data", 0)

    home = alice.get("/").content.decode()
    assert "Meine Ordner" in home and "Meine Wiederherstellungen" in home and ">Daten<" in home
    folder = alice.get("/roots/data/", {"path": "Documents", "at": t1.token}).content.decode()
    assert "Diesen Ordner so zeigen, wie er war" in folder and "inzwischen gelöscht" in folder
    assert "Wiederherstellen…" in folder and "Geändert" in folder

    dialog = alice.get("/restores/new", {"root": "data", "path": "Documents/notes.txt", "at": t1.token})
    html = dialog.content.decode()
    assert dialog.status_code == 200
    assert "Was diese Wiederherstellung tun wird" in html and "Wiederherstellung starten" in html
    assert "Neben dem Original" in html and "Die wiederhergestellte Kopie umbenennen" in html
    assert not RestoreJob.objects.exists()

    bad = alice.get("/roots/data/", {"path": "Documents/../../bob"})
    assert bad.status_code == 400
    assert "„..“ ist in einem Pfad nicht erlaubt" in bad.content.decode()
    bad_dialog = alice.get("/restores/new", {"root": "data", "path": "Documents/notes.txt", "at": ""})
    assert bad_dialog.status_code == 400 and "„at“ muss einen Snapshot nennen" in bad_dialog.content.decode()

    api = alice.get("/api/v1/roots/data/entries", {"path": "C:/Windows"})
    assert api.status_code == 400
    assert api.json() == {"detail": "Laufwerksbuchstaben werden nicht angenommen: Geben Sie einen Pfad relativ "
                                    "zum Stammordner an"}
    assert alice.get("/api/v1/restores/00000000-0000-0000-0000-000000000000").json()["detail"] == "Nicht gefunden."
    assert "Anmeldedaten" in Client().get("/api/v1/roots", **DE).json()["detail"]  # DRF's own, in German too


def test_the_email_of_a_restore_is_in_the_language_of_alices_pages(testenv, cleanup, settings, mailoutbox):
    settings.PORTAL_URL = "https://restore.example.test"
    alice = signed_in_with(testenv, "alice", **DE)
    assert Identity.objects.get(username="alice").language == "de"  # what her browser asked for, kept
    t1 = generation(testenv, "data", 0)
    started = alice.post("/restores/new", {"root": "data", "path": "Documents/notes.txt", "at": t1.token,
                                           "mode": "alongside", "conflict": "rename", "start": "1"})
    job = RestoreJob.objects.get()
    copying.run_job(job.id)  # what a worker does; it has no browser to ask for a language
    items = list(job.items.order_by("seq"))
    cleanup.extend({("data", top_of(i.target_path, i.path)) for i in items})
    mailoutbox.clear()
    assert notifications.job_ended(RestoreJob.objects.get(pk=job.pk))

    (mail,) = mailoutbox
    assert mail.subject.startswith("Ihre Wiederherstellung: Fertig, ")
    text = mail.body
    html = dict((kind, body) for body, kind in mail.alternatives)["text/html"]
    notes = next(i for i in items if i.path == "Documents\\notes.txt")
    for body in (text, html):
        assert "Ihre Wiederherstellung" in body and "wiederhergestellt nach:" in body
        assert "Documents\\notes.txt" in body and notes.target_path in body and notes.sha256_target in body
        assert f"https://restore.example.test/restores/{job.id}/" in body
    assert '<html lang="de">' in html
    assert started["Location"] == f"/restores/{job.id}/"
    assert on_disk(testenv, "data", notes.target_path, None).read_bytes() == \
        on_disk(testenv, "data", "Documents/notes.txt", t1).read_bytes()


def test_the_switchers_choice_is_kept_and_follows_alice_to_her_other_browsers(testenv):
    laptop = signed_in_with(testenv, "alice", **DE)
    chosen = laptop.post("/language/", {"language": "fr", "next": "/restores/"}, **DE)
    assert chosen.status_code == 302 and chosen["Location"] == "/restores/"
    assert "Mes restaurations" in laptop.get("/restores/", **DE).content.decode()
    assert Identity.objects.filter(username="alice", language="fr", language_chosen=True).exists()

    phone = signed_in_with(testenv, "alice", **DE)  # a browser that asks for German and never saw the switcher
    assert "Mes dossiers" in phone.get("/", **DE).content.decode()

    nonsense = laptop.post("/language/", {"language": "xx", "next": "https://elsewhere.example/"}, **DE)
    assert nonsense.status_code == 302 and nonsense["Location"] == "/"  # nowhere else, nothing changed
    assert Identity.objects.get(username="alice").language == "fr"
    assert laptop.get("/language/").status_code == 405


def test_the_audit_export_stays_iso_8601_and_bytes_in_any_language(testenv):
    signed_in_with(testenv, "alice", **DE).get("/roots/data/", {"path": "Documents",
                                                                "at": generation(testenv, "data", 0).token})
    auditor = signed_in_with(testenv, "auditor1", **DE)
    assert "Prüfprotokoll" in auditor.get("/audit/", **DE).content.decode()
    exported = auditor.get("/api/v1/audit/export", {"format": "csv"}, **DE)
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    listing = next(r for r in rows if r["action"] == "list")
    assert listing["at"][:4].isdigit() and listing["at"][10] == "T"  # ISO 8601, not 07.12.2026
    assert listing["snapshot"].startswith("'@GMT-")


def test_the_audit_filters_speak_the_auditors_language(testenv):
    auditor = signed_in_with(testenv, "auditor1", **DE)
    html = auditor.get("/audit/", **DE).content.decode()
    assert "Handelnd für" in html and "Teil eines Pfades" in html and "who acted" not in html
    wrong = auditor.get("/audit/", {"since": "2026-12-02T00:00", "until": "2026-12-01T00:00"}, **DE)
    assert wrong.status_code == 400 and "muss vor" in wrong.content.decode()
    assert "muss vor" in auditor.get("/api/v1/audit", {"since": "2026-12-02T00:00", "until": "2026-12-01T00:00"},
                                     **DE).content.decode()
