"""The listings a catalogue build walks: asked for ahead of the walk, many folders pipelined per call.

A plain walk lists a folder once its parent's listing names it, a few at a time. The builder knows
most of the tree before it lists it (the previous snapshot's folders, and the top of its own stack),
so it asks for folders in batches: one ``fetch_many`` call per batch (``Client.list_dirs``: the
batch's compounds in flight together on one connection, collected together), a few calls at once.
Measured on the 20,000-file bench tree (1,997 folders, quiet machine): 2 calls x 32 folders list a
snapshot in 1.2 s, one folder per call on 4 threads (the plain walk) in 2.0-2.3 s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

BATCH = 32  # folders per call: their compounds pipelined on the connection
CALLS = 2  # calls at once
AHEAD = CALLS * BATCH * 2  # folders asked for and not yet listed, at most
DONE_AHEAD = 2000  # listings received and not yet taken by the walk, at most

# fetch_many([(path, with_sds)]) -> [(entries, {child path: SD} or None) or the exception listing raised]
FetchMany = Callable[[list[tuple[str, bool]]], list]


class Lister:
    """Listings by folder id: ``ask`` queues a folder, ``send`` starts the queued batches, ``take``
    waits for one (asking for it first when nobody did). Use as a context manager."""

    def __init__(self, fetch_many: FetchMany):
        self.fetch_many = fetch_many
        self.pool = ThreadPoolExecutor(CALLS, thread_name_prefix="catalog")
        self.futures: dict[int, Future] = {}
        self.queued: list[tuple[Future, str, bool]] = []
        self.unlisted = 0  # asked for and not listed yet
        self.lock = threading.Lock()

    def __enter__(self) -> Lister:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def room(self) -> int:
        """How many more folders may be asked for now."""
        if len(self.futures) >= DONE_AHEAD:
            return 0
        return max(0, AHEAD - self.unlisted)

    def asked(self, folder_id: int) -> bool:
        return folder_id in self.futures

    def ask(self, folder_id: int, path: str, with_sds: bool) -> None:
        if folder_id not in self.futures:
            future = self.futures[folder_id] = Future()
            self.queued.append((future, path, with_sds))
            with self.lock:
                self.unlisted += 1

    def send(self) -> None:
        while self.queued:
            batch, self.queued = self.queued[:BATCH], self.queued[BATCH:]
            self.pool.submit(self._run, batch)

    def take(self, folder_id: int, path: str, with_sds: bool):
        """(entries, SDs or None) of the folder; raises what listing it raised."""
        self.ask(folder_id, path, with_sds)
        self.send()
        return self.futures.pop(folder_id).result()

    def _run(self, batch: list[tuple[Future, str, bool]]) -> None:
        try:
            results = self.fetch_many([(path, with_sds) for _, path, with_sds in batch])
        except BaseException as exc:  # the whole call failed (connection lost twice...): every folder says so
            results = [exc] * len(batch)
        for (future, _, _), result in zip(batch, results):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        with self.lock:
            self.unlisted -= len(batch)
