"""The audit trail: append-only records in a hash chain.

``record()`` is the only writer. It runs inside the caller's transaction (or its own),
locks the chain head, and stores each record with ``hash = sha256(prev_hash + content)``,
so a record changed, removed or inserted directly in the database breaks the chain
(``manage.py verify_audit`` reports the first broken link).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import anchor, syslog
from .models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
log = logging.getLogger("vdiprotect.audit")


class Action:
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    ACCESS_DENIED = "access_denied"
    LIST = "list"
    SNAPSHOTS = "snapshots"
    TIMELINE = "timeline"
    PREVIEW = "preview"
    DOWNLOAD = "download"
    DRY_RUN = "dry_run"
    RESTORE_CREATED = "restore_created"
    RESTORE_ITEM = "restore_item"
    RESTORE_FINISHED = "restore_finished"
    RESTORE_CANCELLED = "restore_cancelled"
    DOWNLOAD_STARTED = "download_started"  # a download-mode restore's zip began streaming
    ZIP_MEMBER = "zip_member"  # one file (or folder) of that zip, recorded before its bytes are sent
    DOWNLOAD_COMPLETED = "download_completed"  # the whole zip was handed over, SHA256SUMS.txt last
    DOWNLOAD_ABORTED = "download_aborted"  # the stream stopped early (client gone, server error)
    ACT_FOR_START = "act_for_start"
    ACT_FOR_END = "act_for_end"
    CONFIG_CHANGE = "config_change"
    SEARCH = "search"
    AUDIT_EXPORT = "audit_export"  # an auditor took a copy of (part of) the trail


class Result:
    OK = "ok"
    FAILED = "failed"
    LOCKED = "locked"
    DENIED = "denied"
    INVALID = "invalid"


# The frozen names and SIDs identify the people; the foreign keys are only links to Django's users and
# are cleared (SET NULL) when a user is removed, so they are not hashed: removing a user keeps the chain.
HASHED_FIELDS = (
    "at", "actor_username", "actor_sid", "acting_for_username", "acting_for_sid", "role", "source_ip",
    "request_id", "action", "root", "path", "snapshot", "result", "details",
)  # fmt: skip
LEGACY_HASHED_FIELDS = HASHED_FIELDS + ("actor_id", "acting_for_id")  # records written before that change


def event_hash(event: AuditEvent, prev_hash: str, fields: tuple[str, ...] = HASHED_FIELDS) -> str:
    content = {name: getattr(event, name) for name in fields}
    content["at"] = event.at.isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def hash_matches(event: AuditEvent, prev_hash: str) -> bool:
    return event.hash in (event_hash(event, prev_hash), event_hash(event, prev_hash, LEGACY_HASHED_FIELDS))


@dataclass(frozen=True)
class Context:
    """Who is acting, from where: taken from the request, or given by a worker."""

    actor: object = None  # a User or None
    acting_for: object = None
    role: str = ""
    source_ip: str | None = None
    request_id: str = ""
    ticket: str = ""  # the helpdesk ticket while acting for someone; kept in each record's details

    @classmethod
    def from_request(cls, request, *, role: str = "", acting_for=None, ticket: str = "") -> "Context":
        user = getattr(request, "user", None)
        return cls(
            actor=user if user is not None and user.is_authenticated else None,
            acting_for=acting_for,
            role=role,
            source_ip=client_ip(request),
            request_id=getattr(request, "request_id", ""),
            ticket=ticket,
        )


def client_ip(request) -> str | None:
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or None


def _frozen_identity(user) -> tuple[str, str]:
    if user is None:
        return "", ""
    identity = getattr(user, "identity", None) if hasattr(user, "identity") else None
    try:
        return user.get_username(), (identity.sid if identity else "")
    except Exception:  # RelatedObjectDoesNotExist: a local account has no identity
        return user.get_username(), ""


def record(
    context: Context,
    action: str,
    result: str,
    *,
    root: str = "",
    path: str = "",
    snapshot: str = "",
    details: dict | None = None,
    actor_username: str = "",
) -> AuditEvent:
    """Append one record. Call it inside the transaction of the action it describes."""
    actor_name, actor_sid = _frozen_identity(context.actor)
    for_name, for_sid = _frozen_identity(context.acting_for)
    every = settings.AUDIT_ANCHOR_EVERY
    with transaction.atomic():
        # The head is read under the write lock, so two writers never chain onto the same record:
        # PostgreSQL locks the row; SQLite has no row locks, its BEGIN IMMEDIATE (settings) locks the file.
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS})
        prev_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() if every else None
        event = AuditEvent(
            at=timezone.now(),
            actor=context.actor,
            actor_username=actor_name or actor_username,
            actor_sid=actor_sid,
            acting_for=context.acting_for,
            acting_for_username=for_name,
            acting_for_sid=for_sid,
            role=context.role,
            source_ip=context.source_ip,
            request_id=context.request_id,
            action=action,
            root=root,
            path=path,
            snapshot=snapshot,
            result=result,
            details={**(details or {}), **({"ticket": context.ticket} if context.ticket else {})},
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(event, head.last_hash)
        event.save()
        AuditChainHead.objects.filter(pk=1).update(last_hash=event.hash)
        anchor_due = anchor.due(prev_id, event.id, every)
        if settings.AUDIT_SYSLOG or anchor_due:  # once the action and its record are committed
            transaction.on_commit(lambda: _after_commit(event, anchor_due), robust=True)
    log.info("audit %s %s %s %s", event.actor_username or "-", action, result, path)
    return event


def _after_commit(event: AuditEvent, anchor_due: bool) -> None:
    """The record to the SIEM; every AUDIT_ANCHOR_EVERY records, the chain head outside the database."""
    syslog.forward(event)
    if anchor_due:
        anchor.write(anchor.head_through(event))


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
    the first anchor (restore/anchor.py) the chain no longer holds at its anchored position."""
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
