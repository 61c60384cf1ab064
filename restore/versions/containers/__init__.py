"""Profile containers (FSLogix VHD/VHDX files): read the files inside one, read-only, from any
seekable file object — a local file in the tests, a file in a snapshot over SMB through
:mod:`restore.smb.randomaccess` in the portal — without copying or mounting it::

    from restore.containers import open_container
    from restore.smb import randomaccess
    with randomaccess.open_file(client, "fslogix", path, at) as fh:
        parent = randomaccess.sibling_opener(client, "fslogix", path, at)
        container = open_container(fh, name=path, open_parent=parent)
        for entry in container.list_dir("Profile\\Documents"): ...

See docs/containers.md. Pure reading: no Django, no views.
"""

from restore.versions.containers.errors import (
    ContainerCorrupt,
    ContainerEncrypted,
    ContainerError,
    EncryptedFile,
    EntryError,
    IsADirectory,
    NotAContainer,
    NotADirectory,
    NotFound,
    NotNtfs,
    ParentMissing,
    UnsupportedContainer,
)
from restore.versions.containers.volume import Container, ContainerEntry, open_container

__all__ = [
    "Container",
    "ContainerCorrupt",
    "ContainerEncrypted",
    "ContainerEntry",
    "ContainerError",
    "EncryptedFile",
    "EntryError",
    "IsADirectory",
    "NotAContainer",
    "NotADirectory",
    "NotFound",
    "NotNtfs",
    "ParentMissing",
    "UnsupportedContainer",
    "open_container",
]
