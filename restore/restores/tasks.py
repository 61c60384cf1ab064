"""Celery tasks: thin, they take IDs and call restore/restores/runner.py. The job row is the truth.

``run_restore`` is idempotent (a conditional claim, phases saved after each step), so it is
acknowledged late and given back when its worker is lost. The broker's visibility timeout is
longer than the longest restore, so a job whose worker died is found by the sweep instead: on
every worker's start and on the beat schedule, queued jobs that wait too long (a broker restarted
without its messages) and running jobs whose worker went silent are queued again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from restore import smb
from restore.models import JobState, RestoreJob
from restore.restores import claims
from restore.restores import runner as copying

log = logging.getLogger(__name__)


@shared_task(name="vdiprotect.restore.run", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None,
             soft_time_limit=settings.RESTORE_MAX_SECONDS, time_limit=settings.RESTORE_MAX_SECONDS + 120)
def run_restore(self, job_id: str) -> str:
    worker = claims.worker_name()
    try:
        outcome = copying.run_job(job_id, worker)
    except (smb.ConnectionLost, copying.DirectoryUnavailable) as exc:
        lost, unreachable = (("the file server connection was lost", "the file server could not be reached")
                             if isinstance(exc, smb.ConnectionLost) else
                             ("Active Directory could not be reached to re-read the person's groups",) * 2)
        claims.release(job_id, worker, f"{lost}: {exc}")
        attempt = self.request.retries + 1
        if attempt > settings.RESTORE_RETRIES:
            copying.fail(job_id, f"{unreachable} after {attempt} attempts: {exc}")
            return JobState.FAILED
        raise self.retry(exc=exc, countdown=min(300, 5 * 2 ** self.request.retries))
    except SoftTimeLimitExceeded:
        copying.fail(job_id, f"the restore took longer than {settings.RESTORE_MAX_SECONDS} s and was stopped")
        return JobState.FAILED
    if outcome == "busy":  # another worker holds it and is alive: look again once it could be stale
        raise self.retry(countdown=settings.RESTORE_STALE_SECONDS)
    return outcome


@shared_task(name="vdiprotect.restore.sweep")
def sweep_restores(startup: bool = False) -> int:
    """Queue again what may have been lost: queued jobs not picked up for RESTORE_REQUEUE_SECONDS
    (all of them when a worker starts) and running jobs silent for RESTORE_STALE_SECONDS.
    Duplicate messages are harmless: the claim lets one run."""
    now = timezone.now()
    waited = now - timedelta(seconds=0 if startup else settings.RESTORE_REQUEUE_SECONDS)
    silent = now - timedelta(seconds=settings.RESTORE_STALE_SECONDS)
    lost = RestoreJob.objects.filter(
        Q(state=JobState.QUEUED, enqueued_at__lte=waited) | Q(state=JobState.QUEUED, enqueued_at__isnull=True)
        | Q(state=JobState.RUNNING, heartbeat_at__lt=silent)
    ).values_list("pk", flat=True)
    lost = [pk for pk in lost] + [
        job.pk for job in RestoreJob.objects.filter(state=JobState.RUNNING, heartbeat_at__gte=silent)
        if claims.holder_is_gone(job.worker)]
    for pk in lost:
        RestoreJob.objects.filter(pk=pk).update(enqueued_at=now)
        run_restore.delay(str(pk))
    if lost:
        log.info("restore sweep: queued %d job(s) again", len(lost))
    return len(lost)


@worker_ready.connect
def _sweep_on_start(sender=None, **kwargs):
    try:
        sweep_restores(startup=True)
    except Exception:
        log.exception("restore sweep at worker start failed")
    finally:
        close_old_connections()
