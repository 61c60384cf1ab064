"""Our exceptions, and the one place where smbprotocol's failures are translated into them.

Callers catch ``NotFound`` / ``AccessDenied`` / ``AlreadyExists`` / ``ConnectionLost`` (retryable) or
the ``SmbError`` base; the NTSTATUS name and code travel along for logs and the audit trail.
"""

from __future__ import annotations

import socket

from smbprotocol.exceptions import (
    SMBAuthenticationError,
    SMBConnectionClosed,
    SMBException,
    SMBOSError,
    SMBResponseException,
)
from smbprotocol.header import NtStatus


class SmbError(Exception):
    """A file-server operation failed. ``status``/``status_name`` are set when the server said why."""

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None):
        self.status = status
        self.status_name = status_name(status) if status is not None else None
        self.path = path
        detail = f" ({self.status_name} 0x{status:08X})" if status is not None else ""
        where = f": {path}" if path else ""
        super().__init__(f"{message}{where}{detail}")


class NotFound(SmbError):
    """No such file, folder, share or snapshot."""


class AccessDenied(SmbError):
    """The server refused the operation for this identity (or the object is read-only, e.g. a snapshot)."""


class ReparsePoint(AccessDenied):
    """A live path to be written is (or passes through) a link: a junction, symbolic link, mount point
    or DFS link. Restores never write through one (the link could lead into someone else's folder)."""


class AlreadyExists(SmbError):
    """The name is taken (create without overwrite, rename without replace, mkdir of an existing folder)."""


class ConnectionLost(SmbError):
    """The connection or session went away or timed out; the operation may be retried."""


class Unreachable(ConnectionLost):
    """No connection to the file server could be made (refused, timed out, name unknown)."""


# Statuses smbprotocol has no constant for (values from [MS-ERREF] 2.3.1).
_EXTRA_STATUS = {
    0xC00000A2: "STATUS_MEDIA_WRITE_PROTECTED",
    0xC00000CA: "STATUS_NETWORK_ACCESS_DENIED",
    0xC00000D4: "STATUS_NOT_SAME_DEVICE",
    0xC000035C: "STATUS_NETWORK_SESSION_EXPIRED",
    0xC0000203: "STATUS_USER_SESSION_DELETED",
    0xC000020C: "STATUS_CONNECTION_DISCONNECTED",
    0xC000013B: "STATUS_LOCAL_DISCONNECT",
    0xC000013C: "STATUS_REMOTE_DISCONNECT",
    0xC0000008: "STATUS_INVALID_HANDLE",
    0xC0000054: "STATUS_FILE_LOCK_CONFLICT",
    0xC0000055: "STATUS_LOCK_NOT_GRANTED",
}
_NAMES = {v: k for k, v in vars(NtStatus).items() if k.startswith("STATUS_") and isinstance(v, int)}
_NAMES.update(_EXTRA_STATUS)


def status_name(status: int) -> str:
    return _NAMES.get(status, "STATUS_UNKNOWN")


def _code(name: str) -> int:
    return next(code for code, n in _NAMES.items() if n == name)


# status -> (exception class, plain message)
_MAP: dict[int, tuple[type[SmbError], str]] = {}
for _cls, _msg, _names in (
    (NotFound, "not found", ("STATUS_OBJECT_NAME_NOT_FOUND", "STATUS_OBJECT_PATH_NOT_FOUND", "STATUS_NO_SUCH_FILE",
                             "STATUS_NOT_FOUND", "STATUS_DELETE_PENDING")),
    (NotFound, "no such share", ("STATUS_BAD_NETWORK_NAME",)),
    (AccessDenied, "access denied", ("STATUS_ACCESS_DENIED", "STATUS_NETWORK_ACCESS_DENIED",
                                     "STATUS_PRIVILEGE_NOT_HELD")),
    (AccessDenied, "read-only (snapshots cannot be changed)", ("STATUS_MEDIA_WRITE_PROTECTED",)),
    (AccessDenied, "cannot delete", ("STATUS_CANNOT_DELETE",)),
    (AlreadyExists, "already exists", ("STATUS_OBJECT_NAME_COLLISION",)),
    (ConnectionLost, "the file server closed the session", ("STATUS_NETWORK_NAME_DELETED",
                                                            "STATUS_USER_SESSION_DELETED",
                                                            "STATUS_NETWORK_SESSION_EXPIRED")),
    (ConnectionLost, "the connection to the file server was lost", ("STATUS_CONNECTION_DISCONNECTED",
                                                                    "STATUS_LOCAL_DISCONNECT",
                                                                    "STATUS_REMOTE_DISCONNECT")),
    (ConnectionLost, "the file server timed out", ("STATUS_IO_TIMEOUT",)),
    (SmbError, "the file server is busy", ("STATUS_INSUFF_SERVER_RESOURCES", "STATUS_INSUFFICIENT_RESOURCES")),
    (SmbError, "in use by another program", ("STATUS_SHARING_VIOLATION",)),
    (SmbError, "part of the file is locked by another program", ("STATUS_FILE_LOCK_CONFLICT",
                                                                 "STATUS_LOCK_NOT_GRANTED")),
    (SmbError, "the folder is not empty", ("STATUS_DIRECTORY_NOT_EMPTY",)),
    (SmbError, "is a folder", ("STATUS_FILE_IS_A_DIRECTORY",)),
    (SmbError, "is not a folder", ("STATUS_NOT_A_DIRECTORY",)),
    (SmbError, "invalid name", ("STATUS_OBJECT_NAME_INVALID", "STATUS_OBJECT_PATH_INVALID",
                                "STATUS_OBJECT_PATH_SYNTAX_BAD")),
    (SmbError, "the disk is full", ("STATUS_DISK_FULL",)),
    (SmbError, "the server does not support this", ("STATUS_NOT_SUPPORTED", "STATUS_INVALID_DEVICE_REQUEST")),
    (SmbError, "sign-in to the file server failed", ("STATUS_LOGON_FAILURE", "STATUS_WRONG_PASSWORD",
                                                     "STATUS_PASSWORD_EXPIRED")),
):
    for _name in _names:
        _MAP[_code(_name)] = (_cls, _msg)


def from_status(status: int, path: str | None = None, action: str | None = None) -> SmbError:
    cls, message = _MAP.get(status, (SmbError, "the file server refused the request"))
    if action:
        message = f"{action}: {message}"
    return cls(message, status=status, path=path)


def is_connection_failure(exc: BaseException) -> bool:
    """Failures of the transport itself (not an answer from the server): a reconnect may help."""
    if isinstance(exc, ConnectionLost):
        return True
    if isinstance(exc, SMBResponseException):
        return _MAP.get(exc.status, (None,))[0] is ConnectionLost
    if isinstance(exc, SMBOSError):
        return False
    if isinstance(exc, (SMBConnectionClosed, ConnectionError, socket.timeout, TimeoutError, EOFError)):
        return True
    if isinstance(exc, OSError):  # EBADF, EPIPE... from a socket closed underneath us
        return True
    # smbprotocol reports a receive timeout and a dead worker thread as a plain SMBException.
    return isinstance(exc, SMBException) and "timeout" in str(exc).lower()


def translate(exc: BaseException, path: str | None = None, action: str | None = None) -> SmbError:
    """Any failure raised while talking to the server -> one of our exceptions (already ours: unchanged)."""
    if isinstance(exc, SmbError):
        return exc
    if isinstance(exc, SMBResponseException):
        return from_status(exc.status, path, action)
    prefix = f"{action}: " if action else ""
    if isinstance(exc, SMBAuthenticationError):
        return SmbError(f"{prefix}sign-in to the file server failed ({exc})", path=path)
    if is_connection_failure(exc):
        return ConnectionLost(f"{prefix}the connection to the file server was lost ({exc or type(exc).__name__})",
                              path=path)
    if isinstance(exc, ValueError) and "Failed to connect" in str(exc):  # smbprotocol's Tcp.connect
        return ConnectionLost(f"{prefix}cannot reach the file server ({exc})", path=path)
    return SmbError(f"{prefix}{exc}", path=path)
