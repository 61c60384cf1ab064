"""The audit trail is append-only and tamper-evident; verify_audit finds the first broken link."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from restore.audit import trail as audit
from restore.audit import verify
from restore.models import AuditEvent
from tests.support.audit_tamper import bypass_append_only_trigger

pytestmark = pytest.mark.django_db


def make_events(n=5):
    context = audit.Context(source_ip="127.0.0.1", request_id="req-0001")
    return [audit.record(context, "list", "ok", root="data", path=f"Documents\\f{i}.txt") for i in range(n)]


def test_each_record_links_to_the_previous_hash():
    events = make_events(3)
    assert events[0].prev_hash == audit.GENESIS
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert verify.verify_chain().ok and verify.verify_chain().checked == 3


def test_records_cannot_be_changed_or_deleted_through_the_application():
    event = make_events(1)[0]
    event.result = "failed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(result="failed")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


def test_verify_audit_reports_a_record_changed_in_the_database(capsys):
    events = make_events(5)
    call_command("verify_audit")
    bypass_append_only_trigger()  # as the table's owner can (the trigger refuses otherwise)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE restore_auditevent SET path = %s WHERE id = %s", ["Documents\\other.txt", events[2].id])
    with pytest.raises(CommandError, match=f"record {events[2].id}.*changed"):
        call_command("verify_audit")


def test_verify_audit_reports_a_record_removed_from_the_middle():
    events = make_events(4)
    bypass_append_only_trigger()  # as the table's owner can (the trigger refuses otherwise)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM restore_auditevent WHERE id = %s", [events[1].id])
    report = verify.verify_chain()
    assert not report.ok and report.first_broken_id == events[2].id and "removed" in report.problem


def test_verify_audit_reports_records_removed_at_the_end():
    events = make_events(3)
    bypass_append_only_trigger()  # as the table's owner can (the trigger refuses otherwise)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM restore_auditevent WHERE id = %s", [events[2].id])
    report = verify.verify_chain()
    assert not report.ok and "end" in report.problem
