"""Database models, one module per concern. No I/O here: services in restore/*.py are the only writers."""

from .core import AuditChainHead, AuditEvent, AuditEventQuerySet, Identity, Role  # noqa: F401
