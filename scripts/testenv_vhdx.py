"""Disk images for the sample containers: a GPT disk around an NTFS partition image, its conversion
to a dynamic VHDX with qemu-img, and a VHDX differencing disk made from two raw disks.

qemu-img cannot write VHDX differencing disks ("Backing file not supported for file format
'vhdx'"), so :func:`make_differencing` converts the changed disk to a dynamic VHDX and turns it into
a child of its parent as [MS-VHDX] describes: the HasParent file parameter, a parent locator
(``parent_linkage`` = the parent's DataWriteGuid, ``relative_path`` = ``.\\<parent name>``), and
every payload block equal to the parent's marked NOT_PRESENT so it is read from the parent.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
import uuid
from pathlib import Path

MIB = 1024 * 1024


def run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


_GPT: dict[int, tuple[bytes, bytes]] = {}


def gpt(size_mib: int) -> tuple[bytes, bytes]:
    """The first and last MiB of a ``size_mib`` disk partitioned by sgdisk: protective MBR + GPT,
    and the backup GPT. Made once per size (sgdisk takes a second a run), so containers of one
    size share their disk and partition GUIDs, like copies of one golden image."""
    if size_mib not in _GPT:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "gpt.raw"
            with open(raw, "wb") as f:
                f.truncate(size_mib * MIB)
            last = 2047 + (size_mib - 2) * MIB // 512
            run("sgdisk", "-o", "-n", f"1:2048:{last}", "-t", "1:0700", "-c", "1:Basic data partition", str(raw))
            with open(raw, "rb") as f:
                head = f.read(MIB)
                f.seek(-MIB, os.SEEK_END)
                _GPT[size_mib] = (head, f.read(MIB))
    return _GPT[size_mib]


def data_extents(path: Path) -> list[tuple[int, int]]:
    """(start, end) of the parts of a sparse file that hold data."""
    extents = []
    with open(path, "rb") as f:
        end, offset = os.fstat(f.fileno()).st_size, 0
        while offset < end:
            try:
                data = os.lseek(f.fileno(), offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole after offset
                break
            offset = os.lseek(f.fileno(), data, os.SEEK_HOLE)
            extents.append((data, offset))
    return extents


def assemble(part: Path, raw: Path, size_mib: int) -> Path:
    """A GPT disk of ``size_mib`` with one basic-data partition at 1 MiB holding ``part`` (sparse copy)."""
    head, tail = gpt(size_mib)
    raw.unlink(missing_ok=True)
    with open(part, "rb") as src, open(raw, "wb") as dst:
        dst.truncate(size_mib * MIB)
        dst.write(head)
        dst.seek(-MIB, os.SEEK_END)
        dst.write(tail)
        for start, end in data_extents(part):
            src.seek(start)
            dst.seek(MIB + start)
            for pos in range(start, end, 4 * MIB):
                dst.write(src.read(min(4 * MIB, end - pos)))
    return raw


def to_vhdx(raw: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    run("qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic,block_size=1M", str(raw), str(out))
    return out


# --- a VHDX differencing disk from two raw disks -------------------------------------------------

PARENT_LOCATOR = uuid.UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
VHDX_LOCATOR_TYPE = uuid.UUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")
FILE_PARAMETERS = uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
BAT_REGION = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
METADATA_REGION = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
NOT_PRESENT, ZERO = 0, 2


def _regions(f) -> dict[uuid.UUID, tuple[int, int]]:
    f.seek(3 * 64 * 1024)
    signature, _checksum, count, _ = struct.unpack("<4sIII", f.read(16))
    assert signature == b"regi"
    out = {}
    for _ in range(count):
        guid, offset, length, _required = struct.unpack("<16sQII", f.read(32))
        out[uuid.UUID(bytes_le=guid)] = (offset, length)
    return out


def data_write_guid(vhdx: Path) -> uuid.UUID:
    with open(vhdx, "rb") as f:
        best = None
        for at in (64 * 1024, 128 * 1024):
            f.seek(at)
            signature, _checksum, sequence, _file_write, data_write = struct.unpack("<4sIQ16s16s", f.read(48))
            if signature == b"head" and (best is None or sequence > best[0]):
                best = (sequence, data_write)
    return uuid.UUID(bytes_le=best[1])


def make_differencing(parent_vhdx: Path, parent_raw: Path, child_raw: Path, out: Path) -> Path:
    """``out``: a differencing VHDX whose parent is ``parent_vhdx`` (in the same folder) and whose
    content reads as ``child_raw``; ``parent_raw`` is the parent's content."""
    to_vhdx(child_raw, out)
    locator = {"parent_linkage": "{" + str(data_write_guid(parent_vhdx)) + "}",
               "relative_path": f".\\{parent_vhdx.name}", "volume_path": "",
               "absolute_win32_path": f"C:\\FSLogix\\{parent_vhdx.name}"}
    with open(out, "r+b") as f:
        regions = _regions(f)
        block_size = _add_parent_locator(f, regions[METADATA_REGION][0], locator)
        _point_blocks_at_parent(f, regions[BAT_REGION][0], block_size, parent_raw, child_raw)
    return out


def _add_parent_locator(f, meta: int, pairs: dict[str, str]) -> int:
    """Set HasParent and append a parent locator item to the metadata region; returns the block size."""
    f.seek(meta)
    signature, _, count = struct.unpack("<8sHH", f.read(12))
    assert signature == b"metadata"
    entries = []
    for i in range(count):
        f.seek(meta + 32 + 32 * i)
        entries.append(struct.unpack("<16sIII4x", f.read(32)))
    (parameters,) = [offset for guid, offset, _, _ in entries if uuid.UUID(bytes_le=guid) == FILE_PARAMETERS]
    f.seek(meta + parameters)
    block_size, flags = struct.unpack("<II", f.read(8))
    f.seek(meta + parameters + 4)
    f.write(struct.pack("<I", flags | 0x2))  # HasParent
    table, data, pos = b"", b"", 20 + 12 * len(pairs)
    for key, value in pairs.items():
        k, v = key.encode("utf-16-le"), value.encode("utf-16-le")
        table += struct.pack("<IIHH", pos, pos + len(k), len(k), len(v))
        data += k + v
        pos += len(k) + len(v)
    locator = VHDX_LOCATOR_TYPE.bytes_le + struct.pack("<HH", 0, len(pairs)) + table + data
    item = (max(offset + length for _, offset, length, _ in entries) + 7) // 8 * 8
    f.seek(meta + item)
    f.write(locator)
    f.seek(meta + 32 + 32 * count)
    f.write(PARENT_LOCATOR.bytes_le + struct.pack("<III4x", item, len(locator), 0x6))  # virtual disk, required
    f.seek(meta + 10)
    f.write(struct.pack("<H", count + 1))
    return block_size


def _point_blocks_at_parent(f, bat: int, block_size: int, parent_raw: Path, child_raw: Path) -> None:
    """A block equal to the parent's is NOT_PRESENT (read from the parent); one the child zeroed is ZERO."""
    chunk_ratio = (2 ** 23 * 512) // block_size  # a sector bitmap entry follows every chunk_ratio blocks
    holding = {b for path in (parent_raw, child_raw) for start, end in data_extents(path)
               for b in range(start // block_size, (end - 1) // block_size + 1)}
    with open(parent_raw, "rb") as parent, open(child_raw, "rb") as child:
        for block in range((child_raw.stat().st_size + block_size - 1) // block_size):
            at = bat + 8 * (block + block // chunk_ratio)
            f.seek(at)
            (entry,) = struct.unpack("<Q", f.read(8))
            if block in holding:
                child.seek(block * block_size)
                parent.seek(block * block_size)
                same = child.read(block_size) == parent.read(block_size)
            else:
                same = True  # zeros in both
            if same:
                entry = NOT_PRESENT
            elif entry & 0x7 in (NOT_PRESENT, ZERO):
                entry = ZERO
            f.seek(at)
            f.write(struct.pack("<Q", entry))
