"""verify_audit on a live portal: records written while the walk runs never look like tampering."""

import threading

import pytest
from django.db import connection

from restore.audit import trail as audit
from restore.audit import verify

pytestmark = pytest.mark.django_db(transaction=True)

CONTEXT = audit.Context(source_ip="127.0.0.1", request_id="req-live")


def record_from_another_connection() -> None:
    """A record written by someone else (its own thread, so its own database connection) and committed."""
    def write():
        try:
            audit.record(CONTEXT, "list", "ok", root="data", path="Documents\\while-verifying.txt")
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()


def test_a_record_committed_during_the_walk_is_not_reported_as_removed_records(monkeypatch):
    for i in range(3):
        audit.record(CONTEXT, "list", "ok", root="data", path=f"Documents\\f{i}.txt")
    real, calls = verify.hash_matches, []

    def hash_then_write(event, prev):
        calls.append(event.id)
        if len(calls) == 3:  # the last record of the walk: someone signs in meanwhile
            record_from_another_connection()
        return real(event, prev)

    monkeypatch.setattr(verify, "hash_matches", hash_then_write)
    report = verify.verify_chain()
    assert report.ok, report.problem
    assert report.checked == 3  # the walk saw the trail as it was when it began

    monkeypatch.setattr(verify, "hash_matches", real)
    later = verify.verify_chain()
    assert later.ok and later.checked == 4
