"""What is catalogued: sources (\\\\server\\share or a folder of it), from settings or the admin site,
and which source covers a person's root or a path."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from restore.catalog import containers
from restore.catalog.logic import describe_progress, seconds_left
from restore.models.catalog import CatalogSnapshot, CatalogSource, SnapshotState
from restore.versions import paths
from restore.versions.container_roots import CONTAINER_KINDS
from restore.versions.paths import Unc

log = logging.getLogger(__name__)


def configured_uncs() -> list[Unc]:
    """CATALOG_SHARES, or else the shares that USER_ROOTS templates of folder roots point into (a
    container root's share holds VHDX files: what is inside them is catalogued, containers.discover)."""
    uncs: list[Unc] = []
    if settings.CATALOG_SHARES:
        for raw in settings.CATALOG_SHARES:
            uncs.append(paths.parse_unc(raw))
    else:
        from restore.versions.roots import root_templates

        for kind, template in root_templates():
            if kind in CONTAINER_KINDS:
                continue
            unc = paths.parse_unc(template.replace("%USERNAME%", "x").replace("%USERDOMAIN%", "x"))
            uncs.append(Unc(unc.server, unc.share))
    seen, out = set(), []
    for unc in uncs:
        key = (unc.server, unc.share.lower(), unc.path.lower())
        if key not in seen:
            seen.add(key)
            out.append(unc)
    return out


def register(unc: Unc) -> CatalogSource:
    source, created = CatalogSource.objects.get_or_create(server=unc.server.lower(), share=unc.share.lower(),
                                                          path=unc.path)
    if created:
        log.info("catalog: new source %s", source)
    return source


def ensure_configured() -> list[CatalogSource]:
    """The configured sources exist, and one per profile container found (sources added in the admin
    site stay too); the enabled ones."""
    for unc in configured_uncs():
        register(unc)
    containers.discover()
    return list(CatalogSource.objects.filter(enabled=True).order_by("id"))


@dataclass
class Progress:
    """A source as administrators see it: snapshots per state and the one being built."""

    source: CatalogSource
    counts: dict[str, int]
    current: CatalogSnapshot | None
    building: bool


def progress() -> list[Progress]:
    now = timezone.now()
    out = []
    for source in CatalogSource.objects.order_by("server", "share", "path"):
        counts = dict(CatalogSnapshot.objects.filter(source=source).values("state").annotate(n=Count("id"))
                      .values_list("state", "n"))
        current = (CatalogSnapshot.objects.filter(source=source)
                   .exclude(state__in=[SnapshotState.DONE, SnapshotState.GONE]).order_by("index").first())
        building = bool(source.lease_owner and source.lease_until and source.lease_until > now)
        out.append(Progress(source, {s: counts.get(s, 0) for s in SnapshotState.values}, current, building))
    return out


@dataclass(frozen=True)
class BuildState:
    """How far a source's catalog is, as a person searching it is told."""

    done: list[tuple[int, str]]  # (index, token) of the snapshots catalogued, oldest first
    pending: int  # snapshots waiting or being built
    building: bool
    seconds_left: float | None

    @property
    def total(self) -> int:
        return len(self.done) + self.pending

    @property
    def text(self) -> str:
        return describe_progress(len(self.done), self.total, self.seconds_left)


def build_state(source: CatalogSource) -> BuildState:
    """One query: every snapshot's state and times (a source has at most a few thousand)."""
    now = timezone.now()
    done, durations, pending, elapsed = [], [], 0, None
    for index, token, state, started, finished in (CatalogSnapshot.objects.filter(source=source).order_by("index")
                                                   .values_list("index", "token", "state", "started_at",
                                                                "finished_at")):
        if state == SnapshotState.DONE:
            done.append((index, token))
            if started and finished:
                durations.append((finished - started).total_seconds())
        elif state != SnapshotState.GONE:
            pending += 1
            if state == SnapshotState.BUILDING and started and elapsed is None:
                elapsed = (now - started).total_seconds()
    building = bool(source.lease_owner and source.lease_until and source.lease_until > now)
    return BuildState(done, pending, building, seconds_left(durations, pending, elapsed))
