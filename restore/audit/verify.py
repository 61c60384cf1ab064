"""Checking the audit trail: every record's hash and link recomputed, the first broken link reported."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from restore.audit import anchor
from restore.audit.trail import GENESIS, hash_matches
from restore.models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None = None
    problem: str = ""
    last_id: int | None = None  # the intact chain's head, for its anchor
    last_hash: str = GENESIS
    anchors_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problem


def verify_chain(anchors: list[anchor.Anchor] = ()) -> ChainReport:
    """Walk the whole chain in order; report the first record whose link or content is wrong, and
    the first anchor (restore/audit/anchor.py) the chain no longer holds at its anchored position.

    The records and the chain head are read from one snapshot of the database (REPEATABLE READ on
    PostgreSQL; a SQLite transaction is one already), so records written while the walk runs
    cannot make the head look ahead of the last record read."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return _walk(anchors)
    with transaction.atomic():
        return _walk(anchors)


def _walk(anchors) -> ChainReport:
    pending = sorted(anchors, key=lambda a: (a.last_id, a.count))
    prev, checked, last_id, next_anchor = GENESIS, 0, None, 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != prev:
            return ChainReport(checked, event.id, "previous-hash link broken (a record was removed or inserted)")
        if not hash_matches(event, prev):
            return ChainReport(checked, event.id, "content does not match its hash (the record was changed)")
        prev, last_id = event.hash, event.id
        checked += 1
        while next_anchor < len(pending) and pending[next_anchor].last_id <= event.id:
            problem = _anchor_problem(pending[next_anchor], event, checked)
            if problem:
                return ChainReport(checked, event.id, problem)
            next_anchor += 1
    if next_anchor < len(pending):
        newest = pending[-1]
        ends = f"ends at record {last_id} after {checked} records" if checked else "is empty"
        return ChainReport(checked, None, (
            f"the trail {ends}, but an anchor holds {newest.describe()}: the newest records were removed"))
    head = AuditChainHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
    if head is not None and head != prev:
        return ChainReport(checked, None, "chain head does not match the last record (records were removed at the end)")
    return ChainReport(checked, last_id=last_id, last_hash=prev, anchors_checked=len(pending))


def _anchor_problem(held: anchor.Anchor, event: AuditEvent, position: int) -> str:
    if held.last_id != event.id:
        return f"the anchor holds {held.describe()}, which is missing from the trail (records were removed)"
    if held.last_hash != event.hash:
        return f"the anchor holds {held.describe()} with another hash (the trail was rewritten)"
    if held.count != position:
        return f"record {event.id} is number {position} in the trail, but the anchor holds {held.describe()}"
    return ""
