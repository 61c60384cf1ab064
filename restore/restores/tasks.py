"""Celery tasks: thin, they take IDs and call restore/restores/runner.py. The job row is the truth.

``run_restore`` is idempotent (a conditional claim, phases saved after each step), so it is
acknowledged late and given back when its worker is lost. The broker's visibility timeout is
longer than the longest restore, so a job whose worker died is found by the sweep instead: on
every worker's start and on the beat schedule, queued jobs that wait too long (a broker restarted
without its messages) and running jobs whose worker went silent are queued again.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.db.models import Q
from django.utils import timezone

from restore import smb
from restore.models import JobState, RestoreJob
from restore.restores import claims, cleanup
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
    except (OperationalError, InterfaceError) as exc:
        # The database went away under the job (a terminated backend, a failover, a deadlock victim): give
        # the job back on a new connection and try again in a second, as for a lost file-server connection.
        _give_back_after_database_error(job_id, worker, exc)
        attempt = self.request.retries + 1
        if attempt > settings.RESTORE_RETRIES:
            copying.fail(job_id, f"the database failed {attempt} times in a row: {exc}")
            return JobState.FAILED
        raise self.retry(exc=exc, countdown=min(30, 2 ** min(self.request.retries, 5) - 1))
    except SoftTimeLimitExceeded:
        copying.fail(job_id, f"the restore took longer than {settings.RESTORE_MAX_SECONDS} s and was stopped")
        return JobState.FAILED
    if outcome == "busy":  # another worker holds it and is alive: look again once it could be stale
        raise self.retry(countdown=settings.RESTORE_STALE_SECONDS)
    return outcome


def _give_back_after_database_error(job_id, worker: str, exc: Exception) -> None:
    """Drop the broken connection and release the job on a fresh one (tried for a few seconds, so a
    retry lands on a queued job instead of one that looks held by a live worker)."""
    log.warning("restore %s: database error, the job is given back and retried: %s", job_id, exc)
    for wait in (0, 0.5, 1, 2, 4):
        time.sleep(wait)
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
            if conn.in_atomic_block or not conn.is_usable():
                conn.close()
        try:
            claims.release(job_id, worker, f"the database connection failed: {exc}")
            return
        except (OperationalError, InterfaceError) as again:
            log.warning("restore %s: the database is still failing: %s", job_id, again)


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
    left = cleanup.tidy_all()  # temporaries and kept copies of failed items, once their server answers
    if left:
        log.info("restore sweep: %d failed item(s) still to tidy (file server unreachable)", left)
    return len(lost)


@worker_ready.connect
def _sweep_on_start(sender=None, **kwargs):
    try:
        sweep_restores(startup=True)
    except Exception:
        log.exception("restore sweep at worker start failed")
    finally:
        close_old_connections()
