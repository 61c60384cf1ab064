"""What can be wrong with a profile container, said so that a person knows what happened and what to do.

Container-level failures (the whole container cannot be read) derive from :class:`ContainerError`;
a path inside a readable container that is not there, or not of the kind asked for, raises
:class:`NotFound` / :class:`NotADirectory` / :class:`IsADirectory`. I/O errors of the file the
container is read from (e.g. the SMB adapter's ``ConnectionLost``) are not translated: they pass
through as they are, so a caller can retry them.
"""

from __future__ import annotations


class ContainerError(Exception):
    """The container cannot be read. ``reason`` is a short machine-readable word for the UI and the API."""

    reason = "unreadable"

    def __init__(self, message: str, *, container: str = ""):
        self.container = container
        where = f"{container}: " if container else ""
        super().__init__(where + message)


class NotAContainer(ContainerError):
    reason = "not-a-container"


class UnsupportedContainer(ContainerError):
    reason = "unsupported"


class ContainerCorrupt(ContainerError):
    reason = "corrupt"


class ContainerEncrypted(ContainerError):
    reason = "encrypted"


class NotNtfs(ContainerError):
    reason = "not-ntfs"


class ParentMissing(ContainerError):
    """A differencing container whose parent cannot be opened, or is not the disk it was made from."""

    reason = "parent-missing"


class EntryError(Exception):
    """A path inside a readable container: not there, or not what was asked for."""

    def __init__(self, message: str, *, path: str = ""):
        self.path = path
        super().__init__(f"{message}: {path}" if path else message)


class NotFound(EntryError):
    pass


class NotADirectory(EntryError):
    pass


class IsADirectory(EntryError):
    pass


class EncryptedFile(EntryError):
    """An EFS-encrypted file: its bytes cannot be read without the person's key."""
