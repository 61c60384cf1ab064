"""Database models, one module per concern. No I/O here, and nothing of ours above them is imported: the
services in restore/<concern>/ are the only writers."""

from restore.models.catalog import (
    CatalogEntry,
    CatalogSecurityDescriptor,
    CatalogSnapshot,
    CatalogSource,
    CatalogVersion,
    SnapshotState,
)
from restore.models.core import AuditChainHead, AuditEvent, AuditEventQuerySet, Identity, Role
from restore.models.helpdesk import ActingFor
from restore.models.jobs import (
    ACTIVE_STATES,
    FINAL_STATES,
    Conflict,
    ItemKind,
    JobState,
    Mode,
    Phase,
    RestoreItem,
    RestoreJob,
)
from restore.models.related import RelatedRule

__all__ = [
    "CatalogEntry",
    "CatalogSecurityDescriptor",
    "CatalogSnapshot",
    "CatalogSource",
    "CatalogVersion",
    "SnapshotState",
    "AuditChainHead",
    "AuditEvent",
    "AuditEventQuerySet",
    "Identity",
    "Role",
    "ActingFor",
    "ACTIVE_STATES",
    "FINAL_STATES",
    "Conflict",
    "ItemKind",
    "JobState",
    "Mode",
    "Phase",
    "RestoreItem",
    "RestoreJob",
    "RelatedRule",
]
