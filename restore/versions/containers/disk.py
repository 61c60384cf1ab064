"""The virtual disk of a container: VHDX (fixed, dynamic, differencing) or VHD (fixed, dynamic), read
from any seekable file-like object, and the NTFS volume on it.

dissect.hypervisor parses the formats; a differencing VHDX's parent is not looked for on a local
disk (as dissect would) but asked of the caller's ``open_parent`` callback with the path the child's
parent locator records relative to the child (e.g. ``.\\Profile_carol.vhdx``), so the SMB side
can open it in the same snapshot. The parent is checked to be the disk the child was made from:
its DataWriteGuid must equal the locator's ``parent_linkage`` (as Hyper-V checks it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import BinaryIO

from dissect.hypervisor.disk import vhdx as _vhdx
from dissect.hypervisor.disk.c_vhd import c_vhd
from dissect.hypervisor.disk.vhd import VHD
from dissect.volume.disk import Disk

from restore.versions.containers.errors import (
    ContainerCorrupt,
    ContainerEncrypted,
    NotAContainer,
    NotNtfs,
    ParentMissing,
    UnsupportedContainer,
)

OpenParent = Callable[[str], BinaryIO]
MAX_CHAIN = 16  # differencing disks on top of each other; FSLogix uses one
NTFS_OEM = b"NTFS    "
BITLOCKER_OEM = b"-FVE-FS-"
MSR_PARTITION = uuid.UUID("e3c9e316-0b5c-4db8-817d-f92df00215ae")  # Microsoft reserved: never a volume
VHD_DIFFERENCING = 4


def open_virtual_disk(fh: BinaryIO, *, name: str = "", open_parent: OpenParent | None = None, depth: int = 0):
    """The disk's contents as a seekable stream (with ``.size``), whatever the container format."""
    fh.seek(0)
    magic = fh.read(8)
    if magic == b"vhdxfile":
        return _ChildAwareVhdx(fh, name=name, open_parent=open_parent, depth=depth)
    size = fh.seek(0, 2)
    if size >= 512:
        fh.seek(size - 512)
        footer = fh.read(512)
        if footer[:8] == b"conectix":
            if c_vhd.footer(footer).disk_type == VHD_DIFFERENCING:
                raise UnsupportedContainer("differencing VHD files are not supported (VHDX ones are): "
                                           "merge the VHD into its parent, or convert it to VHDX", container=name)
            return VHD(fh)
    raise NotAContainer("this is not a VHD or VHDX file (no vhdxfile signature, no VHD footer)", container=name)


class _ChildAwareVhdx(_vhdx.VHDX):
    """dissect's VHDX, with the parent of a differencing disk resolved through ``open_parent``."""

    def __init__(self, fh: BinaryIO, *, name: str, open_parent: OpenParent | None, depth: int):
        # Mirrors dissect's VHDX.__init__ (headers, region table, metadata, BAT) except for the parent.
        self.fh, self.path = fh, None
        self.file_identifier = _vhdx.c_vhdx.file_identifier(fh)
        fh.seek(1 * _vhdx.ALIGNMENT)
        header1 = _vhdx.c_vhdx.header(fh)
        fh.seek(2 * _vhdx.ALIGNMENT)
        header2 = _vhdx.c_vhdx.header(fh)
        valid = [h for h in (header1, header2) if h.signature == b"head"]
        if not valid:
            raise ContainerCorrupt("neither VHDX header is valid", container=name)
        self.header = max(valid, key=lambda h: h.sequence_number)
        self.headers = [header1, header2]
        self.log_pending = any(self.header.log_guid)  # written while attached: the log was not replayed
        self.region_table = _vhdx.RegionTable(fh, 3 * _vhdx.ALIGNMENT)
        self.region_tables = [self.region_table]
        entry = self.region_table.get(_vhdx.METADATA_REGION_GUID)
        self.metadata = _vhdx.MetadataTable(fh, entry.file_offset, entry.length)
        self.size = self.metadata.get(_vhdx.VIRTUAL_DISK_SIZE_GUID)
        parameters = self.metadata.get(_vhdx.FILE_PARAMETERS_GUID)
        self.block_size = parameters.block_size
        self.has_parent = parameters.has_parent
        self.sector_size = self.metadata.get(_vhdx.LOGICAL_SECTOR_SIZE_GUID)
        self.id = uuid.UUID(bytes_le=self.metadata.get(_vhdx.VIRTUAL_DISK_ID_GUID).virtual_disk_id)
        if not self.block_size or not self.sector_size or self.block_size % self.sector_size:
            raise ContainerCorrupt("the VHDX block or sector size is invalid", container=name)
        self._sectors_per_block = self.block_size // self.sector_size
        self._chunk_ratio = ((2**23) * self.sector_size) // self.block_size
        self.parent = None
        self.parent_locator = None
        if self.has_parent:
            self.parent_locator = self.metadata.get(_vhdx.PARENT_LOCATOR_GUID)
            self.parent = self._open_parent(name, open_parent, depth)
        self.bat = _vhdx.BlockAllocationTable(self, self.region_table.get(_vhdx.BAT_REGION_GUID).file_offset)
        _vhdx.AlignedStream.__init__(self, self.size)

    def _open_parent(self, name: str, open_parent: OpenParent | None, depth: int):
        if self.parent_locator.type != _vhdx.VHDX_PARENT_LOCATOR_GUID:
            raise UnsupportedContainer(f"unknown parent locator type {self.parent_locator.type}", container=name)
        entries = self.parent_locator.entries
        relative = entries.get("relative_path") or ""
        if not relative and entries.get("absolute_win32_path"):
            relative = ".\\" + entries["absolute_win32_path"].replace("/", "\\").rpartition("\\")[2]
        if not relative:
            raise ParentMissing("this differencing disk does not say where its parent is", container=name)
        if open_parent is None:
            raise ParentMissing(f"this is a differencing disk; its parent {relative} was not given", container=name)
        if depth + 1 >= MAX_CHAIN:
            raise UnsupportedContainer(f"more than {MAX_CHAIN} differencing disks on top of each other",
                                       container=name)
        try:
            parent_fh = open_parent(relative)
        except (FileNotFoundError, LookupError, ValueError) as exc:
            raise ParentMissing(f"its parent disk {relative} is not there ({exc})", container=name) from exc
        if parent_fh is None:
            raise ParentMissing(f"its parent disk {relative} is not there", container=name)
        parent = open_virtual_disk(parent_fh, name=relative, open_parent=open_parent, depth=depth + 1)
        if not isinstance(parent, _vhdx.VHDX):
            raise ParentMissing(f"its parent {relative} is not a VHDX file", container=name)
        linkage = entries.get("parent_linkage", "").strip("{}").lower()
        actual = str(uuid.UUID(bytes_le=parent.header.data_write_guid))
        if linkage and linkage != actual and linkage != entries.get("parent_linkage2", "").strip("{}").lower():
            raise ParentMissing(f"its parent {relative} has changed since this differencing disk was made "
                                f"(DataWriteGuid {actual}, expected {linkage})", container=name)
        if parent.size != self.size or parent.sector_size != self.sector_size:
            raise ParentMissing(f"its parent {relative} has another size or sector size", container=name)
        return parent


def ntfs_volume(disk, *, name: str = ""):
    """The container's NTFS volume as a stream: the first NTFS partition (GPT or MBR), or the whole
    disk when it has no partition table. Raises ContainerEncrypted (BitLocker) or NotNtfs."""
    sector_size = getattr(disk, "sector_size", 512)
    disk.seek(0)
    first = disk.read(512)
    if first[3:11] == NTFS_OEM:
        return disk
    if first[3:11] == BITLOCKER_OEM:
        raise ContainerEncrypted("the volume is BitLocker-encrypted: unlock it on a desktop, or restore the "
                                 "whole container file instead", container=name)
    disk.seek(0)
    try:
        partitions = Disk(disk, sector_size=sector_size).partitions
    except Exception as exc:  # dissect tries every scheme and says why each failed
        raise NotNtfs("the disk has no partition table and no NTFS volume", container=name) from exc
    found = []
    for partition in partitions:
        if partition.type == MSR_PARTITION or not partition.size:
            continue
        stream = partition.open()
        stream.seek(0)
        oem = stream.read(512)[3:11]
        if oem == NTFS_OEM:
            return stream
        found.append(oem)
    if BITLOCKER_OEM in found:
        raise ContainerEncrypted("the volume is BitLocker-encrypted: unlock it on a desktop, or restore the "
                                 "whole container file instead", container=name)
    raise NotNtfs(f"none of its {len(partitions)} partition(s) holds an NTFS volume", container=name)

