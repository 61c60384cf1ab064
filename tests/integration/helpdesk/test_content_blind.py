"""Content-blind helpdesk, end to end, tried the way a curious helpdesk member would: helpdesk1
acts for bob with HELPDESK_CONTENT_BLIND on and asks for a zip (API, HTTP Basic with X-Act-For,
the restore dialog), looks for hashes, and fetches a zip of bob's files after stopping, after the
acting-for expired, after losing the role. Also: whose jobs are listed while acting.

Jobs started here are never run (they would be queued on commit, and a test never commits), so
nothing is written to bob's folders; a zip reads the snapshot, and the oracle is the snapshot's
file on disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from restore.models import ActingFor, AuditEvent, Identity, RestoreItem, RestoreJob, Role
from tests.conftest import basic_auth
from tests.support.history import generation

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

NOTES = "Documents/bob-notes.txt"
ACT_FOR_BOB = {"username": "bob", "ticket": "INC0016001", "reason": "bob lost his notes"}


@pytest.fixture
def oldest(testenv) -> str:
    return generation(testenv, "data", 0).token


def notes_then(testenv, token: str) -> bytes:
    return (testenv.snapdir("data") / token / "bob" / NOTES).read_bytes()


def act_for_bob(client, **headers) -> str:
    started = client.post("/api/v1/helpdesk/act-for", json.dumps(ACT_FOR_BOB), content_type="application/json",
                          **headers)
    assert started.status_code == 201, started.content
    return started.json()["id"]


def stop(client, **headers) -> None:
    assert client.delete("/api/v1/helpdesk/act-for", **headers).status_code == 204


def restore(client, token: str, mode: str, dry_run: bool = False, **headers):
    body = {"items": [{"root": "data", "path": NOTES, "at": token}], "mode": mode, "dry_run": dry_run}
    return client.post("/api/v1/restores", json.dumps(body), content_type="application/json", **headers)


def zip_job_for_bob(requested_by: str, token: str, testenv, content_blind: bool = False) -> RestoreJob:
    """A download job of bob's as rows (what the API refuses to make in content-blind mode)."""
    User = get_user_model()
    bob, requester = User.objects.get(username="bob"), User.objects.get(username=requested_by)
    job = RestoreJob.objects.create(owner=bob, owner_username="bob", requested_by=requester,
                                    requested_by_username=requested_by, role=Role.HELPDESK, mode="download",
                                    conflict="rename", state="ready", content_blind=content_blind, files_total=1)
    RestoreItem.objects.create(job=job, seq=0, kind="file", origin="selected", root="data",
                               path=NOTES.replace("/", "\\"), at=token, size=len(notes_then(testenv, token)))
    return job


# --- content-blind members get no zip and no hashes ---------------------------------------------


def test_a_content_blind_member_may_not_start_a_zip_nor_its_dry_run(helpdesk1, settings, oldest, testenv):
    settings.HELPDESK_CONTENT_BLIND = True
    act_for_bob(helpdesk1)
    for dry in (True, False):
        refused = restore(helpdesk1, oldest, "download", dry_run=dry)
        assert refused.status_code == 403 and "Content-blind" in refused.json()["detail"], refused.content
    # the same over HTTP Basic with X-Act-For
    auth = basic_auth("helpdesk1", testenv.password)
    api = Client()
    header = {"HTTP_X_ACT_FOR": act_for_bob(api, **auth), **auth}
    for dry in (True, False):
        assert restore(api, oldest, "download", dry_run=dry, **header).status_code == 403
    assert not RestoreJob.objects.exists()
    denied = AuditEvent.objects.filter(action="access_denied", actor_username="helpdesk1",
                                       details__operation="download restore")
    assert denied.count() == 4 and {e.acting_for_username for e in denied} == {"bob"}

    # a restore into bob's folders is still theirs to start, and the job says it was content-blind
    assert restore(api, oldest, "alongside", dry_run=True, **header).status_code == 200
    started = restore(api, oldest, "alongside", **header)
    assert started.status_code == 201 and started.json()["content_blind"] is True
    job = RestoreJob.objects.get()
    assert (job.owner.username, job.requested_by.username, job.content_blind) == ("bob", "helpdesk1", True)


def test_the_restore_dialog_refuses_a_zip_to_a_content_blind_member(helpdesk1, settings, oldest):
    settings.HELPDESK_CONTENT_BLIND = True
    act_for_bob(helpdesk1)
    query = {"root": "data", "path": NOTES, "at": oldest}
    dialog = helpdesk1.get("/restores/new", query)
    assert dialog.status_code == 200 and 'value="download"' not in dialog.content.decode()
    for ask in (helpdesk1.get("/restores/new", {**query, "mode": "download"}),
                helpdesk1.post("/restores/new", {**query, "mode": "download", "start": "1"})):
        assert ask.status_code == 403 and "Content-blind helpdesk mode" in ask.content.decode()
    assert not RestoreJob.objects.exists()


def test_a_content_blind_member_never_sees_a_hash_of_bobs_files(helpdesk1, signed_in, settings, oldest, testenv):
    settings.HELPDESK_CONTENT_BLIND = True
    act_for_bob(helpdesk1)
    job_id = restore(helpdesk1, oldest, "alongside").json()["id"]
    digest = hashlib.sha256(notes_then(testenv, oldest)).hexdigest()
    stream = hashlib.sha256(b"[ZoneTransfer]").hexdigest()
    RestoreItem.objects.filter(job_id=job_id).update(  # as the worker leaves it
        phase="done", sha256_source=digest, sha256_target=digest,
        streams=[{"name": "Zone.Identifier", "size": 14, "sha256": stream}])
    RestoreJob.objects.filter(pk=job_id).update(state="done")

    def shown(client) -> str:
        return "".join(client.get(url).content.decode() for url in (
            f"/api/v1/restores/{job_id}", "/api/v1/restores", f"/restores/{job_id}/", "/restores/",
            f"/restores/{job_id}/?hx=1", "/api/v1/roots/data/versions?path=" + NOTES,
            "/roots/data/file?path=" + NOTES))

    seen = shown(helpdesk1)
    assert job_id in seen and digest not in seen and digest[:17] not in seen and stream not in seen
    item = helpdesk1.get(f"/api/v1/restores/{job_id}").json()["items"][0]
    assert item["sha256"] is item["sha256_source"] is item["sha256_target"] is None
    bob = signed_in("bob")  # the owner sees them
    assert bob.get(f"/api/v1/restores/{job_id}").json()["items"][0]["sha256_target"] == digest
    assert digest[:17] in bob.get(f"/restores/{job_id}/").content.decode()

    # later, not content-blind: a job started content-blind still shows no hash to the helpdesk
    stop(helpdesk1)
    settings.HELPDESK_CONTENT_BLIND = False
    act_for_bob(helpdesk1)
    seen = shown(helpdesk1)
    assert job_id in seen and digest not in seen and digest[:17] not in seen


# --- who gets a zip -------------------------------------------------------------------------------


def test_a_zip_goes_to_its_requester_only_while_acting_for_the_owner_and_to_the_owner(
        helpdesk1, signed_in, oldest, testenv):
    act_for_bob(helpdesk1)
    created = restore(helpdesk1, oldest, "download")
    assert created.status_code == 201 and created.json()["content_blind"] is False
    job_id, url = created.json()["id"], created.json()["download_url"]
    served = helpdesk1.get(url)
    assert served.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(served.streaming_content)))
    assert archive.read("data/" + NOTES) == notes_then(testenv, oldest)
    zipped = AuditEvent.objects.get(action="zip_member", details__job=job_id)
    assert (zipped.actor_username, zipped.acting_for_username, zipped.path) == ("helpdesk1", "bob", "Documents\\bob-notes.txt")

    basic = basic_auth("helpdesk1", testenv.password)  # the member as themselves, no X-Act-For
    for client, extra in ((Client(), basic), (helpdesk1, {})):
        if client is helpdesk1:
            stop(helpdesk1)
        assert client.get(url, **extra).status_code == 404
        assert client.get(f"/api/v1/restores/{job_id}", **extra).status_code == 404
        assert client.post(f"/api/v1/restores/{job_id}/cancel", **extra).status_code == 404
        assert job_id not in client.get("/api/v1/restores", **extra).content.decode()
    assert helpdesk1.get(f"/restores/{job_id}/").status_code == 404
    assert job_id not in helpdesk1.get("/restores/").content.decode()
    assert job_id not in helpdesk1.get("/").content.decode()
    assert signed_in("alice").get(url).status_code == 404

    bob = signed_in("bob")
    again = bob.get(url)
    assert again.status_code == 200 and zipfile.ZipFile(io.BytesIO(b"".join(again.streaming_content))).read(
        "data/" + NOTES) == notes_then(testenv, oldest)
    assert bob.get(f"/api/v1/restores/{job_id}").json()["requested_by"] == "helpdesk1"
    assert "Download the zip" in bob.get(f"/restores/{job_id}/").content.decode()


def test_no_zip_once_the_acting_for_expired_or_the_helpdesk_role_was_withdrawn(helpdesk1, settings, oldest, testenv):
    auth = basic_auth("helpdesk1", testenv.password)
    api = Client()
    header = {"HTTP_X_ACT_FOR": act_for_bob(api, **auth), **auth}
    url = restore(api, oldest, "download", **header).json()["download_url"]
    assert api.get(url, **header).status_code == 200
    settings.HELPDESK_ACT_FOR_SECONDS = 0
    for _ in range(2):  # the request that finds it expired, and the next
        assert api.get(url, **header).status_code == 404
        assert api.get(url.removesuffix("/download"), **header).status_code == 404
    assert ActingFor.objects.get(pk=header["HTTP_X_ACT_FOR"]).end_reason == "expired"

    settings.HELPDESK_ACT_FOR_SECONDS = 3600
    act_for_bob(helpdesk1)
    url = restore(helpdesk1, oldest, "download").json()["download_url"]
    assert helpdesk1.get(url).status_code == 200
    ident = Identity.objects.get(username="helpdesk1")
    Identity.objects.filter(pk=ident.pk).update(roles=[r for r in ident.roles if r != Role.HELPDESK],
                                                refreshed_at=timezone.now())
    assert helpdesk1.get(url).status_code == 404
    assert helpdesk1.get(url).status_code == 404
    assert ActingFor.objects.filter(actor__username="helpdesk1", end_reason__contains="withdrawn").exists()


def test_a_zip_of_a_content_blind_job_or_for_a_content_blind_member_is_never_served_to_the_helpdesk(
        helpdesk1, signed_in, settings, oldest, testenv):
    act_for_bob(helpdesk1)
    legacy = zip_job_for_bob("helpdesk1", oldest, testenv, content_blind=True)  # as rows: the API refuses it
    url = f"/api/v1/restores/{legacy.id}/download"
    assert helpdesk1.get(url).status_code == 404
    assert helpdesk1.get(f"/api/v1/restores/{legacy.id}").json()["download_url"] is None
    assert "Download the zip" not in helpdesk1.get(f"/restores/{legacy.id}/").content.decode()
    assert AuditEvent.objects.filter(action="access_denied", details__job=str(legacy.id)).count() == 1
    assert signed_in("bob").get(url).status_code == 200  # the owner's own files

    started = restore(helpdesk1, oldest, "download").json()  # not content-blind when it was started...
    settings.HELPDESK_CONTENT_BLIND = True  # ...but the member is now
    assert helpdesk1.get(started["download_url"]).status_code == 404
    assert not AuditEvent.objects.filter(action="zip_member", actor_username="helpdesk1").exists()


# --- whose jobs are listed ------------------------------------------------------------------------


def test_while_acting_my_restores_are_the_acted_for_persons(helpdesk1, signed_in, oldest, testenv):
    act_for_bob(helpdesk1)
    User = get_user_model()
    helpdesk_user = User.objects.get(username="helpdesk1")
    own = RestoreJob.objects.create(owner=helpdesk_user, owner_username="helpdesk1", requested_by=helpdesk_user,
                                    requested_by_username="helpdesk1", role=Role.USER, mode="alongside",
                                    conflict="rename", state="done")
    bobs = zip_job_for_bob("bob", oldest, testenv)  # bob's own
    for_bob = restore(helpdesk1, oldest, "download").json()["id"]

    listed = [j["id"] for j in helpdesk1.get("/api/v1/restores").json()]
    assert sorted(listed) == sorted([str(bobs.id), for_bob])
    for page in (helpdesk1.get("/restores/").content.decode(), helpdesk1.get("/").content.decode()):
        assert str(bobs.id) in page and for_bob in page and str(own.id) not in page
    assert helpdesk1.get(f"/api/v1/restores/{own.id}").status_code == 404
    # bob's own zip is bob's: the member acting for him sees the job, not its zip
    assert helpdesk1.get(f"/api/v1/restores/{bobs.id}/download").status_code == 404

    stop(helpdesk1)
    assert [j["id"] for j in helpdesk1.get("/api/v1/restores").json()] == [str(own.id)]
