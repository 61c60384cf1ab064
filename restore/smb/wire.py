"""SMB2 messages and the exchange that carries them: compounds, pipelining and credits.

smbprotocol's ``Open`` waits for each answer without a timeout and keeps state we do not need, so
the adapter builds the request structures itself and sends them with the public
``Connection.send_compound`` / ``Connection.receive``. Two ideas carry the speed:

* a *related compound* (CREATE + QUERY_INFO + CLOSE ...) is one round trip for one object;
* a *pipeline* keeps many compounds in flight on the one connection and then collects the answers,
  so N objects cost about one round trip instead of N.

Credits: every request costs credits (1 per started 64 KiB of payload) and the server grants them
back with each answer. Samba grants at most 32 extra credits per answer, so a fresh connection has
only ~64: enough for one 4 MiB read. ``warm_up_credits`` raises the window with a burst of ECHOs
(each asks for 64 and nets +32) so pipelines and 4 MiB reads do not stall.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from smbprotocol import MAX_PAYLOAD_SIZE
from smbprotocol.connection import SMB2Echo
from smbprotocol.create_contexts import SMB2CreateContextRequest, SMB2CreateTimewarpToken
from smbprotocol.exceptions import SMBException, SMBResponseException
from smbprotocol.file_info import InfoType
from smbprotocol.header import Commands
from smbprotocol.ioctl import CtlCode, IOCTLFlags, SMB2IOCTLRequest, SMB2IOCTLResponse
from smbprotocol.open import (
    CloseFlags,
    CreateDisposition,
    ImpersonationLevel,
    ShareAccess,
    SMB2CloseRequest,
    SMB2CreateRequest,
    SMB2QueryInfoRequest,
    SMB2ReadRequest,
    SMB2ReadResponse,
    SMB2SetInfoRequest,
    SMB2WriteRequest,
    SMB2WriteResponse,
)
from smbprotocol.structure import IntField

from restore.smb import errors, fastpath, packed
from restore.smb.types import Entry

log = logging.getLogger(__name__)

# MS-SMB2 3.2.4.1.4: in a related compound this FileId means "the handle the CREATE above opened".
RELATED = b"\xff" * 16
SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE

# Access masks ([MS-SMB2] 2.2.13.1).
FILE_READ_DATA = 0x1  # FILE_LIST_DIRECTORY on a folder
FILE_WRITE_DATA = 0x2
FILE_APPEND_DATA = 0x4
FILE_READ_EA = 0x8
FILE_WRITE_EA = 0x10
FILE_READ_ATTRIBUTES = 0x80
FILE_WRITE_ATTRIBUTES = 0x100
DELETE = 0x10000
READ_CONTROL = 0x20000
WRITE_DAC = 0x40000
WRITE_OWNER = 0x80000
SYNCHRONIZE = 0x100000
READ = FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE

FILE_ATTRIBUTE_DIRECTORY = 0x10
FILE_ATTRIBUTE_NORMAL = 0x80
FILE_ATTRIBUTE_REPARSE_POINT = 0x400  # a junction, symbolic link, mount point or DFS link

# Create options.
DIRECTORY = 0x1
NON_DIRECTORY = 0x40
BACKUP_INTENT = 0x4000  # FILE_OPEN_FOR_BACKUP_INTENT: the server applies SeBackupPrivilege (if held) to reads
OPEN_REPARSE_POINT = 0x200000  # FILE_OPEN_REPARSE_POINT: open a link itself, never what it points at

GENERIC_ALL, GENERIC_WRITE, MAXIMUM_ALLOWED = 0x10000000, 0x40000000, 0x02000000
SNAPSHOT_WRITE_ACCESS = (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | DELETE
                         | WRITE_DAC | WRITE_OWNER | GENERIC_ALL | GENERIC_WRITE | MAXIMUM_ALLOWED)


def create(path: str, *, access: int, at: datetime | None = None, disposition: int = CreateDisposition.FILE_OPEN,
           options: int = 0, share: int = SHARE_ALL, attributes: int = 0) -> SMB2CreateRequest:
    """CREATE of ``path`` (relative to the share, backslashes, '' = root), at a snapshot when ``at`` is given.

    A snapshot is opened with the TWrp create context (@GMT path tokens do not work over SMB2 against
    smbd) and read access only: a snapshot is history."""
    if at is not None and (access & SNAPSHOT_WRITE_ACCESS or disposition != CreateDisposition.FILE_OPEN):
        raise ValueError("snapshot objects are opened for reading only")
    req = SMB2CreateRequest()
    req["impersonation_level"] = ImpersonationLevel.Impersonation
    req["desired_access"] = access
    req["file_attributes"] = attributes
    req["share_access"] = share
    req["create_disposition"] = disposition
    req["create_options"] = options
    req["buffer_path"] = path.encode("utf-16-le") if path else b"\x00\x00"
    if at is not None:
        token = SMB2CreateTimewarpToken()
        token["timestamp"] = at
        req["buffer_contexts"] = SMB2CreateContextRequest.pack_multiple([token])
    return req


def close(file_id: bytes = RELATED, *, attributes: bool = False) -> SMB2CloseRequest:
    req = SMB2CloseRequest()
    req["file_id"] = file_id
    if attributes:
        req["flags"] = CloseFlags.SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB
    return req


def query_info(info_type: int, info_class: int, *, file_id: bytes = RELATED, additional: int = 0,
               max_output: int = MAX_PAYLOAD_SIZE) -> SMB2QueryInfoRequest:
    req = SMB2QueryInfoRequest()
    req["info_type"] = info_type
    req["file_info_class"] = info_class
    req["output_buffer_length"] = max_output
    req["additional_information"] = additional
    req["file_id"] = file_id
    return req


def set_info(info_type: int, info_class: int, buffer: bytes, *, file_id: bytes = RELATED,
             additional: int = 0) -> SMB2SetInfoRequest:
    req = SMB2SetInfoRequest()
    req["info_type"] = info_type
    req["file_info_class"] = info_class
    req["additional_information"] = additional
    req["file_id"] = file_id
    req["buffer"] = buffer
    return req


def security_query(additional: int, *, file_id: bytes = RELATED) -> SMB2QueryInfoRequest:
    return query_info(InfoType.SMB2_0_INFO_SECURITY, 0, file_id=file_id, additional=additional)


_KNOWN_CTL_CODES = {v for k, v in vars(CtlCode).items() if k.isupper()}


def ioctl(ctl_code: int, *, file_id: bytes = RELATED, data: bytes = b"", max_output: int = 0) -> SMB2IOCTLRequest:
    req = SMB2IOCTLRequest()
    if ctl_code not in _KNOWN_CTL_CODES:  # smbprotocol's enum lacks some (FSCTL_DUPLICATE_EXTENTS_TO_FILE)
        field = IntField(size=4)
        field.name, field.structure = "ctl_code", req
        req.fields["ctl_code"] = field
    req["ctl_code"] = ctl_code
    req["file_id"] = file_id
    req["max_output_response"] = max_output
    req["flags"] = IOCTLFlags.SMB2_0_IOCTL_IS_FSCTL
    req["buffer"] = data
    return req


def read(file_id: bytes, offset: int, length: int) -> SMB2ReadRequest:
    req = SMB2ReadRequest()
    req["length"] = length
    req["offset"] = offset
    req["file_id"] = file_id
    req["padding"] = 0x50
    return req


@dataclass
class Data:
    """A READ (``payload`` None) or WRITE of file data, sent on the zero-copy path (``fastpath``) when
    the session is not encrypted, else as smbprotocol's own request."""

    file_id: bytes
    offset: int
    length: int
    payload: object = None  # a WRITE's bytes: any buffer (memoryview of a READ answer), never copied

    @property
    def COMMAND(self) -> int:  # noqa: N802 (smbprotocol's name for a message's command)
        return Commands.SMB2_READ if self.payload is None else Commands.SMB2_WRITE

    def standard(self):
        if self.payload is None:
            return read(self.file_id, self.offset, self.length)
        return write(self.file_id, self.offset, bytes(self.payload))


def data_read(file_id: bytes, offset: int, length: int) -> Data:
    return Data(file_id, offset, length)


def data_write(file_id: bytes, offset: int, payload) -> Data:
    return Data(file_id, offset, len(payload), payload)


def write(file_id: bytes, offset: int, data: bytes) -> SMB2WriteRequest:
    req = SMB2WriteRequest()
    req["offset"] = offset
    req["file_id"] = file_id
    req["buffer"] = data
    return req


def name_of(path: str) -> str:
    return path.rpartition("\\")[2]


def credit_charge(msg) -> int:
    """Credits a request costs: one per started 64 KiB of the larger of what it sends and may receive."""
    command = msg.COMMAND
    if isinstance(msg, Data):
        return fastpath.credits_for(msg.length)
    if isinstance(msg, packed.Packed):
        return msg.charge
    if command == Commands.SMB2_READ:
        size = msg["length"].get_value()
    elif command == Commands.SMB2_WRITE:
        size = msg["length"].get_value()
    elif command == Commands.SMB2_IOCTL:
        size = max(len(msg["buffer"]), msg["max_output_response"].get_value())
    else:
        size = 1
    return (max(0, size - 1) // MAX_PAYLOAD_SIZE) + 1


# --- answers -------------------------------------------------------------------------------------


@dataclass
class Reply:
    """The server's answer to one request: its status and body (also for warnings/errors)."""

    status: int
    header: object  # SMB2HeaderResponse

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def data(self) -> bytes:
        return self.header["data"].get_value()

    def check(self, path: str | None = None, action: str | None = None) -> Reply:
        if not self.ok:
            raise errors.from_status(self.status, path, action)
        return self

    def file_id(self) -> bytes:
        """The handle a successful CREATE opened."""
        return packed.file_id(self.data)

    def entry(self, name: str) -> Entry:
        """The object a successful CREATE opened, as an Entry (the CREATE answer carries its times/size)."""
        return packed.entry(self.data, name)

    def buffer(self) -> bytes:
        """The output buffer of a QUERY_INFO, IOCTL or QUERY_DIRECTORY answer."""
        if self.header["command"].get_value() != Commands.SMB2_IOCTL:
            return packed.output_buffer(self.data)
        return _unpack(SMB2IOCTLResponse, self.data)["buffer"].get_value()

    def read(self) -> bytes | memoryview:
        """A READ answer's data: a view of the received packet when it came the zero-copy way."""
        if isinstance(self.header, fastpath.FastAnswer):
            return self.header.payload
        return _unpack(SMB2ReadResponse, self.data)["buffer"].get_value()

    def written(self) -> int:
        return _unpack(SMB2WriteResponse, self.data)["count"].get_value()


def _unpack(cls, data: bytes):
    obj = cls()
    obj.unpack(data)
    return obj


class Exchange:
    """Sends requests for one tree connect (share) and collects the replies, with a timeout."""

    def __init__(self, tree, timeout: float):
        self.tree = tree
        self.connection = tree.session.connection
        self.timeout = timeout

    def call(self, *messages) -> list[Reply]:
        """One round trip: the messages as one related compound (or a single request)."""
        return self.pipeline([list(messages)])[0]

    def pipeline(self, compounds: list[list], window: int | None = None) -> list[list[Reply]]:
        """Every compound sent without waiting for the ones before; the replies in the same order."""
        return list(self.stream(compounds, window))

    def stream(self, compounds: Iterable[list], window: int | None = None) -> Iterator[list[Reply]]:
        """Like ``pipeline`` but yields each compound's replies as soon as they are due.

        At most ``window`` compounds are in flight, and never more than the credits allow: when the
        credits run out the oldest answers are collected first (they bring the credits back)."""
        in_flight: deque[list] = deque()
        try:
            for messages in compounds:
                cost = sum(credit_charge(m) for m in messages)
                while in_flight and (self._available() < cost or (window and len(in_flight) >= window)):
                    yield self._collect(in_flight.popleft())
                deadline = time.monotonic() + self.timeout
                while True:
                    try:
                        in_flight.append(self._send(messages))
                        break
                    except SMBException as exc:
                        # Other threads share the credits: wait for our own answers (or theirs).
                        if "credits" not in str(exc) or time.monotonic() > deadline:
                            raise
                    if in_flight:
                        yield self._collect(in_flight.popleft())
                    else:
                        time.sleep(0.005)
            while in_flight:
                yield self._collect(in_flight.popleft())
        finally:
            # Stopped early (error, or the consumer went away): answers still owed to us would stay in
            # the connection's table forever, so fetch them and ignore what they say.
            for requests in in_flight:
                self._discard(requests)

    def close_quietly(self, file_id: bytes) -> None:
        """Close a handle after a failure without hiding that failure (a lost connection closed it anyway)."""
        try:
            self.call(close(file_id))
        except Exception:
            log.debug("closing an SMB handle after a failure failed too", exc_info=True)

    def _available(self) -> int:
        window = self.connection.sequence_window
        return window["high"] - window["low"]

    def _send(self, messages: list) -> list:
        try:
            if len(messages) == 1 and isinstance(messages[0], Data):
                return [self._send_data(messages[0])]
            session = self.tree.session
            if all(isinstance(m, packed.Packed) for m in messages) and fastpath.usable(self.connection, session):
                return fastpath.send_chain(self.connection, session, self.tree.tree_connect_id, messages)
            messages = [m.standard() if isinstance(m, Data) else m for m in messages]
            return self.connection.send_compound(messages, self.tree.session.session_id,
                                                 self.tree.tree_connect_id, related=len(messages) > 1)
        except Exception as exc:
            if not (isinstance(exc, SMBException) and "credits" in str(exc)):
                # Nothing reached the server (a half-sent message is never executed): safe to resend.
                exc.smb_not_sent = True
            raise

    def _send_data(self, msg: Data):
        session = self.tree.session
        if not fastpath.usable(self.connection, session):
            return self.connection.send_compound([msg.standard()], session.session_id, self.tree.tree_connect_id)[0]
        charge = fastpath.credits_for(msg.length)
        if msg.payload is None:
            return fastpath.send(self.connection, session, self.tree.tree_connect_id, Commands.SMB2_READ,
                                 fastpath.read_body(msg.file_id, msg.offset, msg.length), charge=charge)
        return fastpath.send(self.connection, session, self.tree.tree_connect_id, Commands.SMB2_WRITE,
                             fastpath.write_body(msg.file_id, msg.offset, msg.length), msg.payload, charge=charge)

    def _collect(self, requests) -> list[Reply]:
        replies = []
        failure = None
        for request in requests:  # every request must be received, even after a failure
            try:
                header = self._receive(request, self.timeout)
                replies.append(Reply(header["status"].get_value(), header))
            except SMBResponseException as exc:
                replies.append(Reply(exc.status, exc.header))
            except Exception as exc:  # transport failure: keep draining the rest, then raise
                failure = failure or exc
        if failure is not None:
            raise failure
        return replies

    def _discard(self, requests) -> None:
        for request in requests:
            try:
                self._receive(request, min(self.timeout, 5))
            except Exception:
                pass

    def _receive(self, request, timeout: float):
        if isinstance(request, fastpath.Pending):
            return fastpath.receive(self.connection, request, timeout)
        return self.connection.receive(request, timeout=timeout)


def warm_up_credits(connection, session_id: int, target: int, timeout: float) -> None:
    """Grow the connection's credit window to about ``target`` with a burst of ECHO requests.

    Each ECHO costs one credit and asks for 64; Samba grants at most 1 + 32 per answer."""
    for _ in range(8):  # each round can multiply the window; a few rounds reach any sane target
        window = connection.sequence_window
        available = window["high"] - window["low"]
        if available >= target:
            return
        count = max(1, min(available - 1, -(-(target - available) // 32)))
        requests = [connection.send(SMB2Echo(), sid=session_id, credit_request=64) for _ in range(count)]
        for request in requests:
            connection.receive(request, timeout=timeout)
