"""The trail refuses UPDATE and DELETE in PostgreSQL itself (migration 0007), and its head is anchored
outside the database (restore/audit/anchor.py), so cutting off the newest records and rewinding the chain
head is found by ``verify_audit --anchor``."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from restore.audit import anchor, verify
from restore.audit import trail as audit
from restore.models import AuditEvent
from tests.support.audit_tamper import bypass_append_only_trigger

pytestmark = pytest.mark.django_db


def make_events(n: int, actor=None) -> list[AuditEvent]:
    context = audit.Context(actor=actor, source_ip="127.0.0.1", request_id="req-anchor")
    return [audit.record(context, "download", "ok", root="data", path=f"Documents\\f{i}.txt") for i in range(n)]


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql: str, params=()) -> str:
    """Run ``sql`` in a savepoint; return PostgreSQL's refusal (the test fails if it was allowed)."""
    try:
        with transaction.atomic():
            raw(sql, params)
    except DatabaseError as exc:
        return str(exc)
    pytest.fail(f"the database allowed: {sql}")


# --- append-only in the database ----------------------------------------------------------------


def test_the_database_refuses_to_change_or_delete_an_audit_row_with_raw_sql():
    event = make_events(2)[0]
    assert "append-only (UPDATE refused" in refused(
        "UPDATE restore_auditevent SET path = %s WHERE id = %s", ["Documents\\harmless.txt", event.id])
    assert "append-only (DELETE refused" in refused("DELETE FROM restore_auditevent WHERE id = %s", [event.id])
    assert "append-only (DELETE refused" in refused("DELETE FROM restore_auditevent")
    assert AuditEvent.objects.get(pk=event.id).path == "Documents\\f0.txt" and AuditEvent.objects.count() == 2
    assert verify.verify_chain().ok


def test_the_foreign_key_exception_cannot_be_used_to_change_a_row_or_point_it_at_someone_else():
    mallory = get_user_model().objects.create_user("mallory")
    victim = get_user_model().objects.create_user("victim")
    event = make_events(1, actor=victim)[0]
    assert "refused" in refused("UPDATE restore_auditevent SET actor_id = NULL, result = 'failed' WHERE id = %s",
                                [event.id])
    assert "refused" in refused("UPDATE restore_auditevent SET actor_id = %s WHERE id = %s", [mallory.pk, event.id])
    assert "refused" in refused("UPDATE restore_auditevent SET acting_for_id = %s WHERE id = %s",
                                [mallory.pk, event.id])
    assert AuditEvent.objects.get(pk=event.id).actor_id == victim.pk


def test_deleting_a_django_user_keeps_their_records_with_the_frozen_name_and_the_chain_intact():
    person = get_user_model().objects.create_user("leaver")
    events = make_events(3, actor=person)
    person.delete()
    kept = AuditEvent.objects.filter(pk__in=[e.pk for e in events])
    assert kept.count() == 3
    assert {(e.actor_id, e.actor_username) for e in kept} == {(None, "leaver")}
    assert verify.verify_chain().ok


# --- anchors --------------------------------------------------------------------------------------


@pytest.fixture
def anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "audit-anchors.log")
    return tmp_path / "audit-anchors.log"


def test_every_n_records_the_head_goes_to_the_anchor_file_and_the_siem_once_committed(
        settings, anchor_file, udp_listener, django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 4
    settings.AUDIT_SYSLOG = "udp://127.0.0.1:%d" % udp_listener.getsockname()[1]
    with django_capture_on_commit_callbacks(execute=True):
        events = make_events(10)
    crossings = [e for prev, e in zip([None] + events, events, strict=False)  # an empty trail before them
                 if anchor.due(prev.id if prev else None, e.id, 4)]
    written = anchor.read(str(anchor_file))
    assert [(a.last_id, a.last_hash, a.count) for a in written] == [
        (e.id, e.hash, AuditEvent.objects.filter(id__lte=e.id).count()) for e in crossings]
    assert len(written) >= 2  # ten records pass at least two multiples of four
    received = []
    while True:
        try:
            received.append(udp_listener.recv(65535).decode(errors="replace"))
        except TimeoutError:
            break
        if len(received) == len(events) + len(written):
            break
    assert len(anchor.parse("\n".join(received))) == len(written)  # the SIEM holds the same anchors
    assert all(a.at for a in written)


def test_an_anchor_is_not_written_for_a_record_rolled_back_with_its_action(
        settings, anchor_file, django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 1
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            audit.record(audit.Context(), "restore_created", "ok", path="Documents")
            raise RuntimeError("the restore could not be created")
    assert not anchor_file.exists()


def test_cutting_off_the_newest_records_and_rewinding_the_head_is_found_only_with_the_anchor(anchor_file, capsys):
    events = make_events(6)
    call_command("verify_audit")  # anchors the head: 6 records, last id, last hash
    assert anchor.read(str(anchor_file))[-1] == anchor.Anchor(6, events[-1].id, events[-1].hash,
                                                              anchor.read(str(anchor_file))[-1].at)
    call_command("verify_audit", anchor=[str(anchor_file)])
    assert "intact: 6 records; consistent with 1 anchored head(s)" in capsys.readouterr().out

    # Someone with the table owner's rights hides the last three records and rewinds the head.
    bypass_append_only_trigger()
    raw("DELETE FROM restore_auditevent WHERE id >= %s", [events[3].id])
    raw("UPDATE restore_auditchainhead SET last_hash = %s WHERE id = 1", [events[2].hash])

    call_command("verify_audit")  # the chain alone is consistent: this is what the anchor is for
    with pytest.raises(CommandError) as refusal:
        call_command("verify_audit", anchor=[str(anchor_file)])
    message = str(refusal.value)
    assert f"record {events[-1].id} as number 6" in message and "newest records were removed" in message
    assert f"ends at record {events[2].id} after 3 records" in message


def test_newest_records_rewritten_with_a_fresh_chain_do_not_match_their_anchor(anchor_file):
    events = make_events(4)
    call_command("verify_audit")
    bypass_append_only_trigger()
    raw("DELETE FROM restore_auditevent WHERE id >= %s", [events[2].id])
    raw("UPDATE restore_auditchainhead SET last_hash = %s WHERE id = 1", [events[1].hash])
    raw("SELECT setval(pg_get_serial_sequence('restore_auditevent', 'id'), %s)", [events[1].id])
    replaced = make_events(2)  # the same ids, other content, correctly chained
    assert [e.id for e in replaced] == [e.id for e in events[2:]] and verify.verify_chain().ok
    with pytest.raises(CommandError, match=rf"record {events[-1].id} as number 4 .* another hash .*rewritten"):
        call_command("verify_audit", anchor=[str(anchor_file)])


def test_an_anchor_file_that_cannot_be_read_or_holds_no_anchors_is_an_error_not_a_pass(tmp_path):
    make_events(2)
    with pytest.raises(CommandError, match="cannot read the anchors in .*missing.log"):
        call_command("verify_audit", anchor=[str(tmp_path / "missing.log")])
    other = tmp_path / "messages"
    other.write_text("Dec  7 12:00:00 fs1 sshd[1]: Accepted publickey for root\n")
    with pytest.raises(CommandError, match="holds no audit anchors"):
        call_command("verify_audit", anchor=[str(other)])


def test_anchors_are_read_back_from_a_syslog_receivers_log_whatever_prefix_it_writes(tmp_path):
    events = make_events(3)
    head = anchor.Anchor(3, events[-1].id, events[-1].hash)
    line = anchor.syslog.format_anchor(count=3, last_id=head.last_id, last_hash=head.last_hash,
                                       at=events[-1].at)
    log = tmp_path / "siem.log"
    log.write_text(f"2026-12-07T12:00:00+00:00 portal {line}\nunrelated line\n")  # e.g. rsyslog's file output
    call_command("verify_audit", anchor=[str(log)])
    log.write_text(log.read_text().replace(f'count="3" id="{head.last_id}"', f'count="4" id="{head.last_id + 1}"'))
    with pytest.raises(CommandError, match="newest records were removed"):
        call_command("verify_audit", anchor=[str(log)])


def test_a_trail_emptied_with_truncate_is_found_by_the_anchor(anchor_file):
    make_events(3)
    call_command("verify_audit")
    raw("SET CONSTRAINTS ALL IMMEDIATE")
    raw("TRUNCATE restore_auditevent")  # not a row operation: the trigger does not see it
    raw("UPDATE restore_auditchainhead SET last_hash = %s WHERE id = 1", [audit.GENESIS])
    call_command("verify_audit")
    with pytest.raises(CommandError, match="the trail is empty, but an anchor holds record .* as number 3"):
        call_command("verify_audit", anchor=[str(anchor_file)])
