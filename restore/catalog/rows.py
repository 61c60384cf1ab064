"""Rows of the catalog: a listed entry as a child row, its security descriptor stored once per distinct bytes."""

from __future__ import annotations

from restore import smb
from restore.catalog.logic import Child, FolderDiff
from restore.models.catalog import (
    CatalogSecurityDescriptor,
    CatalogVersion,
)


def sd_hash(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def child_row(entry: smb.Entry, name: str, sd: str | None) -> Child:
    return Child(name=name, is_dir=entry.is_dir, size=0 if entry.is_dir else entry.size, last_write=entry.last_write,
                 changed=entry.changed, attributes=entry.attributes, sd=sd)


def with_sd(child: Child, sd: str | None) -> Child:
    return Child(child.name, child.is_dir, child.size, child.last_write, child.changed, child.attributes, sd)


def fill_sds(diff: FolderDiff, sds: dict) -> FolderDiff:
    return FolderDiff(added=[with_sd(c, sds[c.key]) for c in diff.added],
                      changed=[(r, with_sd(c, sds[c.key])) for r, c in diff.changed],
                      removed=diff.removed, renamed=diff.renamed, unchanged=diff.unchanged)


def version_row(entry_id: int, n: int, child: Child, sd_ids: dict) -> CatalogVersion:
    return CatalogVersion(entry_id=entry_id, first_idx=n, last_idx=None, size=child.size, last_write=child.last_write,
                          changed=child.changed, attributes=child.attributes,
                          sd_id=sd_ids.get(child.sd) if child.sd else None)


def store_sd(sha: str, data: bytes) -> int:
    existing = CatalogSecurityDescriptor.objects.filter(sha256=sha).values_list("id", flat=True).first()
    if existing is not None:
        return existing
    CatalogSecurityDescriptor.objects.bulk_create([CatalogSecurityDescriptor(sha256=sha, data=data)],
                                                  ignore_conflicts=True)
    return CatalogSecurityDescriptor.objects.get(sha256=sha).id
