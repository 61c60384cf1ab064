"""When a restore ends: the owner's email (text and HTML: each file, where it went, its SHA-256, the link,
and what to do next when something failed), and for a restore a helpdesk member started, the webhook
(RESTORE_WEBHOOK_URL) against a real HTTP receiver on 127.0.0.1, as generic JSON or a Teams card, never
naming a file. A webhook that fails never stops the email."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from restore.models import Identity, JobState, Phase, RestoreItem, RestoreJob
from restore.restores import notifications

pytestmark = [pytest.mark.django_db, pytest.mark.samba]

HASH = "7f7a9433ca1ed1a47ca0b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f"


@pytest.fixture
def receiver():
    """An HTTP server on 127.0.0.1 that keeps what is POSTed to it; ``status`` is what it answers."""
    got, state = [], {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
            self.send_response(state["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/hooks/restores", "got": got, "state": state}
    server.shutdown()
    server.server_close()


def ended_job(owner: str, requested_by: str, state=JobState.PARTIAL, ticket="INC0042424") -> RestoreJob:
    """A job of ``owner`` that ended: one file restored and verified (its current copy kept), one failed."""
    owner_user = Identity.objects.get(username=owner).user
    by_user = Identity.objects.get(username=requested_by).user
    job = RestoreJob.objects.create(
        owner=owner_user, owner_username=owner, requested_by=by_user, requested_by_username=requested_by,
        role="helpdesk" if owner != requested_by else "user", ticket=ticket if owner != requested_by else "",
        mode="replace", conflict="overwrite", state=state, files_total=2, files_done=1, bytes_total=99,
        bytes_done=55, error="1 item(s) failed" if state == JobState.PARTIAL else "", finished_at=timezone.now())
    RestoreItem.objects.create(job=job, seq=0, kind="file", origin="selected", root="data",
                               path="Documents\\secret-plan.txt", at="@GMT-2026.11.16-14.00.00", phase=Phase.DONE,
                               target_root="data", target_path="Documents\\secret-plan.txt",
                               keep_path="Documents\\secret-plan (before restore 2026-12-07 1400).txt",
                               sha256_source=HASH, sha256_target=HASH)
    RestoreItem.objects.create(job=job, seq=1, kind="file", origin="selected", root="data",
                               path="Documents\\ledger.db", at="@GMT-2026.11.16-14.00.00", phase=Phase.FAILED,
                               note="the person may not replace 'Documents/ledger.db'")
    return job


def test_the_email_names_each_file_where_it_went_its_hash_and_what_to_do_next(
        signed_in, settings, mailoutbox):
    settings.PORTAL_URL = "https://restore.example.test/"
    signed_in("bob")
    job = ended_job("bob", "bob")
    assert notifications.job_ended(job)
    (mail,) = mailoutbox
    assert mail.to == [Identity.objects.get(username="bob").mail]
    assert mail.subject == "Your restore: Done with problems, 1 of 2 file(s) restored"
    html = dict((kind, body) for body, kind in mail.alternatives)["text/html"]
    for body in (mail.body, html):
        assert "Documents\\secret-plan.txt" in body and HASH in body
        assert "Documents\\secret-plan (before restore 2026-12-07 1400).txt" in body  # the kept copy
        assert "Documents\\ledger.db" in body and "the person may not replace &#x27;Documents/ledger.db&#x27;" in \
            body.replace("'", "&#x27;")
        assert "What to do next" in body and "restore those files again from the same version" in body
        assert str(job.id) in body and f"https://restore.example.test/restores/{job.id}/" in body
    assert "started it for you" not in mail.body


def test_a_restore_the_helpdesk_started_is_posted_to_the_webhook_without_file_names(
        signed_in, settings, mailoutbox, receiver):
    settings.RESTORE_WEBHOOK_URL, settings.PORTAL_URL = receiver["url"], "https://restore.example.test"
    signed_in("bob"), signed_in("helpdesk1")
    job = ended_job("bob", "helpdesk1")
    assert notifications.job_ended(job)

    (posted,) = receiver["got"]
    assert posted["path"] == "/hooks/restores" and posted["type"] == "application/json"
    body = posted["body"]
    assert {k: body[k] for k in ("event", "job", "state", "owner", "requested_by", "ticket", "done", "failed",
                                 "url")} == {
        "event": "restore.ended", "job": str(job.id), "state": "partial", "owner": "bob",
        "requested_by": "helpdesk1", "ticket": "INC0042424", "done": 1, "failed": 1,
        "url": f"https://restore.example.test/restores/{job.id}/"}
    assert "secret-plan" not in json.dumps(body) and HASH not in json.dumps(body)
    (mail,) = mailoutbox  # bob still hears of it, saying who started it
    assert "The helpdesk (helpdesk1) started it for you, ticket INC0042424." in mail.body


def test_a_teams_webhook_gets_an_adaptive_card(signed_in, settings, mailoutbox, receiver):
    settings.RESTORE_WEBHOOK_URL, settings.RESTORE_WEBHOOK_FORMAT = receiver["url"], "teams"
    settings.PORTAL_URL = "https://restore.example.test"
    signed_in("bob"), signed_in("helpdesk1")
    job = ended_job("bob", "helpdesk1", state=JobState.DONE)
    notifications.job_ended(job)
    (posted,) = receiver["got"]
    (attachment,) = posted["body"]["attachments"]
    card = attachment["content"]
    assert posted["body"]["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "Restore for bob: Done"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Ticket"] == "INC0042424" and facts["Started by"] == "helpdesk1"
    assert card["actions"][0]["url"] == f"https://restore.example.test/restores/{job.id}/"
    assert "secret-plan" not in json.dumps(posted["body"])


def test_a_restore_people_start_themselves_is_not_posted(signed_in, settings, mailoutbox, receiver):
    settings.RESTORE_WEBHOOK_URL = receiver["url"]
    signed_in("bob")
    assert notifications.job_ended(ended_job("bob", "bob"))
    assert receiver["got"] == [] and len(mailoutbox) == 1


def test_a_webhook_that_fails_does_not_stop_the_email(signed_in, settings, mailoutbox, receiver, caplog):
    settings.RESTORE_WEBHOOK_URL = receiver["url"]
    receiver["state"]["status"] = 500
    signed_in("bob"), signed_in("helpdesk1")
    assert notifications.job_ended(ended_job("bob", "helpdesk1"))
    assert len(receiver["got"]) == 1 and len(mailoutbox) == 1
    assert "could not send restore" in caplog.text and "did not take the notification" in caplog.text

    settings.RESTORE_WEBHOOK_URL = "file:///etc/passwd"  # only http(s): never a local file
    mailoutbox.clear()
    assert notifications.job_ended(ended_job("bob", "helpdesk1")) and len(mailoutbox) == 1
    assert "must be an http:// or https:// address" in caplog.text


def test_no_email_without_an_address(signed_in, mailoutbox):
    signed_in("bob")
    Identity.objects.filter(username="bob").update(mail="")
    assert notifications.job_ended(ended_job("bob", "bob")) is False and mailoutbox == []
