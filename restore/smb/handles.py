"""Open files: a read handle (streamed, with read-ahead) and a write handle (for restores).

A handle lives on the connection it was opened on. If that connection drops, the handle is gone
with it and its methods raise ``ConnectionLost``; the caller reopens (the client reconnects).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from smbprotocol.file_info import FileInformationClass, InfoType

from restore.smb import errors, fastpath, wire
from restore.smb.types import Entry, basic_information

MAX_CHUNK = 4 * 1024 * 1024  # the chunk callers ask for by default (reads may be larger, see io_size)
READ_AHEAD = 3  # reads (or writes) in flight while streaming: SMB_IO_DEPTH
IO_SIZE = 8 * 1024 * 1024  # bytes per READ/WRITE at most: SMB_IO_SIZE, then the server's MaxRead/WriteSize


class _Handle:
    def __init__(self, exchange: wire.Exchange, file_id: bytes, entry: Entry, share: str, path: str, *,
                 io_size: int = IO_SIZE, io_depth: int = READ_AHEAD):
        self._exchange = exchange
        self.file_id = file_id
        self.entry = entry
        self.share = share
        self.path = path
        self.closed = False
        self.io_size = io_size
        self.io_depth = max(1, io_depth)

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
        """One request's size: what was asked, within SMB_IO_SIZE, the server's maximum and the
        credits the connection has now (a server granting few credits gets smaller requests, never
        a refusal): each of ``io_depth`` requests in flight gets its share of the window."""
        share = self._exchange._available() // (self.io_depth + 1) * fastpath.UNIT
        return max(1, min(requested, self.io_size, negotiated, max(fastpath.UNIT, share)))

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
        return b"".join(self._stream(offset, offset + length, self.io_size))

    def iter_chunks(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The whole file in chunks of at most ``chunk_size`` bytes (as bytes objects)."""
        for view in self.iter_views(chunk_size):
            yield bytes(view)

    def iter_views(self, chunk_size: int = IO_SIZE) -> Iterator[memoryview | bytes]:
        """The whole file in chunks, each a view of the buffer the answer arrived in (no copy; keep a
        reference only as long as needed). ``io_depth`` reads are in flight at once (read-ahead), each
        as large as ``chunk_size``, SMB_IO_SIZE, the server and the credits allow."""
        self._check_open()
        yield from self._stream(0, self.size, chunk_size)

    def _stream(self, start: int, end: int, chunk_size: int) -> Iterator[memoryview | bytes]:
        negotiated = self._exchange.connection.max_read_size
        asked: list[int] = []  # the size of each read, in order

        def requests():
            offset = start
            while offset < end:
                length = min(self._chunk(chunk_size, negotiated), end - offset)
                asked.append(length)
                yield [wire.data_read(self.file_id, offset, length)]
                offset += length

        replies = self._exchange.stream(requests(), window=self.io_depth)
        try:
            for index, (reply,) in enumerate(replies):
                if reply.status == 0xC0000011:  # STATUS_END_OF_FILE: the file shrank since it was opened
                    return
                data = reply.check(self.path, "read").read()
                if len(data):
                    yield data
                if len(data) < asked[index]:  # a short read only happens at the end of the file
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
        view = memoryview(data).cast("B")
        written = 0
        try:
            for reply in self.write_stream(((offset, view),)):
                written += reply
        except errors.SmbError:
            raise
        except Exception as exc:
            raise self._fail(exc, "write") from exc
        if written != len(view):
            raise errors.SmbError(f"short write ({written} of {len(view)} bytes)", path=self.path)
        return written

    def write_stream(self, pieces) -> Iterator[int]:
        """Write each (offset, buffer) of ``pieces`` (an iterable, pulled as the window allows), with
        ``io_depth`` writes in flight; yields the bytes each WRITE wrote, in order. Buffers are sent
        as they are (views of a READ answer are never copied)."""
        self._check_open()
        negotiated = self._exchange.connection.max_write_size

        def requests():
            for offset, buffer in pieces:
                view = memoryview(buffer).cast("B")
                pos = 0
                while pos < len(view):
                    chunk = self._chunk(len(view) - pos, negotiated)
                    yield [wire.data_write(self.file_id, offset + pos, view[pos:pos + chunk])]
                    pos += chunk

        replies = self._exchange.stream(requests(), window=self.io_depth)
        try:
            for (reply,) in replies:
                yield reply.check(self.path, "write").written()
        finally:
            replies.close()

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
