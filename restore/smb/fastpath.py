"""The data path: READ and WRITE messages whose file data is never copied on the way.

smbprotocol packs and unpacks every message through its ``Structure`` classes. A 4 MiB READ answer
is copied about eight times between the socket and us (the receive buffer, ``bytes()`` of it, the
header's fields, the signature check packs the whole message again and slices it twice, the READ
body) and a WRITE about six times on its way out; at megabytes per message those copies (and the
page faults of each fresh buffer) cost more than the signature itself. The two messages that carry
file data take a shorter way here:

* **Requests** (READ, WRITE): the 64-byte header and the body are packed with ``struct``, signed over
  header, body and payload in pieces (AES-GMAC, AES-CMAC or HMAC-SHA256, whichever the connection
  negotiated: smbprotocol offers GMAC first and Samba >= 4.15 picks it on SMB 3.1.1), registered
  with smbprotocol's table of outstanding requests exactly as its own ``_send`` does, and written
  with one ``sendmsg``: the payload is the caller's buffer, untouched. Each asks for enough credits
  to keep ``CREDIT_GOAL`` available, so multi-credit reads stay in flight.
* **Answers**: the connection's receive thread reads each packet into one buffer
  (``recv_into``). A large, unencrypted, successful READ answer is verified in place and handed to
  the waiting request as a memoryview of that buffer (``FastAnswer``); every other packet goes on
  to smbprotocol's own processing, unchanged.

* **Compounds of packed messages** (``packed.Packed``: a timeline's CREATE + QUERY_INFO + CLOSE):
  ``send_chain`` packs the headers, signs each message and sends the chain with one ``sendmsg``; its
  requests are ``Pending`` entries in smbprotocol's table, whose answers the receive thread takes
  here (signatures verified over views of the packet) and ``receive`` collects: no ``Structure`` on
  either way.

An encrypted session (SMB_ENCRYPT) keeps smbprotocol's path for everything.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import hmac
import select
import socket
import struct
import threading
import time

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from smbprotocol import MAX_PAYLOAD_SIZE
from smbprotocol.connection import Request, SigningAlgorithms
from smbprotocol.exceptions import SMBException
from smbprotocol.header import Commands, SMB2HeaderRequest

HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")  # [MS-SMB2] 2.2.1.2 SYNC header, 64 bytes
READ_REQUEST = struct.Struct("<HBBIQ16sIIIHHB")  # 2.2.19 up to Buffer (48 bytes + 1 byte buffer)
WRITE_REQUEST = struct.Struct("<HHIQ16sIIHHI")  # 2.2.21 up to Buffer (48 bytes)
READ_ANSWER = struct.Struct("<HBxII")  # 2.2.20: StructureSize, DataOffset, DataLength, DataRemaining
SIGNED, ASYNC, RELATED = 0x8, 0x2, 0x4
STATUS_PENDING = 0x00000103
FAST_MIN = 32 * 1024  # smaller answers are not worth a second path
CREDIT_GOAL = 1024  # credits a data transfer keeps available: 8 x 8 MiB reads in flight
_SMB3, _SMB311 = 0x0300, 0x0311
_SHUT = (errno.ESHUTDOWN, errno.ECONNRESET, errno.ECONNABORTED)


UNIT = MAX_PAYLOAD_SIZE  # 64 KiB: what one credit pays for


def credits_for(size: int) -> int:
    """Credits a request that sends or may receive ``size`` bytes costs (one per started 64 KiB)."""
    return (max(0, size - 1) // MAX_PAYLOAD_SIZE) + 1


class Value:
    """A field as smbprotocol's code reads one: ``get_value()`` (and ``len()`` of a bytes field)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __len__(self) -> int:
        return len(self.value)

    def get_value(self):
        return self.value


class FastAnswer:
    """A READ answer taken on the fast path; stands in for smbprotocol's SMB2HeaderResponse where
    ``Connection.receive`` and ``wire.Reply`` look at it (status, command, message id, data)."""

    def __init__(self, status: int, message_id: int, credits: int, packet: bytearray, payload: memoryview):
        self.payload = payload  # the file data, a view of the packet: no copy
        self._fields = {"status": Value(status), "command": Value(Commands.SMB2_READ),
                        "message_id": Value(message_id), "credit_response": Value(credits),
                        "data": Value(memoryview(packet)[64:])}

    def __getitem__(self, key: str) -> Value:
        return self._fields[key]


class Answer:
    """One message of a compound answer taken on the fast path: its status and body (a view of the
    received packet), read the way smbprotocol's SMB2HeaderResponse is (``answer["data"]``...)."""

    __slots__ = ("_fields",)

    def __init__(self, status: int, command: int, message_id: int, credits: int, data: memoryview):
        self._fields = {"status": Value(status), "command": Value(command), "message_id": Value(message_id),
                        "credit_response": Value(credits), "data": Value(data)}

    def __getitem__(self, key: str) -> Value:
        return self._fields[key]


class Signal:
    """``threading.Event``'s set / clear / wait on one lock, held while the signal is clear. A ``Pending``
    is made per message (thousands per second in a catalogue build) and an Event builds a Condition and
    two locks: that was 8 % of a build's Python time. ``set`` may come from any thread, any number of
    times (smbprotocol sets every waiting request's event when a connection dies); ``clear`` is called
    with the request's ``response_event_lock`` held, as the receive thread holds it to ``set``."""

    __slots__ = ("_lock", "_set")

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if not self._set:
            self._set = True
            try:
                self._lock.release()
            except RuntimeError:  # released by a concurrent set (or a waiter passing it on)
                pass

    def clear(self) -> None:
        if self._set:
            self._lock.acquire()  # free while set
            self._set = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._set:
            return True
        if self._lock.acquire(timeout=-1 if timeout is None else timeout):
            try:
                self._lock.release()  # passed on: every later wait returns at once, as an Event's would
            except RuntimeError:
                pass
            return True
        return self._set


class Pending:
    """A request of ``send_chain`` in smbprotocol's table of outstanding requests. It has what
    smbprotocol's receive thread reads of a ``Request`` (so an answer that thread processes itself
    still reaches it) without building a header ``Structure`` per message."""

    __slots__ = ("message", "session_id", "response", "response_event", "response_event_lock", "async_id",
                 "related_ids", "cancelled")

    def __init__(self, message_id: int, command: int, session_id: int):
        self.message = {"message_id": Value(message_id), "command": Value(command), "reserved": Value(0)}
        self.session_id = session_id
        self.response = None
        self.response_event = Signal()
        self.response_event_lock = threading.Lock()
        self.async_id = None
        self.related_ids: list = []
        self.cancelled = False

    @property
    def message_id(self) -> int:
        return self.message["message_id"].value


# --- requests ------------------------------------------------------------------------------------


def usable(connection, session) -> bool:
    """Whether requests of this session may take the fast path (not when messages are encrypted)."""
    tree_encrypts = any(getattr(t, "encrypt_data", False) for t in session.tree_connect_table.values())
    return not (session.encrypt_data or tree_encrypts) and connection.transport is not None


def read_body(file_id: bytes, offset: int, length: int) -> bytes:
    return READ_REQUEST.pack(49, 0x50, 0, length, offset, file_id, 0, 0, 0, 0, 0, 0)


def write_body(file_id: bytes, offset: int, length: int) -> bytes:
    return WRITE_REQUEST.pack(49, 64 + WRITE_REQUEST.size, length, offset, file_id, 0, 0, 0, 0, 0)


def _reserve(connection, charge: int) -> tuple[int, int]:
    """Take ``charge`` credits' message ids from the window: (the first id, the extra credits to ask
    for so that ``CREDIT_GOAL`` stay available)."""
    with connection.sequence_lock:
        window = connection.sequence_window
        available = window["high"] - window["low"]
        if charge > available:
            raise SMBException(f"Request requires {charge} credits but only {available} credits are available")
        message_id = window["low"]
        window["low"] += charge
        return message_id, max(0, min(256, CREDIT_GOAL - (available - charge)))


def send(connection, session, tree_id: int, command: int, body: bytes, payload=b"", *, charge: int) -> Request:
    """Send one READ or WRITE (``body`` packed by ``read_body``/``write_body``, ``payload`` the data
    of a WRITE, any buffer) and return smbprotocol's Request for ``Connection.receive``."""
    message_id, more = _reserve(connection, charge)
    ask = charge + more
    signing = bool(session.signing_required and session.signing_key)
    header = bytearray(HEADER.pack(b"\xfeSMB", 64, charge, 0, command, ask, SIGNED if signing else 0, 0,
                                   message_id, 0, tree_id, session.session_id, b"\x00" * 16))
    if signing:
        header[48:64] = signature(connection, session.signing_key, message_id, False, (header, body, payload))
    request = Request(_header_of(header, command, message_id, tree_id, session.session_id), None, connection,
                      session_id=session.session_id)
    connection.outstanding_requests[message_id] = request  # before sending: the answer may come at once
    connection._check_worker_running()
    _sendmsg(connection.transport, [struct.pack(">I", len(header) + len(body) + len(payload)), header, body,
                                    payload])
    return request


def send_chain(connection, session, tree_id: int, messages: list) -> list[Pending]:
    """Send ``messages`` (``packed.Packed``) as one related compound; one ``Pending`` per message
    for ``receive``. The first asks for enough credits to keep ``CREDIT_GOAL`` available."""
    message_id, ask = _reserve(connection, sum(m.charge for m in messages))
    key = session.signing_key if session.signing_required and session.signing_key else None
    parts, pending = [], []
    for index, message in enumerate(messages):
        last = index == len(messages) - 1
        body = message.body if last else message.body + b"\x00" * (-(64 + len(message.body)) % 8)
        flags = (SIGNED if key else 0) | (RELATED if index else 0)
        header = bytearray(HEADER.pack(b"\xfeSMB", 64, message.charge, 0, message.COMMAND,
                                       message.charge + (0 if index else ask), flags, 0 if last else 64 + len(body),
                                       message_id, 0, tree_id, session.session_id, b"\x00" * 16))
        if key:
            header[48:64] = signature(connection, key, message_id, False, (header, body))
        request = Pending(message_id, message.COMMAND, session.session_id)
        connection.outstanding_requests[message_id] = request  # before sending: the answer may come at once
        pending.append(request)
        parts += [header, body]
        message_id += message.charge
    connection._check_worker_running()
    _sendmsg(connection.transport, [struct.pack(">I", sum(len(p) for p in parts)), *parts])
    return pending


def receive(connection, request: Pending, timeout: float):
    """The answer to a ``send_chain`` request (status and body, whatever the status), once it came."""
    while True:
        if not request.response_event.wait(timeout=timeout):
            raise SMBException(f"Connection timeout of {timeout} seconds exceeded while waiting for a message id "
                               f"{request.message_id} response from the server")
        connection._check_worker_running()  # the receive thread may have failed (it sets every event)
        with request.response_event_lock:
            response = request.response
            if response["status"].get_value() != STATUS_PENDING:
                connection.outstanding_requests.pop(request.message_id, None)
                return response
            request.response_event.clear()  # an interim answer smbprotocol's thread handed on: wait on


def _header_of(header: bytearray, command: int, message_id: int, tree_id: int, session_id: int):
    """smbprotocol's header object for the Request (its id, command and reserved field are read)."""
    obj = SMB2HeaderRequest()
    obj["command"] = command
    obj["message_id"] = message_id
    obj["tree_id"] = tree_id
    obj["session_id"] = session_id
    obj["signature"] = bytes(header[48:64])
    return obj


def _sendmsg(transport, parts: list) -> None:
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    with transport._sock_lock:
        sock = transport._sock
        while views:
            sent = sock.sendmsg(views)
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if views and sent:
                views[0] = views[0][sent:]


def signature(connection, key: bytes, message_id: int, response: bool, pieces) -> bytes:
    """The message signature over ``pieces`` (the header with a zeroed signature first)."""
    if connection.dialect >= _SMB311 and connection.signing_algorithm_id is not None:
        algorithm = connection.signing_algorithm_id
    else:
        algorithm = SigningAlgorithms.AES_CMAC if connection.dialect >= _SMB3 else SigningAlgorithms.HMAC_SHA256
    if algorithm == SigningAlgorithms.AES_GMAC:
        if sum(len(piece) for piece in pieces) <= FAST_MIN:  # one call, the key schedule kept: ~2 us, not ~12
            return _gcm(bytes(key)).encrypt(struct.pack("<QI", message_id, 1 if response else 0), b"",
                                     b"".join(pieces))
        mac = Cipher(algorithms.AES(key), modes.GCM(struct.pack("<QI", message_id, 1 if response else 0))).encryptor()
        for piece in pieces:
            if len(piece):
                mac.authenticate_additional_data(piece)
        mac.finalize()
        return mac.tag
    if algorithm == SigningAlgorithms.AES_CMAC:
        mac = cmac.CMAC(algorithms.AES(key))
        for piece in pieces:
            mac.update(piece)
        return mac.finalize()
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for piece in pieces:
        mac.update(piece)
    return mac.digest()[:16]


@functools.lru_cache(maxsize=64)
def _gcm(key: bytes) -> AESGCM:
    return AESGCM(key)


# --- answers -------------------------------------------------------------------------------------


def install(connection) -> None:
    """Route the connection's received packets through ``_receive`` (once per connection). The pool
    calls it as soon as the connection is made, before anything could be sent on the fast path: the
    receive thread picks the new ``recv`` up after the packet it is already waiting for."""
    transport = connection.transport
    if transport is None or getattr(transport, "_vdp_fast", False):
        return
    transport._vdp_fast = True
    transport.recv = lambda timeout: _receive(connection, transport, timeout)


def _receive(connection, transport, timeout: float):
    """The transport's ``recv`` as the connection's receive thread calls it: the next packet for
    smbprotocol, after taking any large READ answers that come first."""
    while True:
        packet = _packet(transport, timeout)
        if packet is None:
            return b""
        if not _take(connection, packet):
            return bytes(packet)


def _packet(transport, timeout: float) -> bytearray | None:
    size = bytearray(4)
    if not _fill(transport, memoryview(size), timeout, idle=True):
        return None
    packet = bytearray(struct.unpack(">I", size)[0])
    return packet if _fill(transport, memoryview(packet), timeout, idle=False) else None


def _fill(transport, view: memoryview, timeout: float, *, idle: bool) -> bool:
    """Fill ``view`` from the socket; False when it was closed. Like smbprotocol's ``_recv``: the
    close lock is held while reading (``close`` shuts the socket down first, which wakes us)."""
    offset = 0
    while offset < len(view):
        with transport._close_lock:
            if not transport.connected:
                return False
            if idle and offset == 0:
                start = time.monotonic()
                if not select.select([transport._sock], [], [], max(timeout, 1))[0]:
                    raise TimeoutError(f"recv idle for {time.monotonic() - start:.1f}s")
            try:
                got = transport._sock.recv_into(view[offset:], 0, socket.MSG_WAITALL)
            except OSError as exc:
                if exc.errno not in _SHUT:
                    raise
                got = 0
        if got == 0:
            transport.close()
            return False
        offset += got
    return True


def _take(connection, packet: bytearray) -> bool:
    """Deliver ``packet`` when it answers a ``send_chain`` compound or is a single, successful,
    unencrypted READ answer; else False (smbprotocol processes it)."""
    if packet[:4] != b"\xfeSMB" or len(packet) < 64:
        return False
    (_p, _size, _charge, status, command, credits, flags, next_command, message_id, _r, _t, _s,
     received) = HEADER.unpack_from(packet)
    request = connection.outstanding_requests.get(message_id)
    if isinstance(request, Pending):
        return _take_chain(connection, packet)
    if len(packet) < FAST_MIN:
        return False
    if command != Commands.SMB2_READ or status != 0 or next_command or flags & RELATED or request is None:
        return False
    if flags & SIGNED:
        session = connection.session_table.get(request.session_id)
        if session is None:
            raise SMBException(f"Failed to find session {request.session_id} for message verification")
        packet[48:64] = bytes(16)
        if not hmac.compare_digest(signature(connection, session.signing_key, message_id, True, (packet,)),
                                   received):
            raise SMBException("Server message signature could not be verified (READ answer)")
        packet[48:64] = received
    _structure, offset, length, _remaining = READ_ANSWER.unpack_from(packet, 64)
    if offset < 64 or offset + length > len(packet):
        raise SMBException(f"malformed READ answer: {length} bytes at {offset} in a {len(packet)}-byte message")
    answer = FastAnswer(status, message_id, credits, packet, memoryview(packet)[offset:offset + length])
    with connection.sequence_lock:
        connection.sequence_window["high"] += credits
    with request.response_event_lock:
        request.response = answer
        request.response_event.set()
    return True


def _take_chain(connection, packet: bytearray) -> bool:
    """Deliver every message of ``packet`` (the answers to one ``send_chain`` compound), each
    verified over a view of the packet; False (smbprotocol's turn) unless all are ``Pending``."""
    view = memoryview(packet)
    messages, offset = [], 0
    while True:
        fields = HEADER.unpack_from(packet, offset)
        end = offset + fields[7] if fields[7] else len(packet)
        request = connection.outstanding_requests.get(fields[8])
        if not isinstance(request, Pending) or end > len(packet) or end - offset < 64:
            return False
        messages.append((view[offset:end], fields, request))
        if not fields[7]:
            break
        offset = end
    for message, fields, request in messages:
        status, command, credits, flags, message_id, received = (fields[3], fields[4], fields[5], fields[6],
                                                                 fields[8], fields[12])
        if flags & SIGNED and status != STATUS_PENDING:
            session = connection.session_table.get(request.session_id)
            if session is None:
                raise SMBException(f"Failed to find session {request.session_id} for message verification")
            expected = signature(connection, session.signing_key, message_id, True,
                                 (message[:48], bytes(16), message[64:]))
            if not hmac.compare_digest(expected, received):
                raise SMBException(f"Server message signature could not be verified (message {message_id})")
        if status == STATUS_PENDING:  # an interim answer: the final one follows
            request.async_id = bytes(message[32:40])
        else:
            with request.response_event_lock:
                request.response = Answer(status, command, message_id, credits, message[64:])
                request.response_event.set()
        with connection.sequence_lock:  # after the answer: credits back means its request is answered
            connection.sequence_window["high"] += credits
    return True
