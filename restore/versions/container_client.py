"""Reading a container root: the calls the app makes of the SMB client (stat, list_dir, security
descriptors, streams, open_read, ...), answered from inside the profile container as it was at
that snapshot (or live), so listings, timelines, previews, diffs, related files, restore plans, zips
and the worker read a container root exactly as they read a folder root.

Two checks decide what a person sees, both for their token (helpdesk: the acted-for person's):
the container *file* in that snapshot, by its ACL on the share (denied: the container does not
exist for them), and then each entry inside, by the NTFS security descriptor stored in the
container's ``$Secure`` (returned by ``security_descriptor*`` like the server's own, so the
callers' access check applies unchanged).

The container is read in place (TWrp, read-only, through :mod:`restore.smb.randomaccess`), never
copied and never written. Opened containers (their parsed metadata and block cache) are kept per
(container, snapshot) in this process, CONTAINER_CACHE_SIZE of them; a live one is reopened when
its size or last-write time changed.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from restore import smb
from restore.nt.access import Token
from restore.smb import randomaccess
from restore.versions import containers, paths
from restore.versions.access import may_read
from restore.versions.container_roots import ContainerUnreadable, candidates, is_container, top_folder
from restore.versions.containers.remote import sibling_opener
from restore.versions.roots import Root, location
from restore.versions.sessions import server_client

IN_USE = "STATUS_SHARING_VIOLATION"


@dataclass
class _Opened:
    path: str  # share-relative path of the container file found in that snapshot
    sd: bytes | smb.Unreadable  # the container file's own security descriptor then
    fingerprint: tuple  # (path, size, last write): live containers only
    container: containers.Container | None = None
    error: ContainerUnreadable | None = None


_cache: OrderedDict[tuple, _Opened] = OrderedDict()
_cache_lock = threading.Lock()


def client_for(root: Root, token: Token, context=None):
    """The client to read ``root`` through for ``token``'s person: the SMB client (whose session is
    theirs with Kerberos delegation, see ``sessions.py``), or a ContainerClient for a container root."""
    if not is_container(root):
        return server_client(location(root).server, token, context)
    return ContainerClient(root, token, context)


def forget_all() -> None:
    """Drop every opened container of this process (tests; a changed share layout)."""
    with _cache_lock:
        _cache.clear()


class ContainerClient:
    """One person's view of one container root (see the module's docstring)."""

    def __init__(self, root: Root, token: Token, context=None):
        self.root, self.token = root, token
        self.base = location(root)
        self.server = f"container:{self.base}"  # never equal to a file server: no server-side copy out of it
        self.smb = server_client(self.base.server, token, context)

    # --- which container, and may the person read it ----------------------------------------------

    def _opened(self, at: datetime | None) -> _Opened:
        # With delegation an opened container reads through its opener's session: one per person.
        key = (self.base.server.lower(), self.base.share.lower(), self.base.path.lower(), at,
               self.smb.credentials.principal.lower() if smb.delegating() else "")
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
        if hit is not None and at is not None:
            return hit
        found = self.smb.security_descriptors_many(self.base.share, candidates(self.base.path, self.root.kind), at=at)
        path = next((p for p, sd in found.items() if sd is not None), None)
        if path is None:
            raise smb.NotFound("no profile container here at that time", path=self.base.path)
        fingerprint = ()
        if at is None:
            entry = self.smb.stat(self.base.share, path)
            fingerprint = (path.lower(), entry.size, entry.last_write)
            if hit is not None and hit.fingerprint == fingerprint:
                hit.sd = found[path]
                return hit
        opened = _Opened(path, found[path], fingerprint)
        if not isinstance(opened.sd, smb.Unreadable):
            self._read(opened, at)
        with _cache_lock:
            _cache[key] = opened
            while len(_cache) > max(1, settings.CONTAINER_CACHE_SIZE):
                _cache.popitem(last=False)  # its files close when the last reader lets go of them
        return opened

    def _read(self, opened: _Opened, at: datetime | None) -> None:
        try:
            fh = randomaccess.open_file(self.smb, self.base.share, opened.path, at)
        except smb.SmbError as exc:
            if exc.status_name == IN_USE:
                opened.error = ContainerUnreadable("in-use", "it is in use (its owner is signed in), so its "
                                                   "current state cannot be read; choose a snapshot")
                return
            raise
        try:
            opened.container = containers.open_container(
                fh, name=opened.path, open_parent=sibling_opener(self.smb, self.base.share, opened.path, at))
        except containers.ContainerError as exc:
            fh.close()
            opened.error = ContainerUnreadable.of(exc)

    def container(self, at: datetime | None) -> containers.Container:
        """The container at ``at`` after the check of its file: smb.NotFound when the person may not
        read it then (it does not exist for them), ContainerUnreadable when it cannot be read."""
        opened = self._opened(at)
        if isinstance(opened.sd, smb.Unreadable):
            if smb.delegating():  # the person's own session may not open it: not theirs, so not there
                raise smb.NotFound("not found", path=self.base.path)
            raise smb.AccessDenied("the portal cannot read the container's permissions", path=opened.path)
        if not may_read(opened.sd, self.token, False):
            raise smb.NotFound("not found", path=self.base.path)
        if opened.error is not None:
            raise opened.error
        return opened.container

    def _inner(self, share: str, path: str) -> tuple[str, str]:
        """(path inside the container, stream name) of a share path below the root."""
        base = self.base.path
        if share.lower() != self.base.share.lower():
            raise smb.NotFound("not in this container", path=path)
        if path.lower() == base.lower():
            rel = ""
        elif path.lower().startswith(base.lower() + "\\"):
            rel = path[len(base) + 1:]
        else:
            raise smb.NotFound("not in this container", path=path)
        folder, _, name = rel.rpartition("\\")
        name, _, stream = name.partition(":")
        return paths.join(top_folder(self.root), folder, name), stream

    @contextmanager
    def _inside(self, path: str):
        try:
            yield
        except (containers.NotFound, containers.NotADirectory, containers.IsADirectory, paths.PathError) as exc:
            raise smb.NotFound(str(exc), path=path) from None
        except containers.EncryptedFile as exc:
            raise smb.AccessDenied(str(exc), path=path) from None
        except containers.ContainerError as exc:
            raise ContainerUnreadable.of(exc) from exc

    # --- the SMB client's reads ----------------------------------------------------------------------

    def enumerate_snapshots(self, share: str, path: str = "") -> list[smb.Snapshot]:
        return self.smb.enumerate_snapshots(self.base.share, "")

    def stat(self, share: str, path: str, at: datetime | None = None) -> smb.Entry:
        inner, _ = self._inner(share, path)
        container = self.container(at)
        with self._inside(path):
            return container.stat(inner)

    def list_dir(self, share: str, path: str, at: datetime | None = None) -> list[smb.Entry]:
        """The folder's entries; links (junctions, symbolic links) are left out: never followed."""
        inner, _ = self._inner(share, path)
        container = self.container(at)
        with self._inside(path):
            return [e for e in container.list_dir(inner) if not e.is_link]

    def list_streams(self, share: str, path: str, at: datetime | None = None) -> list[tuple[str, int]]:
        inner, _ = self._inner(share, path)
        container = self.container(at)
        with self._inside(path):
            return container.list_streams(inner)

    def security_descriptor(self, share: str, path: str, at: datetime | None = None) -> bytes:
        inner, _ = self._inner(share, path)
        container = self.container(at)
        with self._inside(path):
            return container.security_descriptor(inner)

    def security_descriptors_many(self, share: str, many: list[str], at: datetime | None = None) -> dict:
        container = self.container(at)
        return {p: self._or_none(lambda p=p: container.security_descriptor(self._inner(share, p)[0]))
                for p in dict.fromkeys(many)}

    def stat_at_many(self, share: str, path: str, ats: Iterable[datetime | None]) -> dict:
        return {at: self._or_none(lambda at=at: self.stat(share, path, at)) for at in dict.fromkeys(ats)}

    def security_descriptor_at_many(self, share: str, path: str, ats: Iterable[datetime | None]) -> dict:
        return {at: self._or_none(lambda at=at: self.security_descriptor(share, path, at)) for at in dict.fromkeys(ats)}

    def _or_none(self, ask):
        """As the SMB client's *_many: None when missing (or not the person's container), UNREADABLE
        when it cannot be read (its permissions, or a damaged container at that time)."""
        try:
            with self._inside(""):
                return ask()
        except smb.NotFound:
            return None
        except (smb.AccessDenied, ContainerUnreadable):
            return smb.UNREADABLE

    def open_read(self, share: str, path: str, at: datetime | None = None) -> ContainerReader:
        inner, stream = self._inner(share, path)
        container = self.container(at)
        with self._inside(path):
            entry = container.stat(inner)
            if entry.is_dir and not stream:
                raise containers.IsADirectory("a folder has no content", path=inner)
        return ContainerReader(self, container, inner, stream, entry, path)

    def sha256(self, share: str, path: str, at: datetime | None = None) -> str:
        digest = hashlib.sha256()
        with self.open_read(share, path, at) as reader:
            for chunk in reader.iter_chunks(smb.MAX_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()


class ContainerReader:
    """A file (or ``file:stream``) inside a container, shaped like the SMB client's ReadHandle."""

    def __init__(self, client: ContainerClient, container, inner: str, stream: str, entry: smb.Entry, path: str):
        self._client, self._container, self.entry = client, container, entry
        self._inner, self._stream, self.path = inner, stream, path
        self.size = entry.size

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        """Nothing to give back: the container stays open for the next question."""

    def iter_chunks(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        with self._client._inside(self.path):
            yield from self._container.iter_chunks(self._inner, chunk_size, stream=self._stream)

    def iter_views(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """As ReadHandle.iter_views (the worker's streamed copy): the whole file in chunks."""
        return self.iter_chunks(chunk_size)
