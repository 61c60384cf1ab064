"""File data through the portal at the wire's speed: a streamed copy and SHA-256 by pipelined reads.

Three things keep both the file server and this process busy at once:

* reads and writes are pipelined on their connections (``ReadHandle.iter_views``,
  ``WriteHandle.write_stream``): ``io_depth`` of each in flight, each as large as the server and
  the credits allow, so a copy is never one round trip per chunk;
* a READ answer's buffer is handed on as it arrived (a memoryview): to the WRITE that sends it on
  and to the hash, never copied;
* SHA-256 runs on a thread of its own per file (``Hasher``): hashlib releases the GIL on large
  buffers, so hashing uses another core while this thread keeps requests flowing.

Memory stays constant whatever the file's size: at most ``io_depth`` reads and ``io_depth`` writes
in flight plus ``HASH_QUEUE`` buffers waiting for the hash.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from restore.smb import errors
from restore.smb.handles import ReadHandle, WriteHandle

HASH_QUEUE = 2  # buffers waiting for a hasher before the reader waits for it


class Hasher:
    """SHA-256 of the buffers given to ``update``, computed on another thread in the same order."""

    def __init__(self):
        self._digest = hashlib.sha256()
        self._queue: queue.Queue = queue.Queue(maxsize=HASH_QUEUE)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()
        self.size = 0

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            self._digest.update(data)

    def update(self, data) -> None:
        self.size += len(data)
        self._queue.put(data)

    def hexdigest(self) -> str:
        """Wait for the hash of everything given so far; the hasher ends."""
        self.stop()
        return self._digest.hexdigest()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def copy(reader: ReadHandle, writer: WriteHandle, *, progress: Callable[[int], None] | None = None) -> str:
    """Copy ``reader``'s whole file into ``writer`` (a new, empty file) from offset 0; returns the
    SHA-256 of what was read, hashed in the same pass. ``progress(bytes_written)`` after each WRITE.
    Raises the SmbError of a failed read or write (the caller discards the target)."""
    hasher = Hasher()

    def pieces():
        offset = 0
        for view in reader.iter_views():
            hasher.update(view)
            yield offset, view
            offset += len(view)

    written = 0
    try:
        for count in writer.write_stream(pieces()):
            written += count
            if progress is not None:
                progress(written)
    finally:
        digest = hasher.hexdigest()
    if written != hasher.size:
        raise errors.SmbError(f"short write ({written} of {hasher.size} bytes)", path=writer.path)
    return digest


def sha256_all(handles: Iterable[ReadHandle]) -> list[str]:
    """The SHA-256 of each handle's file, all read at once: every file's reads are in flight
    together (on one connection or several) and each file has its own hashing thread."""
    jobs = [(handle.iter_views(), Hasher()) for handle in handles]
    active = list(jobs)
    try:
        while active:
            for job in list(active):
                chunk = next(job[0], None)
                if chunk is None:
                    active.remove(job)
                else:
                    job[1].update(chunk)
    finally:
        for views, hasher in jobs:
            views.close()  # collects what is still in flight after a failure
            hasher.stop()
    return [hasher.hexdigest() for _, hasher in jobs]


def sha256_files(files: Iterable[tuple[object, str, str, datetime | None]]) -> list[str]:
    """The SHA-256 of each (client, share, path, at), read concurrently (see ``sha256_all``)."""
    handles = []
    try:
        for client, share, path, at in files:
            handles.append(client.open_read(share, path, at))
        return sha256_all(handles)
    finally:
        for handle in handles:
            try:
                handle.close()
            except errors.SmbError:
                pass  # the hashes (or the failure being raised) are what matter
