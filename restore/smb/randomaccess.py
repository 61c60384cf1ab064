"""A read-only, seekable file object over one file on a share, live or in a snapshot, so a parser
that wants a local file (the profile-container reader in :mod:`restore.versions.containers`) can read a
container where it lies, without copying it out of the snapshot.

The file is opened once (with the TWrp create context when ``at`` is given, read access only, as
every snapshot object is) and read in blocks through a small LRU cache: a parser's many small reads
(8-byte BAT entries, 1 KiB MFT records, 4 KiB index buffers) become few 64 KiB reads, and the blocks
a read misses are fetched as contiguous runs, pipelined by ``ReadHandle.read``. Large reads (file
contents) go past the cache so they do not evict the metadata. When the connection drops, the file
is opened again once and the read retried (snapshots do not change under us).
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from restore.smb import errors
from restore.smb.handles import ReadHandle

BLOCK_SIZE = 64 * 1024  # one credit per read; a VHDX BAT page, 64 MFT records or 16 index buffers


CACHE_BYTES = 8 * 1024 * 1024


class RandomAccessFile(io.RawIOBase):
    """``opener()`` returns a fresh ReadHandle on the file (called again after a lost connection)."""

    def __init__(self, opener: Callable[[], ReadHandle], *, path: str = "", block_size: int = BLOCK_SIZE,
                 cache_bytes: int = CACHE_BYTES):
        super().__init__()
        if block_size <= 0 or cache_bytes < block_size:
            raise ValueError("block_size must be positive and cache_bytes at least one block")
        self._opener = opener
        self._handle = opener()
        self.path = path or self._handle.path
        self.size = self._handle.size
        self._block = block_size
        self._capacity = cache_bytes // block_size
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0
        self.requests = 0  # reads sent to the server, and their bytes: what a caller's question cost
        self.bytes_fetched = 0

    # --- io.RawIOBase ---------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence!r}")
        if base + offset < 0:
            raise OSError(22, "negative seek position")
        self._pos = base + offset
        return self._pos

    def read(self, size: int = -1) -> bytes:
        self._check_open()
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        if end <= self._pos:
            return b""
        data = self._read_range(self._pos, end)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._handle.close()
            finally:
                self._cache.clear()
                super().close()

    # --- blocks ---------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O on a closed file")

    def _read_range(self, start: int, end: int) -> bytes:
        first, last = start // self._block, (end - 1) // self._block
        blocks: dict[int, bytes] = {}
        run_start = None
        for index in range(first, last + 2):
            cached = self._cache.get(index) if index <= last else None
            if cached is not None:
                self._cache.move_to_end(index)
                blocks[index] = cached
            if index <= last and cached is None:
                run_start = index if run_start is None else run_start
                continue
            if run_start is not None:  # a run of missing blocks ends before ``index``
                blocks.update(self._fetch_run(run_start, index))
                run_start = None
        data = b"".join(blocks[i] for i in range(first, last + 1))
        offset = start - first * self._block
        return data[offset:offset + (end - start)]

    def _fetch_run(self, first: int, stop: int) -> dict[int, bytes]:
        """Blocks ``first``..``stop``-1 from the server in one pipelined read; cached unless the run is
        a large share of the cache (a file's content streaming past)."""
        offset = first * self._block
        length = min(self.size, stop * self._block) - offset
        data = self._server_read(offset, length)
        blocks = {first + i: data[i * self._block:(i + 1) * self._block] for i in range(stop - first)}
        if stop - first <= self._capacity // 4:
            for index, block in blocks.items():
                self._cache[index] = block
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return blocks

    def _server_read(self, offset: int, length: int) -> bytes:
        for attempt in (1, 2):
            try:
                data = self._handle.read(offset, length)
                break
            except errors.ConnectionLost:
                if attempt == 2:
                    raise
                self._handle = self._opener()  # the old handle died with its connection
        self.requests += 1
        self.bytes_fetched += len(data)
        if len(data) != length:
            raise errors.SmbError(f"short read ({len(data)} of {length} bytes at {offset}): the file shrank",
                                  path=self.path)
        return data


def open_file(client, share: str, path: str, at: datetime | None = None, **options) -> RandomAccessFile:
    """``path`` on ``share`` (as of the snapshot at ``at``, or live) as a RandomAccessFile; use it as a
    context manager. Raises the client's NotFound / AccessDenied when it cannot be opened."""
    return RandomAccessFile(lambda: client.open_read(share, path, at), path=path, **options)
