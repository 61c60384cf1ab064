"""Restore jobs: what a restore would write where (the plan), starting, cancelling and reading jobs.

The plan is computed from the snapshot (what to bring back, with each object's ACL *in that
snapshot*) and from the live share (where it goes, with the live ACLs of the targets), for the
token of the person whose rights the job uses. A dry run returns the plan and writes nothing; a
real request stores the same plan as job and item rows in one transaction, audits it, and queues
the job's ID once the transaction commits. restore/restores/runner.py carries it out; every decision is
checked again there, in the worker, when the job runs.

Names, as Windows users know them from Explorer:
  alongside  ``report (restored 2026-11-01 1000).docx`` beside the original
  replace    the current copy is first kept as ``report (before restore 2026-11-25 1432).docx``
  to_folder  into a folder the person may write to, under the original names
  download   a streamed zip (restore/restores/zip.py)
Times in names are the portal's local time (TIME_ZONE), to the minute.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from restore.audit import locks
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.models import ACTIVE_STATES, JobState, Mode, Phase, RestoreItem, RestoreJob
from restore.models.jobs import WAITING_DOWNLOAD
from restore.nt.access import (
    Token,
)
from restore.restores.planning import make_plan
from restore.restores.requests import Request
from restore.versions import roots

log = logging.getLogger(__name__)


class Refused(Exception):
    """The restore may not run as asked (a target the person may not write to); nothing was written."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class TooBusy(Exception):
    """The person already has RESTORE_MAX_ACTIVE_PER_USER restores queued or running."""


def start(*, owner, requested_by, token: Token, request: Request, context: audit.Context, ticket: str = "",
          reason: str = "", content_blind: bool = False) -> RestoreJob:
    """Plan, then store the job and its items and audit it in one transaction; the job is queued
    once that commits (a download waits for the person to fetch it). Refused / TooBusy change nothing.
    ``content_blind``: started by a helpdesk member in content-blind mode (never a download; the
    views refuse it first, with a clear answer, and this refuses it again)."""
    first = request.selected[0]
    if content_blind and request.mode == Mode.DOWNLOAD:
        raise Refused(["a content-blind helpdesk member may not download the person's files"])
    plan = make_plan(token, request)
    if plan.problems:
        audit.record(context, Action.ACCESS_DENIED, Result.DENIED, root=first.root.id, path=first.path,
                     snapshot=first.snapshot.token, details={"operation": "restore", "problems": plan.problems})
        raise Refused(plan.problems)
    with transaction.atomic():
        locks.person(owner.pk)  # one start at a time per owner; then the chain head (restore/audit/locks.py)
        active = RestoreJob.objects.filter(owner=owner, state__in=ACTIVE_STATES).count()
        if active >= settings.RESTORE_MAX_ACTIVE_PER_USER:
            raise TooBusy(f"{owner.username} already has {active} restores queued or running; wait for one to "
                          "finish or cancel one")
        job = RestoreJob.objects.create(
            owner=owner, owner_username=owner.username, requested_by=requested_by,
            requested_by_username=requested_by.username, content_blind=content_blind, role=context.role,
            ticket=ticket, reason=reason,
            mode=request.mode, conflict=request.conflict,
            target_root=request.target_root.id if request.target_root else "", target_path=request.target_path,
            request=request.as_json(), state=JobState.READY if request.mode == Mode.DOWNLOAD else JobState.QUEUED,
            files_total=plan.files, bytes_total=plan.bytes, request_id=context.request_id,
            source_ip=context.source_ip)
        RestoreItem.objects.bulk_create([
            RestoreItem(job=job, seq=n, kind=i.kind, origin=i.origin, reason=i.reason, root=i.root, path=i.path,
                        at=i.at, size=i.size, source_last_write=i.last_write, source_created=i.created,
                        target_root=i.target_root, target_path=i.target_path,
                        keep_path="" if not i.keep else "?",  # decided when the job runs (its time is in the name)
                        phase=Phase.SKIPPED if i.action == "skip" else Phase.PENDING, note=i.note)
            for n, i in enumerate(plan.items)])
        audit.record(context, Action.RESTORE_CREATED, Result.OK, root=first.root.id, path=first.path,
                     snapshot=first.snapshot.token,
                     details={"job": str(job.id), "mode": job.mode, "conflict": job.conflict, "files": plan.files,
                              "bytes": plan.bytes, "request": request.as_json(), "ticket": ticket,
                              "content_blind": content_blind})
        if job.state == JobState.QUEUED:
            transaction.on_commit(lambda: enqueue(job.id))
    return job


def enqueue(job_id) -> bool:
    """Send the job to the workers. The job is committed already, so a broker that cannot be reached
    is no failure of the request: the job stays queued with no ``enqueued_at`` and the sweep
    (every RESTORE_SWEEP_SECONDS) sends it once the broker answers. Returns whether it was sent."""
    from restore.restores.tasks import run_restore

    try:
        run_restore.delay(str(job_id))
    except Exception as exc:  # kombu/redis connection errors, a broker refusing the message
        log.warning("restore %s is queued but could not be sent to the workers yet (%s: %s); the sweep sends it",
                    job_id, type(exc).__name__, exc)
        return False
    RestoreJob.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
    return True


def cancel(job: RestoreJob, context: audit.Context) -> RestoreJob:
    """A queued job ends at once; a running one stops at its next chunk (the worker finishes it).
    Cancelling an ended job changes nothing."""
    with transaction.atomic():
        job = locks.job(job.pk) or job  # the job, then the chain head (restore/audit/locks.py)
        if job.state not in (*ACTIVE_STATES, *WAITING_DOWNLOAD) or job.cancel_requested:
            return job
        if job.state == JobState.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
        else:
            job.state, job.cancel_requested, job.finished_at = JobState.CANCELLED, True, timezone.now()
            job.save(update_fields=["state", "cancel_requested", "finished_at"])
            job.items.filter(phase=Phase.PENDING).update(phase=Phase.SKIPPED, note="cancelled")
        audit.record(context, Action.RESTORE_CANCELLED, Result.OK, details={"job": str(job.id), "state": job.state})
    return job


def jobs_visible_to(subject):
    """The jobs of the person whose files the subject (restore.helpdesk.subject.Subject) works on: one's
    own, or, while a helpdesk member acts for someone, that person's. Never by who requested them:
    a member who stopped acting sees only their own again."""
    return RestoreJob.objects.filter(owner_id=subject.identity.user_id)


def job_for(subject, job_id) -> RestoreJob:
    """One of ``jobs_visible_to(subject)``; roots.NotFound (404) for any other, existing or not."""
    try:
        return jobs_visible_to(subject).get(pk=job_id)
    except (RestoreJob.DoesNotExist, ValueError, TypeError, ValidationError):
        raise roots.NotFound("no such restore") from None
