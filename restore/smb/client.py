"""The client: what the portal asks a file server, live or as of a snapshot.

Paths are relative to the share, with backslashes ('' is the share root). ``at`` is a snapshot's
UTC time (``Snapshot.at``) or None for the live file system. Every object in a snapshot is opened
with the TWrp create context and read-only access.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable
from datetime import datetime

from django.conf import settings
from smbprotocol.file_info import FileInformationClass, InfoType
from smbprotocol.ioctl import CtlCode

from restore.smb import errors, kerberos, packed, transfer, wire
from restore.smb.changes import ChangesMixin
from restore.smb.handles import IO_SIZE, READ_AHEAD, ReadHandle
from restore.smb.pool import Options, Pool, get_pool
from restore.smb.types import UNREADABLE, Credentials, Entry, Snapshot, from_filetime
from restore.smb.wire import name_of

log = logging.getLogger(__name__)

OWNER_GROUP_DACL = 0x7  # OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION
DACL = 0x4
STAT_ACCESS = wire.FILE_READ_ATTRIBUTES | wire.SYNCHRONIZE
SD_ACCESS = wire.READ_CONTROL | wire.FILE_READ_ATTRIBUTES
_DIR_ENTRY = struct.Struct("<IIqqqqqqIIIIq")  # FileIdFullDirectoryInformation up to FileName (80 bytes)
_STREAM_ENTRY = struct.Struct("<IIqq")  # FileStreamInformation up to StreamName (24 bytes)
_NO_MORE_FILES = 0x80000006
_NOT_SUPPORTED = 0xC00000BB
LIST_BUFFER = 1024 * 1024  # per QUERY_DIRECTORY answer: ~5,000 entries, 16 credits


def settings_options() -> Options:
    return Options(
        port=getattr(settings, "SMB_PORT", 445),
        require_signing=getattr(settings, "SMB_REQUIRE_SIGNING", True),
        encrypt=getattr(settings, "SMB_ENCRYPT", False),
        timeout=getattr(settings, "SMB_TIMEOUT", 30),
        backup_intent=getattr(settings, "SMB_BACKUP_INTENT", True),
    )


def service_credentials() -> Credentials:
    """The portal's service account from settings (SMB_USERNAME, SMB_PASSWORD, SMB_DOMAIN,
    SMB_AUTH_PROTOCOL; with Kerberos its keytab SMB_KEYTAB when set, see ``kerberos.py``)."""
    base = Credentials(settings.SMB_USERNAME, settings.SMB_PASSWORD, getattr(settings, "SMB_DOMAIN", ""),
                       getattr(settings, "SMB_AUTH_PROTOCOL", "negotiate"))
    return kerberos.service_credentials_kerberos(base) if base.auth == "kerberos" else base


def client_for(server: str, credentials: Credentials | None = None) -> Client:
    """A client for ``server`` as ``credentials`` (default: the service account), over the pooled
    connection. Cheap: nothing is sent until the first call."""
    return Client(server, credentials or service_credentials(), settings_options())


class Client(ChangesMixin):
    def __init__(self, server: str, credentials: Credentials, options: Options, pool: Pool | None = None):
        self.server = server
        self.credentials = credentials
        self.options = options
        self._pool = pool

    def __repr__(self) -> str:
        return f"<smb.Client {self.credentials.principal}@{self.server}:{self.options.port}>"

    @property
    def pool(self) -> Pool:
        return self._pool or get_pool()

    # --- plumbing ---------------------------------------------------------------------------------

    def read_options(self, options: int = 0) -> int:
        """Create options of a read-only open (listing, metadata, descriptor, content): with backup
        intent when SMB_BACKUP_INTENT is on, so a server where the service account holds
        SeBackupPrivilege lets it read every object whatever its ACL (the portal still decides,
        from that ACL, what the person may see). Without the privilege the server ignores it."""
        return options | (wire.BACKUP_INTENT if self.options.backup_intent else 0)

    def io_options(self) -> dict:
        """How handles move data: bytes per READ/WRITE (SMB_IO_SIZE) and requests in flight (SMB_IO_DEPTH)."""
        return {"io_size": getattr(settings, "SMB_IO_SIZE", IO_SIZE), "io_depth": getattr(settings, "SMB_IO_DEPTH",
                                                                                           READ_AHEAD)}

    def _exchange(self, share: str) -> wire.Exchange:
        tree = self.pool.tree(self.server, share, self.credentials, self.options)
        return wire.Exchange(tree, self.options.timeout)

    def _run(self, share: str, fn: Callable[[wire.Exchange], object], *, path: str, action: str,
             idempotent: bool = True):
        """Run ``fn`` against the share; when the connection (or session) turns out to be gone,
        reconnect and run it once more — always for reads, for changes only if nothing was sent."""
        for attempt in (1, 2):
            try:
                exchange = self._exchange(share)  # the pool drops what fails while connecting
            except errors.ConnectionLost as err:
                if attempt == 1 and not isinstance(err, errors.Unreachable):  # a dead server: fail fast
                    log.info("SMB %s of %s\\%s: %s; retrying on a new connection", action, share, path, err)
                    continue
                raise
            try:
                return fn(exchange)
            except Exception as exc:
                err = errors.translate(exc, path, action)
                if isinstance(err, errors.ConnectionLost):
                    # A status (session expired...) came from a working connection: renew the session only.
                    self.pool.forget(self.server, self.options, self.credentials, connection=exchange.connection,
                                     session_only=err.status is not None)
                    if attempt == 1 and (idempotent or getattr(exc, "smb_not_sent", False)):
                        log.info("SMB %s of %s\\%s: %s; retrying on a new connection", action, share, path, err)
                        continue
                if err is exc:
                    raise
                raise err from exc
        raise AssertionError("unreachable")

    def _single(self, share: str, path: str, at: datetime | None, access: int, action: str,
                *middle, options: int = 0, backup: bool = True) -> list[wire.Reply]:
        """One related compound CREATE + ``middle`` + CLOSE; raises on a failed CREATE/middle.
        A read (``backup``) is opened with backup intent when it is configured."""
        options = self.read_options(options) if backup else options

        def run(ex: wire.Exchange):
            replies = ex.call(wire.create(path, access=access, at=at, options=options), *middle, wire.close())
            for reply in replies[:-1]:
                reply.check(path, action)
            return replies

        return self._run(share, run, path=path, action=action)

    def _many(self, share: str, items: list, make: Callable[[object], list], action: str) -> list[list[wire.Reply]]:
        return self._run(share, lambda ex: ex.pipeline([make(item) for item in items]), path="", action=action)

    # --- snapshots ----------------------------------------------------------------------------------

    def enumerate_snapshots(self, share: str, path: str = "") -> list[Snapshot]:
        """The snapshots (Previous Versions) the server offers for ``path``, newest first."""
        size = 64 * 1024  # room for ~1,300 tokens; asked again with the exact size if there are more
        for _ in range(2):
            replies = self._single(share, path, None, wire.READ, "list snapshots",
                                   wire.ioctl(CtlCode.FSCTL_SRV_ENUMERATE_SNAPSHOTS, max_output=size))
            buffer = replies[1].buffer()
            count, returned, array_size = struct.unpack_from("<III", buffer)
            if returned >= count:
                names = buffer[12:12 + array_size].decode("utf-16-le").split("\x00")
                snapshots = []
                for name in filter(None, names):
                    try:
                        snapshots.append(Snapshot.from_token(name))
                    except ValueError:
                        log.warning("ignoring a snapshot name the server sent: %r", name)
                return sorted(snapshots, reverse=True)
            size = 12 + array_size + 16
        raise errors.SmbError("the snapshot list kept growing while it was read", path=path)

    # --- metadata -----------------------------------------------------------------------------------

    def stat(self, share: str, path: str, at: datetime | None = None) -> Entry:
        replies = self._single(share, path, at, STAT_ACCESS, "stat")
        return replies[0].entry(name_of(path))

    def stat_at_many(self, share: str, path: str, ats: Iterable[datetime | None]) -> dict:
        """{at: Entry, None when the object does not exist then, or UNREADABLE when the server refuses
        this identity even its attributes}, all snapshots in one pipeline."""
        ats = list(dict.fromkeys(ats))
        options = self.read_options()
        replies = self._many(share, ats, lambda at: [wire.create(path, access=STAT_ACCESS, at=at, options=options),
                                                     wire.close()], "stat")
        return {at: self._or_none(r[0], path, "stat", lambda reply: reply.entry(name_of(path)))
                for at, r in zip(ats, replies)}

    def timeline_at_many(self, share: str, path: str, ats: Iterable[datetime | None]) -> dict:
        """{at: (entry, descriptor)} of one object at many times (None: live), for a timeline. Per
        time one related compound CREATE(TWrp) + QUERY_INFO(security) + CLOSE, every time in one
        pipeline (as many in flight as the credits allow). The CREATE answer already carries what
        FileBasicInformation and FileStandardInformation would (times, attributes, end of file), so
        those are not asked again. Each part is None when the object does not exist then, or
        UNREADABLE when the server refuses this identity the object or its descriptor. The messages
        are packed and the answers parsed with ``struct`` (``packed``), sent and verified on the
        fast path unless the session is encrypted."""
        ats = list(dict.fromkeys(ats))
        options = self.read_options()

        def run(ex: wire.Exchange) -> dict:
            query, close = packed.query_security(OWNER_GROUP_DACL), packed.close()
            compounds = [[packed.create(path, access=SD_ACCESS | wire.SYNCHRONIZE, at=at, options=options), query,
                          close] for at in ats]
            found = {}
            for at, (opened, sd, closed) in zip(ats, ex.stream(compounds)):
                if opened.ok and not closed.ok:  # the chain stopped before the CLOSE
                    ex.close_quietly(opened.file_id())
                entry = self._or_none(opened, path, "stat", lambda reply: reply.entry(name_of(path)))
                found[at] = (entry, _descriptor([opened, sd], path) if isinstance(entry, Entry) else entry)
            return found

        return self._run(share, run, path=path, action="read the timeline")

    def list_dir(self, share: str, path: str, at: datetime | None = None) -> list[Entry]:
        """The folder's entries (without . and ..), however many answers the server needs for them.

        One round trip for a folder that fits in one answer (~5,000 entries): CREATE + QUERY_DIRECTORY
        + QUERY_DIRECTORY (which must say "no more files") + CLOSE as one related compound."""
        (result,) = self.list_dirs(share, [path], at)
        if isinstance(result, Exception):
            raise result
        return result

    def list_dirs(self, share: str, paths: list[str], at: datetime | None = None) -> list[list[Entry] | Exception]:
        """Several folders' entries, their compounds pipelined on the connection: one list of
        entries per path, in order, or the SmbError (NotFound, AccessDenied...) listing it raised."""
        def run(ex: wire.Exchange) -> list[list[Entry] | Exception]:
            out_size = min(LIST_BUFFER, ex.connection.max_transact_size)
            out: list[list[Entry] | Exception] = []
            options = self.read_options(wire.DIRECTORY)
            for path, replies in zip(paths, ex.stream([_list_compound(p, at, out_size, options) for p in paths])):
                try:
                    out.append(_listed(ex, path, at, out_size, replies, options))
                except errors.ConnectionLost:  # the whole call is retried on a new connection
                    raise
                except errors.SmbError as exc:
                    out.append(exc)
            return out

        return self._run(share, run, path=paths[0] if len(paths) == 1 else "", action="list folder")

    def list_streams(self, share: str, path: str, at: datetime | None = None) -> list[tuple[str, int]]:
        """Alternate data streams as (name, size), e.g. ("Zone.Identifier", 26); the unnamed default
        stream is left out. Open one as ``path + ":" + name``."""
        replies = self._single(share, path, at, STAT_ACCESS, "list streams",
                               wire.query_info(InfoType.SMB2_0_INFO_FILE,
                                               FileInformationClass.FILE_STREAM_INFORMATION))
        return _parse_streams(replies[1].buffer())

    # --- security descriptors -----------------------------------------------------------------------

    def security_descriptor(self, share: str, path: str, at: datetime | None = None) -> bytes:
        """The raw self-relative security descriptor (owner, group and DACL); AccessDenied when the
        server will not give it to this identity."""
        replies = self._single(share, path, at, SD_ACCESS, "read permissions", wire.security_query(OWNER_GROUP_DACL))
        return replies[1].buffer()

    def security_descriptors_many(self, share: str, paths: list[str], at: datetime | None = None) -> dict:
        """{path: SD bytes, None when it does not exist, or UNREADABLE when the server refuses this
        identity its descriptor}, all objects in one pipeline: one private file never fails the rest."""
        paths = list(dict.fromkeys(paths))
        replies = self._many(share, paths, lambda p: self._sd_compound(p, at), "read permissions")
        return {p: _descriptor(r, p) for p, r in zip(paths, replies)}

    def security_descriptor_at_many(self, share: str, path: str, ats: Iterable[datetime | None]) -> dict:
        """{at: SD bytes, None when the object does not exist then, or UNREADABLE}, all snapshots in
        one pipeline."""
        ats = list(dict.fromkeys(ats))
        replies = self._many(share, ats, lambda at: self._sd_compound(path, at), "read permissions")
        return {at: _descriptor(r, path) for at, r in zip(ats, replies)}

    def set_security_descriptor(self, share: str, path: str, sd: bytes, info: int = DACL) -> None:
        """Write parts of a live object's SD (``info``: 0x1 owner, 0x2 group, 0x4 DACL, 0x8 SACL)."""
        access = (wire.WRITE_DAC if info & 0x4 else 0) | (wire.WRITE_OWNER if info & 0x3 else 0)
        access |= 0x01000000 if info & 0x8 else 0  # ACCESS_SYSTEM_SECURITY
        self._change(share, path, access | wire.FILE_READ_ATTRIBUTES,
                     wire.set_info(InfoType.SMB2_0_INFO_SECURITY, 0, sd, additional=info), "set permissions")

    def _sd_compound(self, path: str, at: datetime | None) -> list:
        """CREATE + QUERY_INFO(security) + CLOSE, packed with ``struct`` (``packed``) and sent on the fast
        path: the catalog reads one per object of a new folder, the search one per hit it checks live."""
        return [packed.create(path, access=SD_ACCESS, at=at, options=self.read_options()),
                packed.query_security(OWNER_GROUP_DACL), packed.close()]

    @staticmethod
    def _or_none(reply: wire.Reply, path: str, action: str, parse, opened: wire.Reply | None = None):
        """A missing object is None; one the server refuses is UNREADABLE; any other failure is raised."""
        for r in (opened, reply):
            if r is not None and not r.ok:
                err = errors.from_status(r.status, path, action)
                if isinstance(err, errors.NotFound):
                    return None
                if isinstance(err, errors.AccessDenied):
                    return UNREADABLE
                raise err
        return parse(reply)

    # --- content ----------------------------------------------------------------------------------

    def open_read(self, share: str, path: str, at: datetime | None = None) -> ReadHandle:
        """A file (or ``file:stream``) opened for reading; use it as a context manager."""
        access = wire.FILE_READ_DATA | wire.FILE_READ_ATTRIBUTES | wire.SYNCHRONIZE

        def run(ex: wire.Exchange) -> ReadHandle:
            (opened,) = ex.call(wire.create(path, access=access, at=at, options=self.read_options(wire.NON_DIRECTORY)))
            if opened.status == _NOT_SUPPORTED and self.options.backup_intent:
                # Samba 4.22 refuses backup intent on an alternate data stream: open it without.
                (opened,) = ex.call(wire.create(path, access=access, at=at, options=wire.NON_DIRECTORY))
            opened.check(path, "open")
            return ReadHandle(ex, opened.file_id(), opened.entry(name_of(path)), share, path, **self.io_options())

        return self._run(share, run, path=path, action="open")

    def try_open(self, share: str, path: str, access: int, *, directory: bool = False,
                 at: datetime | None = None) -> None:
        """Open an existing object with exactly ``access`` (a file, or a folder when ``directory``),
        then close it: the file server's own access decision for this identity. Raises AccessDenied
        when the server refuses, NotFound when it does not exist."""
        self._single(share, path, at, access, "open", options=wire.DIRECTORY if directory else wire.NON_DIRECTORY,
                     backup=False)  # the identity's own rights, never a privilege's

    def sha256(self, share: str, path: str, at: datetime | None = None) -> str:
        """The file's SHA-256, read by pipelined reads and hashed on another thread."""
        return transfer.sha256_files([(self, share, path, at)])[0]


LIST_ACCESS = wire.FILE_READ_DATA | wire.FILE_READ_ATTRIBUTES | wire.SYNCHRONIZE
LIST_INFO = FileInformationClass.FILE_ID_FULL_DIRECTORY_INFORMATION


def _descriptor(replies: list[wire.Reply], path: str):
    """SD bytes from a CREATE + QUERY_INFO(security) + CLOSE compound; None when the object does not
    exist; UNREADABLE when the server refuses the descriptor; any other failure is raised."""
    for reply in replies[:2]:
        if not reply.ok:
            err = errors.from_status(reply.status, path, "read permissions")
            if isinstance(err, errors.NotFound):
                return None
            if isinstance(err, errors.AccessDenied):
                log.info("the file server refuses the permissions of %s to the service account: hidden (%s)",
                         path, err.status_name)
                return UNREADABLE
            raise err
    return replies[1].buffer()


def _list_compound(path: str, at: datetime | None, out_size: int, options: int) -> list:
    """Packed (``packed``): a walk sends thousands, and on the fast path their answers are parsed
    without smbprotocol's message classes."""
    return [packed.create(path, access=LIST_ACCESS, at=at, options=options),
            packed.query_directory(LIST_INFO, restart=True, max_output=out_size),
            packed.query_directory(LIST_INFO, max_output=out_size), packed.close()]


def _listed(ex: wire.Exchange, path: str, at: datetime | None, out_size: int, replies: list,
            options: int) -> list[Entry]:
    """A folder's entries from its listing compound; a folder too large for it is listed again with
    one QUERY_DIRECTORY per round trip until the server says "no more files"."""
    opened, first, second, closed = replies
    opened.check(path, "list folder")
    if not closed.ok:  # the chain stopped before the CLOSE: the handle is still open
        ex.close_quietly(opened.file_id())
    entries = [] if first.status == _NO_MORE_FILES else _parse_directory(first.check(path, "list folder").buffer())
    if first.status == _NO_MORE_FILES or second.status == _NO_MORE_FILES:
        return entries
    second.check(path, "list folder")
    (opened, first) = ex.call(packed.create(path, access=LIST_ACCESS, at=at, options=options),
                              packed.query_directory(LIST_INFO, restart=True, max_output=out_size))
    opened.check(path, "list folder")
    file_id = opened.file_id()
    try:
        entries = []
        reply = first
        while reply.status != _NO_MORE_FILES:
            entries.extend(_parse_directory(reply.check(path, "list folder").buffer()))
            (reply,) = ex.call(packed.query_directory(LIST_INFO, file_id=file_id, max_output=out_size))
        return entries
    finally:
        ex.close_quietly(file_id)


def _parse_directory(buffer: bytes) -> list[Entry]:
    entries = []
    offset = 0
    while offset < len(buffer):
        (next_offset, _index, created, accessed, written, changed, size, _alloc, attributes, name_length,
         _ea, _reserved, _file_id) = _DIR_ENTRY.unpack_from(buffer, offset)
        start = offset + _DIR_ENTRY.size
        name = buffer[start:start + name_length].decode("utf-16-le")
        if name not in (".", ".."):
            entries.append(Entry(name=name, is_dir=bool(attributes & 0x10), size=size,
                                 last_write=from_filetime(written), created=from_filetime(created),
                                 changed=from_filetime(changed), attributes=attributes,
                                 last_access=from_filetime(accessed)))
        if not next_offset:
            break
        offset += next_offset
    return entries


def _parse_streams(buffer: bytes) -> list[tuple[str, int]]:
    streams = []
    offset = 0
    while offset < len(buffer):
        next_offset, name_length, size, _alloc = _STREAM_ENTRY.unpack_from(buffer, offset)
        start = offset + _STREAM_ENTRY.size
        raw = buffer[start:start + name_length].decode("utf-16-le")  # ":name:$DATA"
        name, _, kind = raw[1:].rpartition(":")
        if name:  # "::$DATA" is the file's unnamed default stream
            streams.append((name if kind == "$DATA" else f"{name}:{kind}", size))
        if not next_offset:
            break
        offset += next_offset
    return streams
