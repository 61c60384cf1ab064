"""The audit trail as auditors use it, against the real test domain: what gets recorded (sign-ins,
listings at a snapshot, timelines, previews, downloads, acting-for, configuration changes,
refusals), who may read it (auditors only, read-only), the filters, pages and streamed exports,
tamper evidence through verify_audit, and forwarding to a SIEM over syslog."""

from __future__ import annotations

import csv
import io
import json
import socket
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.http import StreamingHttpResponse
from django.test import Client, override_settings
from django.utils import timezone

from restore.audit import trail as audit
from restore.audit import verify
from restore.models import AuditEvent
from tests.conftest import basic_auth
from tests.support.audit_tamper import bypass_append_only_trigger

pytestmark = [pytest.mark.django_db, pytest.mark.samba]


def trail(client, **filters) -> list[dict]:
    response = client.get("/api/v1/audit", filters)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def oldest_snapshot(client) -> str:
    return client.get("/api/v1/roots/data/snapshots").json()[-1]["id"]


# --- what is recorded -----------------------------------------------------------------------------


@override_settings(AXES_FAILURE_LIMIT=2)
def test_every_sign_in_is_recorded_ok_failed_and_locked(testenv, auditor1):
    Client().post("/signin/", {"username": "bob", "password": testenv.password})
    Client(REMOTE_ADDR="127.0.0.21").get("/api/v1/me", **basic_auth("bob", "not-his"))  # HTTP Basic: the same checks
    carol = Client(REMOTE_ADDR="127.0.0.22")
    for _ in range(2):
        carol.post("/signin/", {"username": "carol", "password": "wrong"})
    assert carol.post("/signin/", {"username": "carol", "password": testenv.password}).status_code == 429
    bob = trail(auditor1, person="bob", action="sign_in")
    assert [(e["result"], e["details"]["via"]) for e in reversed(bob)] == [("ok", "/signin/"), ("failed", "/api/v1/me")]
    carol = [(e["result"], e["details"].get("reason")) for e in reversed(trail(auditor1, person="carol"))]
    assert carol[0] == ("failed", "wrong password")
    assert carol[-1] == ("locked", "too many failed sign-ins") and "ok" not in [result for result, _ in carol]


def test_listing_at_a_snapshot_timeline_preview_and_download_are_recorded(signed_in, auditor1):
    alice = signed_in("alice")
    at = oldest_snapshot(alice)
    alice.get("/api/v1/roots/data/entries", {"path": "Documents"})  # live listings are not records
    alice.get("/api/v1/roots/data/entries", {"path": "Documents", "at": at})
    alice.get("/roots/data/", {"path": "Documents/Finance", "at": at})
    alice.get("/api/v1/roots/data/versions", {"path": "Documents/notes.txt"})
    alice.get("/roots/data/file", {"path": "Documents/final.txt"})
    b"".join(alice.get("/api/v1/roots/data/content", {"path": "Documents/notes.txt", "disposition": "inline",
                                                     "at": at}).streaming_content)
    b"".join(alice.get("/api/v1/roots/data/content", {"path": "Documents/notes.txt"}).streaming_content)
    events = [(e["action"], e["path"], e["snapshot"]) for e in reversed(trail(auditor1, person="alice"))
              if e["action"] != "sign_in"]
    assert events == [("list", "Documents", at), ("list", "Documents\\Finance", at),
                      ("timeline", "Documents\\notes.txt", ""), ("timeline", "Documents\\final.txt", ""),
                      ("preview", "Documents\\notes.txt", at), ("download", "Documents\\notes.txt", "")]
    assert all(e["role"] == "user" and e["source_ip"] == "127.0.0.1" and e["request_id"]
               for e in trail(auditor1, person="alice") if e["action"] != "sign_in")


def test_refusals_are_recorded_as_access_denied(signed_in, auditor1):
    bob = signed_in("bob")
    bob.get("/api/v1/audit")
    bob.get("/audit/")
    auditor1.get("/api/v1/roots/data/entries", {"path": "Documents"})
    denied = trail(auditor1, action="access_denied")
    assert {(e["actor"], e["details"]["operation"]) for e in denied} == {
        ("bob", "/api/v1/audit"), ("bob", "/audit/"), ("auditor1", "/api/v1/roots/data/entries")}
    assert all(e["result"] == "denied" for e in denied)


def test_acting_for_start_and_end_are_recorded_with_ticket_and_reason(signed_in, auditor1):
    helpdesk1 = signed_in("helpdesk1")
    helpdesk1.post("/helpdesk/act-for", {"username": "alice", "ticket": "INC-42", "reason": "lost report"})
    helpdesk1.post("/helpdesk/stop")
    events = trail(auditor1, acting_for="alice")
    assert [e["action"] for e in reversed(events)] == ["act_for_start", "act_for_end"]
    assert all(e["actor"] == "helpdesk1" and e["details"]["ticket"] == "INC-42" for e in events)
    assert events[-1]["details"]["reason"] == "lost report"


def test_admin_changes_are_configuration_changes_in_the_trail(auditor1):
    root = get_user_model().objects.create_superuser("localadmin", "admin@example.test", "Emergency-Pass-123")
    admin = Client()
    admin.force_login(root, backend="restore.accounts.backends.EmergencyAdminBackend")
    assert admin.post("/admin/auth/group/add/", {"name": "Restore Approvers"}).status_code == 302
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="Restore Approvers")
    assert admin.post(f"/admin/auth/group/{group.pk}/change/", {"name": "Restore Reviewers"}).status_code == 302
    assert admin.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}).status_code == 302
    changes = list(reversed(trail(auditor1, action="config_change")))
    assert [(e["actor"], e["role"], e["details"]["model"], e["details"]["change"]) for e in changes] == [
        ("localadmin", "admin", "auth.group", "added"), ("localadmin", "admin", "auth.group", "changed"),
        ("localadmin", "admin", "auth.group", "deleted")]
    assert changes[1]["details"]["object"] == "Restore Reviewers" and "Name" in changes[1]["details"]["message"]


def test_a_configuration_change_and_its_record_share_one_transaction(auditor1):
    from django.contrib.admin.models import ADDITION, LogEntry
    from django.contrib.auth.models import Group

    root = get_user_model().objects.create_superuser("localadmin", "admin@example.test", "Emergency-Pass-123")
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        group = Group.objects.create(name="Never Kept")
        LogEntry.objects.log_actions(root.pk, [group], ADDITION, single_object=True)
        assert AuditEvent.objects.count() == before + 1
        raise RuntimeError("the admin's save failed after logging")
    assert AuditEvent.objects.count() == before and verify.verify_chain().ok


# --- who may read it ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "helpdesk1"])
def test_only_auditors_see_the_trail(signed_in, who):
    client = signed_in(who)
    assert client.get("/api/v1/audit").status_code == 403
    assert client.get("/api/v1/audit/export", {"format": "csv"}).status_code == 403
    assert client.get("/audit/").status_code == 403


def test_anonymous_gets_a_basic_challenge_on_the_api_and_the_sign_in_page_on_the_page():
    response = Client().get("/api/v1/audit")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic")
    assert Client().get("/api/v1/audit/export", {"format": "json"}).status_code == 401
    page = Client().get("/audit/")
    assert page.status_code == 302 and page["Location"].startswith("/signin/")


def test_auditors_get_403_on_file_content_and_restores(auditor1, signed_in):
    for url, params in [("/api/v1/roots", {}), ("/api/v1/roots/data/entries", {"path": "Documents"}),
                        ("/api/v1/roots/data/versions", {"path": "Documents/notes.txt"}),
                        ("/api/v1/roots/data/content", {"path": "Documents/notes.txt"}),
                        ("/api/v1/restores", {}), ("/roots/data/", {}), ("/roots/data/file", {"path": "x.txt"})]:
        assert auditor1.get(url, params).status_code == 403, url
    restore = {"items": [{"root": "data", "path": "Documents/notes.txt", "at": "live"}], "dry_run": True}
    assert auditor1.post("/api/v1/restores", json.dumps(restore), content_type="application/json").status_code == 403
    assert auditor1.post("/helpdesk/act-for", {"username": "alice", "ticket": "T1", "reason": "r"}).status_code == 403


def test_the_trail_cannot_be_changed_through_the_api_the_pages_or_the_admin(auditor1):
    event = audit.record(audit.Context(), "list", "ok", path="Documents")
    for method in ("post", "put", "patch", "delete"):
        assert getattr(auditor1, method)("/api/v1/audit").status_code == 405
    assert auditor1.post("/audit/").status_code == 405
    root = get_user_model().objects.create_superuser("localadmin", "admin@example.test", "Emergency-Pass-123")
    admin = Client()
    admin.force_login(root, backend="restore.accounts.backends.EmergencyAdminBackend")
    assert admin.get(f"/admin/restore/auditevent/{event.pk}/change/").status_code == 200  # may look
    assert admin.post(f"/admin/restore/auditevent/{event.pk}/change/", {"path": "x"}).status_code == 403
    assert admin.post(f"/admin/restore/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get("/admin/restore/auditevent/add/").status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).path == "Documents" and verify.verify_chain().ok


# --- filters, pages, exports ----------------------------------------------------------------------


def seed(n: int = 7) -> list[AuditEvent]:
    User = get_user_model()
    alice, helpdesk1 = User.objects.create(username="alice"), User.objects.create(username="helpdesk1")
    events = []
    for i in range(n):
        context = audit.Context(actor=helpdesk1 if i % 2 else alice, acting_for=alice if i % 2 else None,
                                role="helpdesk" if i % 2 else "user", source_ip="10.0.0.5", request_id=f"req-{i:04d}")
        events.append(audit.record(context, "download" if i % 3 else "list", "ok" if i != 5 else "denied",
                                   root="data", path=f"Documents\\file{i}.txt", details={"i": i}))
    return events


def test_filters_by_person_acting_for_action_path_result_and_time(auditor1):
    events = seed()
    ids = lambda **f: [e["id"] for e in trail(auditor1, **f)]  # noqa: E731
    assert ids(person="ALICE") == [e.id for e in reversed(events) if e.actor_username == "alice"]
    assert ids(acting_for="alice") == [e.id for e in reversed(events) if e.acting_for_username == "alice"]
    assert ids(action="list", person="alice") == [e.id for e in reversed(events) if e.action == "list"
                                                  and e.actor_username == "alice"]
    assert ids(path="FILE3") == [events[3].id]
    assert ids(result="denied") == [events[5].id]
    assert ids(since=events[4].at.isoformat(), until=events[6].at.isoformat(), person="alice") == [events[4].id]
    later = (timezone.now() + timedelta(days=1)).isoformat()
    assert ids(since=later) == []


@pytest.mark.parametrize("bad", [{"since": "yesterday"}, {"action": "drop_table"}, {"result": "maybe"},
                                 {"limit": "0"}, {"limit": "100000"}, {"before": "-1"},
                                 {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                                 {"until": "9999-12-31T23:00:00-05:00"}])  # past the last year Python holds
def test_bad_filters_are_400_with_a_reason(auditor1, bad):
    response = auditor1.get("/api/v1/audit", bad)
    assert response.status_code == 400 and response.json()["detail"]
    assert auditor1.get("/audit/", bad).status_code == 400
    assert auditor1.get("/api/v1/audit/export", {"format": "csv", **bad}).status_code == 400


def test_any_offset_python_takes_filters_in_utc(auditor1):
    """PostgreSQL refuses offsets past 15:59 (schemathesis found a 500 with +22:50): compared in UTC."""
    events = seed(2)
    since = events[1].at.astimezone(timezone.get_fixed_timezone(22 * 60 + 50)).isoformat()
    response = auditor1.get("/api/v1/audit", {"since": since, "path": "Documents\\file"})
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [events[1].id]


def test_pages_follow_next_links_through_the_whole_trail_newest_first(auditor1):
    events = seed(7)
    seen, url, params = [], "/api/v1/audit", {"path": "Documents\\file", "limit": "3"}
    while url:
        page = auditor1.get(url, params).json()
        assert len(page["results"]) <= 3
        seen += [e["id"] for e in page["results"]]
        url, params = page["next"], {}
    assert seen == [e.id for e in reversed(events)]


def test_the_page_shows_the_trail_with_filters_and_export_links(auditor1):
    seed()
    html = auditor1.get("/audit/", {"acting_for": "alice"}).content.decode()
    assert "Documents\\file1.txt" in html and "Documents\\file0.txt" not in html
    assert "/api/v1/audit/export?format=csv&amp;acting_for=alice" in html
    assert "Audit trail" in auditor1.get("/").content.decode()  # the auditor's navigation


def export(client, kind, **filters):
    response = client.get("/api/v1/audit/export", {"format": kind, **filters})
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse) and "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content).decode()


def test_csv_and_json_exports_stream_the_filtered_trail_oldest_first(auditor1):
    events = seed()
    rows = list(csv.DictReader(io.StringIO(export(auditor1, "csv", acting_for="alice"))))
    expected = [e for e in events if e.acting_for_username == "alice"]
    assert [int(r["id"]) for r in rows] == [e.id for e in expected]
    assert rows[0]["hash"] == expected[0].hash and json.loads(rows[0]["details"]) == {"i": 1}
    assert rows[0]["actor"] == "helpdesk1" and rows[0]["path"] == "Documents\\file1.txt"
    everything = json.loads(export(auditor1, "json"))
    assert [e["id"] for e in everything] == list(AuditEvent.objects.filter(id__lte=everything[-1]["id"])
                                                 .order_by("id").values_list("id", flat=True))
    # the trail as it was when the export began: not the export's own record
    assert AuditEvent.objects.filter(action="audit_export").last().id > everything[-1]["id"]


def test_each_export_is_itself_recorded(auditor1):
    export(auditor1, "json", person="alice")
    event = AuditEvent.objects.get(action="audit_export")
    assert event.actor_username == "auditor1" and event.details["filters"] == {"person": "alice"}


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(auditor1):
    audit.record(audit.Context(), "list", "ok", path="=HYPERLINK(\"http://evil\")")
    rows = list(csv.DictReader(io.StringIO(export(auditor1, "csv"))))
    assert rows[-1]["path"] == "'=HYPERLINK(\"http://evil\")"


def test_export_needs_a_known_format(auditor1):
    assert auditor1.get("/api/v1/audit/export").status_code == 400
    assert auditor1.get("/api/v1/audit/export", {"format": "xlsx"}).status_code == 400


# --- tamper evidence ------------------------------------------------------------------------------


def test_verify_audit_reports_a_record_of_real_actions_changed_in_the_database(signed_in, auditor1):
    alice = signed_in("alice")
    alice.get("/api/v1/roots/data/versions", {"path": "Documents/notes.txt"})
    b"".join(alice.get("/api/v1/roots/data/content", {"path": "Documents/notes.txt"}).streaming_content)
    call_command("verify_audit")
    download = AuditEvent.objects.get(action="download", actor_username="alice")
    bypass_append_only_trigger()  # someone with the table owner's rights hides what was downloaded
    with connection.cursor() as cursor:
        cursor.execute("UPDATE restore_auditevent SET path = %s, details = %s WHERE id = %s",
                       ["Documents\\harmless.txt", json.dumps({"size": 1}), download.id])
    with pytest.raises(CommandError, match=rf"record {download.id}\b.*changed"):
        call_command("verify_audit")


def test_verify_audit_reports_a_record_inserted_with_a_forged_hash(auditor1):
    events = seed(3)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO restore_auditevent (at, actor_username, actor_sid, acting_for_username, acting_for_sid, role,"
            " request_id, action, root, path, snapshot, result, details, prev_hash, hash) VALUES"
            " (now(), 'alice', '', '', '', 'user', 'x', 'list', 'data', 'x', '', 'ok', '{}', %s, %s)",
            [events[-1].hash, "f" * 64])
    report = verify.verify_chain()
    assert not report.ok and report.first_broken_id > events[-1].id


# --- forwarding to a SIEM -------------------------------------------------------------------------


def test_records_go_to_syslog_after_commit_with_their_fields(settings, udp_listener,
                                                            django_capture_on_commit_callbacks):
    settings.AUDIT_SYSLOG = "udp://127.0.0.1:%d" % udp_listener.getsockname()[1]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = audit.record(audit.Context(source_ip="10.1.2.3", request_id="req-77"), "download", "ok",
                             root="data", path='Documents\\a "quoted" ]name.txt', actor_username="alice")
    assert len(callbacks) == 1
    message = udp_listener.recv(65535).decode()
    assert message.startswith("<109>1 ")  # facility 13 (log audit) * 8 + notice
    assert f'hash="{event.hash}"' in message and f'prev_hash="{event.prev_hash}"' in message
    assert 'path="Documents\\\\a \\"quoted\\" \\]name.txt"' in message and 'ip="10.1.2.3"' in message


def test_a_record_rolled_back_with_its_action_is_never_sent(settings, udp_listener,
                                                           django_capture_on_commit_callbacks):
    settings.AUDIT_SYSLOG = "udp://127.0.0.1:%d" % udp_listener.getsockname()[1]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            audit.record(audit.Context(), "restore_created", "ok", path="Documents")
            raise RuntimeError("the restore could not be created")
        audit.record(audit.Context(), "list", "ok", path="kept")
    assert len(callbacks) == 1
    assert 'path="kept"' in udp_listener.recv(65535).decode()


def test_a_siem_that_is_down_does_not_fail_the_action(settings, django_capture_on_commit_callbacks):
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    settings.AUDIT_SYSLOG = f"tcp://127.0.0.1:{port}"
    with django_capture_on_commit_callbacks(execute=True):
        event = audit.record(audit.Context(), "list", "ok", path="Documents")
    assert AuditEvent.objects.filter(pk=event.pk).exists()
