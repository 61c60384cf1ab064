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


HASHED_FIELDS = (
    "at", "actor_id", "actor_username", "actor_sid", "acting_for_id", "acting_for_username",
    "acting_for_sid", "role", "source_ip", "request_id", "action", "root", "path", "snapshot",
    "result", "details",
)  # fmt: skip


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    content = {name: getattr(event, name) for name in HASHED_FIELDS}
    content["at"] = event.at.isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


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
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS})
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
        if settings.AUDIT_SYSLOG:  # to the SIEM once the action and its record are committed
            from . import syslog

            transaction.on_commit(lambda: syslog.forward(event))
    log.info("audit %s %s %s %s", event.actor_username or "-", action, result, path)
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def verify_chain() -> ChainReport:
    """Walk the whole chain in order; report the first record whose link or content is wrong."""
    prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != prev:
            return ChainReport(checked, event.id, "previous-hash link broken (a record was removed or inserted)")
        if event_hash(event, prev) != event.hash:
            return ChainReport(checked, event.id, "content does not match its hash (the record was changed)")
        prev = event.hash
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
    if head is not None and head != prev:
        return ChainReport(checked, None, "chain head does not match the last record (records were removed at the end)")
    return ChainReport(checked)
