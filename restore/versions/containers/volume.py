"""A profile container opened for reading: folders, files, streams and security descriptors of the
NTFS volume inside it.

Only the metadata a question needs is read: opening reads the boot sector and a few system MFT
records ($MFT, $Secure, $Extend); listing a folder walks the folder path through the directory
indexes, then reads that folder's $I30 index and the MFT record of each entry in it (for its
times, size and security id) and each distinct security descriptor once (through $Secure's $SII
index). Nothing is written, ever; reparse points (junctions, symbolic links) are listed but never
followed, so a path always names what is stored under that name.

Paths are relative to the volume's root, backslash-separated and validated with
:func:`restore.versions.paths.normalize` (FSLogix keeps everything under ``Profile`` or ``ODFC``). A
Container is not shared between threads without its lock: every public method takes it.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import BinaryIO

from dissect.cstruct.exceptions import Error as CstructError
from dissect.hypervisor.exceptions import Error as HypervisorError
from dissect.ntfs import NTFS
from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE
from dissect.ntfs.exceptions import Error as NtfsError
from dissect.volume.exceptions import Error as VolumeError

from restore.smb.types import Entry, from_filetime
from restore.versions.containers.disk import OpenParent, ntfs_volume, open_virtual_disk
from restore.versions.containers.errors import (
    ContainerCorrupt,
    ContainerError,
    EncryptedFile,
    EntryError,
    IsADirectory,
    NotADirectory,
    NotFound,
)
from restore.versions.paths import PathError, normalize

FIRST_USER_RECORD = 24  # MFT records 0-23 are the volume's own ($MFT, $LogFile, $Secure, ..., reserved)
ROOT_RECORD = 5
FILE_NAME_DOS = 2  # the 8.3 alias of a name; the long name has its own index entry
FILE_ATTRIBUTE_DIRECTORY = 0x10
FILE_ATTRIBUTE_REPARSE_POINT = 0x400
FILE_ATTRIBUTE_ENCRYPTED = 0x4000
_SDS_HEADER = struct.Struct("<IIQI")  # hash, security id, offset in $SDS, length (header included)
_PARSE_ERRORS = (EOFError, struct.error, ValueError, KeyError, IndexError, TypeError, NotImplementedError,
                 UnicodeDecodeError, NtfsError, CstructError, HypervisorError, VolumeError)


@dataclass(frozen=True)
class ContainerEntry(Entry):
    """A file or folder inside a container, in the shape the rest of the app uses (``Entry``), plus
    its NT security descriptor (self-relative bytes, for :mod:`restore.nt.descriptors` and
    :mod:`restore.nt.access`), its MFT record number and whether it is a link (never followed)."""

    security_descriptor: bytes = b""
    record: int = 0
    is_link: bool = False


def _translated(method):
    """Parse failures of the container's structures become ContainerCorrupt; our own errors, a
    rejected path and the I/O errors of the underlying file (e.g. smb.ConnectionLost) pass through."""
    @wraps(method)
    def run(self, *args, **kwargs):
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except (ContainerError, EntryError, PathError):
                raise
            except _PARSE_ERRORS as exc:
                raise ContainerCorrupt(f"its file system cannot be read ({type(exc).__name__}: {exc})",
                                       container=self.name) from exc
    return run


class Container:
    """Open with :func:`open_container`."""

    def __init__(self, fh: BinaryIO, *, name: str = "", open_parent: OpenParent | None = None):
        self.name = name
        self._lock = threading.RLock()
        self._fh = fh
        self._parents: list[BinaryIO] = []  # opened through open_parent: ours to close
        try:
            self._open(open_parent)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        """Close the parent disks this container opened (the caller closes the ``fh`` it gave)."""
        while self._parents:
            self._parents.pop().close()

    @_translated
    def _open(self, open_parent: OpenParent | None) -> None:
        def tracked(relative: str) -> BinaryIO:
            parent = open_parent(relative)
            if parent is not None:
                self._parents.append(parent)
            return parent

        self.disk = open_virtual_disk(self._fh, name=self.name, open_parent=tracked if open_parent else None)
        self.ntfs = NTFS(ntfs_volume(self.disk, name=self.name))
        if self.ntfs.mft is None or self.ntfs.secure is None:
            raise ContainerCorrupt("the NTFS volume has no readable $MFT or $Secure", container=self.name)
        self.log_pending = bool(getattr(self.disk, "log_pending", False))
        self._sd = lru_cache(1024)(self._security_descriptor_by_id)

    # --- questions ----------------------------------------------------------------------------

    @_translated
    def stat(self, path: str) -> ContainerEntry:
        path = normalize(path)
        record = self._resolve(path)
        return self._entry(path.rpartition("\\")[2], record)

    @_translated
    def list_dir(self, path: str) -> list[ContainerEntry]:
        """The folder's entries (long names; the volume's own $-files are left out at the root)."""
        path = normalize(path)
        folder = self._resolve(path)
        if not folder.is_dir() or folder.is_reparse_point():
            raise NotADirectory("not a folder", path=path)
        entries = []
        for item in folder.index("$I30").entries():
            if item.attribute.flags == FILE_NAME_DOS:
                continue
            name = item.attribute.file_name
            record = item.dereference()
            if record.segment < FIRST_USER_RECORD:
                continue
            entries.append(self._entry(name, record))
        return entries

    @_translated
    def security_descriptor(self, path: str) -> bytes:
        return self._descriptor(self._resolve(normalize(path)))

    @_translated
    def list_streams(self, path: str) -> list[tuple[str, int]]:
        """Alternate data streams as (name, size), like ``smb.Client.list_streams``."""
        record = self._resolve(normalize(path))
        names = sorted({attr.name for attr in record.attributes[ATTRIBUTE_TYPE_CODE.DATA] if attr.name})
        return [(name, record.size(name)) for name in names]

    def iter_chunks(self, path: str, chunk_size: int = 1024 * 1024, stream: str = "") -> Iterator[bytes]:
        """A file's bytes (or one of its named streams) in chunks of ``chunk_size``."""
        data, size = self._open_stream(path, stream)
        for offset in range(0, size, chunk_size):
            yield self._read_at(data, offset, min(chunk_size, size - offset))

    def read(self, path: str, stream: str = "") -> bytes:
        return b"".join(self.iter_chunks(path, stream=stream))

    # --- plumbing -----------------------------------------------------------------------------

    @_translated
    def _open_stream(self, path: str, stream: str) -> tuple[BinaryIO, int]:
        path = normalize(path)
        record = self._resolve(path)
        if record.is_dir() and not stream:
            raise IsADirectory("a folder has no content to read", path=path)
        if self._standard_information(record).file_attributes & FILE_ATTRIBUTE_ENCRYPTED:
            raise EncryptedFile("the file is EFS-encrypted: only its owner's key can read it", path=path)
        if not record.has_stream(stream):
            raise NotFound(f"no stream named {stream!r}" if stream else "the file has no data", path=path)
        return record.open(stream), record.size(stream)

    @_translated
    def _read_at(self, data: BinaryIO, offset: int, length: int) -> bytes:
        data.seek(offset)
        chunk = data.read(length)
        if len(chunk) != length:
            raise ContainerCorrupt("a file's data runs past the end of the disk", container=self.name)
        return chunk

    def _resolve(self, path: str):
        """The MFT record under ``path``, walking each folder's index (links are not followed)."""
        node = self.ntfs.mft.get(ROOT_RECORD)
        walked = []
        for part in path.split("\\") if path else ():
            if not node.is_dir() or node.is_reparse_point():
                kind = "a link" if node.is_reparse_point() else "not a folder"
                raise NotADirectory(f"{kind}: links inside containers are not followed", path="\\".join(walked))
            try:
                node = node.index("$I30").search(part).dereference()
            except KeyError:
                raise NotFound("no such file or folder in the container", path=path) from None
            walked.append(part)
            if node.segment < FIRST_USER_RECORD:
                raise NotFound("no such file or folder in the container", path=path)
        return node

    @staticmethod
    def _standard_information(record):
        (si,) = record.attributes[ATTRIBUTE_TYPE_CODE.STANDARD_INFORMATION][:1] or (None,)
        if si is None:
            raise ContainerCorrupt(f"MFT record {record.segment} has no $STANDARD_INFORMATION")
        return si

    def _entry(self, name: str, record) -> ContainerEntry:
        si = self._standard_information(record)
        is_link = record.is_reparse_point()
        is_dir = record.is_dir()
        attributes = si.file_attributes | (FILE_ATTRIBUTE_DIRECTORY if is_dir else 0)
        return ContainerEntry(
            name=name, is_dir=is_dir, size=0 if is_dir or not record.has_stream("") else record.size(""),
            last_write=from_filetime(si.attr.LastModificationTime), created=from_filetime(si.attr.CreationTime),
            changed=from_filetime(si.attr.LastChangeTime), attributes=attributes,
            last_access=from_filetime(si.attr.LastAccessTime), security_descriptor=self._descriptor(record),
            record=record.segment, is_link=is_link)

    def _descriptor(self, record) -> bytes:
        """The record's own $SECURITY_DESCRIPTOR attribute (NTFS 1.x), else its entry in $Secure."""
        own = record.attributes[ATTRIBUTE_TYPE_CODE.SECURITY_DESCRIPTOR]
        if own:
            return own[0].data()
        return self._sd(self._standard_information(record).security_id)

    def _security_descriptor_by_id(self, security_id: int) -> bytes:
        secure = self.ntfs.secure
        try:
            (_hash, found_id, offset, length) = _SDS_HEADER.unpack(secure.sii.search(security_id).data[:20])
        except KeyError:
            raise ContainerCorrupt(f"security id {security_id} is not in $Secure", container=self.name) from None
        secure.sds.seek(offset)
        header = secure.sds.read(_SDS_HEADER.size)
        if len(header) < _SDS_HEADER.size or _SDS_HEADER.unpack(header)[1] != security_id or found_id != security_id:
            raise ContainerCorrupt(f"$Secure's entry for security id {security_id} is damaged", container=self.name)
        descriptor = secure.sds.read(length - _SDS_HEADER.size)
        if len(descriptor) != length - _SDS_HEADER.size:
            raise ContainerCorrupt(f"$Secure's entry for security id {security_id} is cut off", container=self.name)
        return descriptor


def open_container(fh: BinaryIO, *, name: str = "", open_parent: OpenParent | None = None) -> Container:
    """Open a VHD/VHDX profile container from a seekable, readable file object (read-only).

    ``open_parent(relative_path)`` opens a differencing disk's parent, given the path its locator
    records relative to the child's folder (``.\\Profile_x.vhdx``); it raises FileNotFoundError
    (or returns None) when there is none. Raises a :class:`ContainerError` subclass saying why a
    container cannot be read: NotAContainer, UnsupportedContainer, ContainerCorrupt,
    ContainerEncrypted, NotNtfs, ParentMissing."""
    return Container(fh, name=name, open_parent=open_parent)
