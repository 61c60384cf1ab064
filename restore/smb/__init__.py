"""The SMB adapter: the only code in the project that talks to file servers (and imports smbprotocol).

Everything else uses these names::

    from restore import smb
    client = smb.client_for("fs01")                 # the service account, pooled
    for snap in client.enumerate_snapshots("data", r"alice\\Documents"): ...
    entries = client.list_dir("data", r"alice\\Documents", at=snap.at)
"""

from restore.smb.client import Client, client_for, service_credentials, settings_options
from restore.smb.errors import (
    AccessDenied,
    AlreadyExists,
    ConnectionLost,
    NotFound,
    ReparsePoint,
    SmbError,
    Unreachable,
)
from restore.smb.handles import MAX_CHUNK, ReadHandle, WriteHandle
from restore.smb.kerberos import KerberosError, NotDelegable
from restore.smb.people import client_for_person, delegating
from restore.smb.pool import reset_pool
from restore.smb.transfer import copy as copy_stream
from restore.smb.transfer import sha256_files
from restore.smb.types import UNREADABLE, Credentials, Entry, Snapshot, Unreadable

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "Client",
    "ConnectionLost",
    "Credentials",
    "Entry",
    "KerberosError",
    "NotDelegable",
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
    "copy_stream",
    "client_for_person",
    "delegating",
    "reset_pool",
    "service_credentials",
    "settings_options",
    "sha256_files",
]
