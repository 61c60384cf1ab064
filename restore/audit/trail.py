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

from restore.audit import anchor, locks, syslog
from restore.models import AuditChainHead, AuditEvent

GENESIS = locks.GENESIS


log = logging.getLogger("vdiprotect.audit")


class Action:
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    ACCESS_DENIED = "access_denied"
    LIST = "list"
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
    DELEGATION_FALLBACK = "delegation_fallback"  # the domain would not delegate a person: the service account read


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
        # Taken last (restore/audit/locks.py): a caller holding the person's or a job's row takes those first.
        head = locks.chain_head()
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
