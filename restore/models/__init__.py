"""Database models, one module per concern. No I/O here: services in restore/*.py are the only writers."""

from .core import AuditChainHead, AuditEvent, AuditEventQuerySet, Identity, Role  # noqa: F401
from .helpdesk import ActingFor  # noqa: F401
from .catalog import (  # noqa: F401
    CatalogEntry,
    CatalogSecurityDescriptor,
    CatalogSnapshot,
    CatalogSource,
    CatalogVersion,
    SnapshotState,
)
from .related import RelatedRule  # noqa: F401
from .jobs import (  # noqa: F401
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
