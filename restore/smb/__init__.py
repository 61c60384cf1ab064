"""The SMB adapter: the only code in the project that talks to file servers (and imports smbprotocol).

Everything else uses these names::

    from restore import smb
    client = smb.client_for("fs01")                 # the service account, pooled
    for snap in client.enumerate_snapshots("data", r"alice\\Documents"): ...
    entries = client.list_dir("data", r"alice\\Documents", at=snap.at)
"""

from .client import Client, client_for, service_credentials, settings_options
from .errors import AccessDenied, AlreadyExists, ConnectionLost, NotFound, ReparsePoint, SmbError, Unreachable
from .handles import MAX_CHUNK, ReadHandle, WriteHandle
from .pool import reset_pool
from .types import UNREADABLE, Credentials, Entry, Snapshot, Unreadable

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "Client",
    "ConnectionLost",
    "Credentials",
    "Entry",
    "MAX_CHUNK",
    "NotFound",
    "ReparsePoint",
    "ReadHandle",
    "SmbError",
    "Snapshot",
    "UNREADABLE",
    "Unreachable",
    "Unreadable",
    "WriteHandle",
    "client_for",
    "reset_pool",
    "service_credentials",
    "settings_options",
]
