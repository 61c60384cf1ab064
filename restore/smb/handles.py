"""Open files: a read handle (streamed, with read-ahead) and a write handle (for restores).

A handle lives on the connection it was opened on. If that connection drops, the handle is gone
with it and its methods raise ``ConnectionLost``; the caller reopens (the client reconnects).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from smbprotocol.file_info import FileInformationClass, InfoType

from restore.smb import errors, wire
from restore.smb.types import Entry, basic_information

MAX_CHUNK = 4 * 1024 * 1024  # one read/write: 64 credits; larger ones outrun Samba's credit grants
READ_AHEAD = 4  # reads in flight while streaming


class _Handle:
    def __init__(self, exchange: wire.Exchange, file_id: bytes, entry: Entry, share: str, path: str):
        self._exchange = exchange
        self.file_id = file_id
        self.entry = entry
        self.share = share
        self.path = path
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        """Close the handle; a connection that is already gone closed it for us."""
        if self.closed:
            return
        self.closed = True
        try:
            self._exchange.call(wire.close(self.file_id))
        except Exception as exc:
            err = errors.translate(exc, self.path, "close")
            if not isinstance(err, errors.ConnectionLost):
                raise err from exc

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O on a closed SMB handle")

    def _chunk(self, requested: int, negotiated: int) -> int:
        return max(1, min(requested, MAX_CHUNK, negotiated))

    def _fail(self, exc: BaseException, action: str) -> errors.SmbError:
        return errors.translate(exc, self.path, action)


class ReadHandle(_Handle):
    """A file (or stream) opened for reading, live or at a snapshot."""

    @property
    def size(self) -> int:
        return self.entry.size

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the file)."""
        self._check_open()
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        parts = []
        for data in self._stream(offset, offset + length, MAX_CHUNK):
            parts.append(data)
        return b"".join(parts)

    def iter_chunks(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The whole file in chunks of ``chunk_size`` (clamped to 4 MiB and the server's maximum).

        Several reads are in flight at once (read-ahead), so throughput is not one round trip per chunk."""
        self._check_open()
        yield from self._stream(0, self.size, chunk_size)

    def _stream(self, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        chunk = self._chunk(chunk_size, self._exchange.connection.max_read_size)
        requests = ([wire.read(self.file_id, offset, min(chunk, end - offset))] for offset in range(start, end, chunk))
        replies = self._exchange.stream(requests, window=READ_AHEAD)
        try:
            for (reply,) in replies:
                if reply.status == 0xC0000011:  # STATUS_END_OF_FILE: the file shrank since it was opened
                    return
                data = reply.check(self.path, "read").read()
                if data:
                    yield data
                if len(data) < chunk:  # a short read only happens at the end of the file
                    return
        except errors.SmbError:
            raise
        except Exception as exc:
            raise self._fail(exc, "read") from exc
        finally:
            replies.close()  # collects any read-ahead still in flight


class WriteHandle(_Handle):
    """A file (or stream) created for writing, e.g. the temporary name a restore writes to."""

    def write(self, offset: int, data: bytes) -> int:
        """Write all of ``data`` at ``offset`` (split into chunks the server accepts); returns its length."""
        self._check_open()
        view = memoryview(data)
        chunk = self._chunk(len(view) or 1, self._exchange.connection.max_write_size)
        requests = ([wire.write(self.file_id, offset + pos, bytes(view[pos:pos + chunk]))]
                    for pos in range(0, len(view), chunk))
        written = 0
        try:
            for (reply,) in self._exchange.stream(requests, window=READ_AHEAD):
                written += reply.check(self.path, "write").written()
        except errors.SmbError:
            raise
        except Exception as exc:
            raise self._fail(exc, "write") from exc
        if written != len(view):
            raise errors.SmbError(f"short write ({written} of {len(view)} bytes)", path=self.path)
        return written

    def set_times(self, *, created: datetime | None = None, last_access: datetime | None = None,
                  last_write: datetime | None = None, changed: datetime | None = None,
                  attributes: int | None = None) -> None:
        """Set the file's times/attributes (FileBasicInformation; what is None stays as it is).

        Call it after the last write: the server moves the write time forward on every write."""
        self._check_open()

        basic = basic_information(created=created, last_access=last_access, last_write=last_write, changed=changed,
                                  attributes=attributes)
        self._set_info(FileInformationClass.FILE_BASIC_INFORMATION, basic, "set times")

    def discard(self) -> None:
        """Delete the file when this handle closes (e.g. a restore that failed half-way), then close."""
        if self.closed:
            return
        try:
            self._set_info(FileInformationClass.FILE_DISPOSITION_INFORMATION, b"\x01", "discard")
        finally:
            self.close()

    def _set_info(self, info_class: int, buffer: bytes, action: str) -> None:
        try:
            (reply,) = self._exchange.call(wire.set_info(InfoType.SMB2_0_INFO_FILE, info_class, buffer,
                                                         file_id=self.file_id))
        except Exception as exc:
            raise self._fail(exc, action) from exc
        reply.check(self.path, action)
