"""Celery tasks of the snapshot catalog: thin, they take IDs and call restore/catalog/build.py.

``build_catalog`` is idempotent: a lease on the source lets one build run, every folder is a
checkpoint, and a build cut short (worker lost, deadline) continues where it stopped. A long build
works for CATALOG_TASK_SECONDS, then queues its own continuation, so no task holds a worker for
hours. ``refresh_catalogs`` runs on the beat schedule (CELERY_BEAT_SCHEDULE, every
CATALOG_REFRESH_SECONDS) and queues a build of every enabled source; it is also queued when a worker
starts (``worker_ready``), so a new installation is searchable from its first minute instead of after
the first refresh, and a source added in the admin site is built at once. Queuing twice is harmless:
the lease lets one build run, the other returns "busy". Administrators queue one on demand from the
admin site or ``POST /api/v1/catalog/<id>/build``.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from restore.catalog import build, sources
from restore.models.catalog import CatalogSource

log = logging.getLogger(__name__)


@shared_task(name="vdiprotect.catalog.build", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def build_catalog(source_id: int) -> dict:
    if not CatalogSource.objects.filter(id=source_id, enabled=True).exists():
        return {"source": source_id, "skipped": "no such enabled source"}
    outcome = build.build_source(source_id, deadline=time.monotonic() + settings.CATALOG_TASK_SECONDS)
    if outcome.more:
        build_catalog.delay(source_id)
    return outcome.as_dict()


@shared_task(name="vdiprotect.catalog.refresh", ignore_result=True)
def refresh_catalogs() -> list[int]:
    queued = []
    for source in sources.ensure_configured():
        build_catalog.delay(source.id)
        queued.append(source.id)
    return queued


@worker_ready.connect
def _build_when_the_worker_starts(sender=None, **kwargs) -> None:
    """Queued, not run here: the worker's main process does no database work of its own."""
    try:
        refresh_catalogs.delay()
    except Exception:  # a broker hiccup must not stop the worker; the beat refresh comes anyway
        log.warning("catalog: could not queue the start-up build", exc_info=True)


def request_build(source: CatalogSource) -> None:
    """An administrator asked for a build now."""
    CatalogSource.objects.filter(id=source.id).update(requested_at=timezone.now())
    build_catalog.delay(source.id)
