"""Copying a file on the file server itself: a block clone where the server can, else copychunk.

Both need the source's resume key or handle and a *new* destination opened by ``changes.py``.

* **Block clone** (FSCTL_DUPLICATE_EXTENTS_TO_FILE, [MS-FSCC] 2.3.8): the destination shares the
  source's blocks (ReFS; Samba on btrfs, XFS or ZFS with the right VFS module): no data moves at
  all. It is tried first; a server or file system that refuses it (Samba on ext4 answers
  STATUS_INVALID_DEVICE_REQUEST or STATUS_NOT_SUPPORTED) is remembered per share and the copy goes
  on with copychunk, so the refusal costs one round trip per share and process.
* **Copychunk** (FSCTL_SRV_COPYCHUNK_WRITE): the server reads and writes the bytes itself, 16 x
  1 MiB per request (Windows' and Samba's limits). The first request goes alone: if the server
  answers with smaller limits ([MS-SMB2] 3.3.5.15.6) they are used from then on; the rest are
  pipelined, ``SMB_COPY_DEPTH`` requests in flight, so the server's disk is never idle waiting for
  the next request.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

from smbprotocol.file_info import FileInformationClass, InfoType
from smbprotocol.ioctl import CtlCode, SMB2SrvCopyChunk, SMB2SrvCopyChunkCopy, SMB2SrvCopyChunkResponse

from restore.smb import errors, wire

log = logging.getLogger(__name__)

COPY_CHUNK = 1024 * 1024  # Samba's (and Windows') limits: 1 MiB per chunk, 16 MiB per request
COPY_CHUNKS_PER_REQUEST = 16
COPY_DEPTH = 4  # copychunk requests in flight (SMB_COPY_DEPTH)
FSCTL_DUPLICATE_EXTENTS_TO_FILE = 0x00098344
_INVALID_PARAMETER = 0xC000000D
_no_clone: set[tuple] = set()  # (server, share) that refused a block clone


class Copied(int):
    """The bytes a server-side copy wrote, and how: ``method`` is "clone" or "copychunk"."""

    method: str = "copychunk"

    def __new__(cls, value: int, method: str):
        obj = super().__new__(cls, value)
        obj.method = method
        return obj


def copy(ex: wire.Exchange, *, server: str, share: str, src_id: bytes, resume_key: bytes, size: int, target,
         progress: Callable[[int], None] | None, clone: bool = True, depth: int = COPY_DEPTH) -> Copied:
    """Copy ``size`` bytes of the source (open as ``src_id``, same share as ``target`` for a clone)
    into ``target`` (a WriteHandle of a new file)."""
    key = (server.lower(), share.lower())
    if clone and key not in _no_clone and size:
        refused = _clone(ex, src_id, target, size)
        if refused is None:
            if progress is not None:
                progress(size)
            return Copied(size, "clone")
        _no_clone.add(key)
        log.info("block clone refused by \\\\%s\\%s (%s): copying with copychunk", server, share, refused)
    return Copied(_copy_chunks(ex, target, resume_key, size, progress, max(1, depth)), "copychunk")


def forget_refusals() -> None:
    """Try block cloning again everywhere (tests; a file system changed under a share)."""
    _no_clone.clear()


def _clone(ex: wire.Exchange, src_id: bytes, target, size: int) -> str | None:
    """None when the server cloned the whole file; else the status name it refused with."""
    eof = wire.set_info(InfoType.SMB2_0_INFO_FILE, FileInformationClass.FILE_END_OF_FILE_INFORMATION,
                        struct.pack("<q", size), file_id=target.file_id)
    dup = wire.ioctl(FSCTL_DUPLICATE_EXTENTS_TO_FILE, file_id=target.file_id,
                     data=src_id + struct.pack("<qqq", 0, 0, size))
    (extended,), (cloned,) = ex.pipeline([[eof], [dup]])
    extended.check(target.path, "server-side copy")
    if cloned.ok:
        return None
    err = errors.from_status(cloned.status, target.path, "block clone")
    if isinstance(err, errors.ConnectionLost):
        raise err
    return err.status_name or hex(cloned.status)


def _copy_chunks(ex: wire.Exchange, target, resume_key: bytes, size: int,
                 progress: Callable[[int], None] | None, depth: int) -> int:
    chunk, per_request = COPY_CHUNK, COPY_CHUNKS_PER_REQUEST
    done = 0
    while done < size:  # the first request alone, until the server accepts the limits
        ranges = _ranges(done, size, chunk, per_request)
        (reply,) = ex.call(_request(target, resume_key, ranges))
        limits = _server_limits(reply) if reply.status == _INVALID_PARAMETER else None
        if limits is None:
            done += _written(reply, target, ranges)
            if progress is not None:
                progress(done)
            break
        max_chunks, max_chunk = limits  # the server states its limits instead: obey them
        if (max_chunks, max_chunk) == (per_request, chunk) or not max_chunks or not max_chunk:
            reply.check(target.path, "server-side copy")
        log.info("server-side copy limits: %d chunks of %d bytes", max_chunks, max_chunk)
        per_request, chunk = min(per_request, max_chunks), min(chunk, max_chunk)
    step = chunk * per_request
    batches = [_ranges(offset, size, chunk, per_request) for offset in range(done, size, step)]
    for ranges, (reply,) in zip(batches, ex.stream(([_request(target, resume_key, r)] for r in batches),
                                                   window=depth)):
        done += _written(reply, target, ranges)
        if progress is not None:
            progress(done)
    return done


def _ranges(offset: int, size: int, chunk: int, per_request: int) -> list[tuple[int, int]]:
    ranges = []
    while offset < size and len(ranges) < per_request:
        length = min(chunk, size - offset)
        ranges.append((offset, length))
        offset += length
    return ranges


def _request(target, resume_key: bytes, ranges: list[tuple[int, int]]):
    return wire.ioctl(CtlCode.FSCTL_SRV_COPYCHUNK_WRITE, file_id=target.file_id,
                      data=_copychunk_request(resume_key, ranges), max_output=12)


def _written(reply: wire.Reply, target, ranges) -> int:
    answer = SMB2SrvCopyChunkResponse()
    answer.unpack(reply.check(target.path, "server-side copy").buffer())
    wanted = sum(length for _, length in ranges)
    written = answer["total_bytes_written"].get_value()
    if written != wanted:
        raise errors.SmbError(f"server-side copy wrote {written} of {wanted} bytes", path=target.path)
    return written


def _server_limits(reply: wire.Reply) -> tuple[int, int] | None:
    """[MS-SMB2] 3.3.5.15.6: an over-large copychunk request is answered with an IOCTL response whose
    SRV_COPYCHUNK_RESPONSE holds the server's maximum chunk count and chunk size."""
    try:
        buffer = reply.buffer()
    except Exception:  # an ordinary error response, not limits
        return None
    if len(buffer) < 12:
        return None
    answer = SMB2SrvCopyChunkResponse()
    answer.unpack(buffer[:12])
    return answer["chunks_written"].get_value(), answer["chunk_bytes_written"].get_value()


def _copychunk_request(resume_key: bytes, ranges: list[tuple[int, int]]) -> bytes:
    request = SMB2SrvCopyChunkCopy()
    request["source_key"] = resume_key
    chunks = []
    for offset, length in ranges:
        chunk = SMB2SrvCopyChunk()
        chunk["source_offset"] = offset
        chunk["target_offset"] = offset
        chunk["length"] = length
        chunks.append(chunk)
    request["chunks"] = chunks
    return request.pack()
