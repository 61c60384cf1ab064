"""Which worker runs a job: one conditional claim on the job row, released on a lost connection,
taken over from a dead worker."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from restore.audit import locks
from restore.models import JobState, RestoreJob

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_gone(worker: str) -> bool:
    """The worker process that holds a job is known to be dead (same host, no such process)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        with open(f"/proc/{int(pid)}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return state in ("Z", "X")  # a killed process nobody has reaped yet is gone too


# --- claiming ------------------------------------------------------------------------------------


def claim(job_id, worker: str) -> tuple[RestoreJob | None, str]:
    """Take the job for this worker with one conditional change: ``claimed``, or ``busy`` (another
    live worker runs it), ``ended``, ``gone``. A job whose worker died is taken over."""
    now = timezone.now()
    with transaction.atomic():
        job = locks.job(job_id)
        if job is None:
            return None, "gone"
        if job.state == JobState.RUNNING:
            stale = job.heartbeat_at is None or job.heartbeat_at < now - timedelta(seconds=settings.RESTORE_STALE_SECONDS)
            if not (stale or holder_is_gone(job.worker) or job.worker == worker):
                return job, "busy"
            log.warning("restore %s: taking over from %s", job.pk, job.worker)
        elif job.state != JobState.QUEUED:
            return job, "ended"
        job.state, job.worker, job.heartbeat_at = JobState.RUNNING, worker, now
        job.attempts += 1
        job.started_at = job.started_at or now
        job.save(update_fields=["state", "worker", "heartbeat_at", "attempts", "started_at"])
    return job, "claimed"


def release(job_id, worker: str, why: str) -> None:
    """Give the job back to the queue (a lost connection: the task retries with backoff)."""
    RestoreJob.objects.filter(pk=job_id, state=JobState.RUNNING, worker=worker).update(
        state=JobState.QUEUED, worker="", error=why)
