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

An encrypted session (SMB_ENCRYPT) keeps smbprotocol's path for everything.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import select
import socket
import struct
import time

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from smbprotocol import MAX_PAYLOAD_SIZE
from smbprotocol.connection import Request, SigningAlgorithms
from smbprotocol.exceptions import SMBException
from smbprotocol.header import Commands, SMB2HeaderRequest

HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")  # [MS-SMB2] 2.2.1.2 SYNC header, 64 bytes
READ_REQUEST = struct.Struct("<HBBIQ16sIIIHHB")  # 2.2.19 up to Buffer (48 bytes + 1 byte buffer)
WRITE_REQUEST = struct.Struct("<HHIQ16sIIHHI")  # 2.2.21 up to Buffer (48 bytes)
READ_ANSWER = struct.Struct("<HBxII")  # 2.2.20: StructureSize, DataOffset, DataLength, DataRemaining
SIGNED, ASYNC, RELATED = 0x8, 0x2, 0x4
FAST_MIN = 32 * 1024  # smaller answers are not worth a second path
CREDIT_GOAL = 1024  # credits a data transfer keeps available: 8 x 8 MiB reads in flight
_SMB3, _SMB311 = 0x0300, 0x0311
_SHUT = (errno.ESHUTDOWN, errno.ECONNRESET, errno.ECONNABORTED)


UNIT = MAX_PAYLOAD_SIZE  # 64 KiB: what one credit pays for


def credits_for(size: int) -> int:
    """Credits one READ/WRITE of ``size`` bytes costs (one per started 64 KiB)."""
    return (max(0, size - 1) // MAX_PAYLOAD_SIZE) + 1


class _Value:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def get_value(self):
        return self.value


class FastAnswer:
    """A READ answer taken on the fast path; stands in for smbprotocol's SMB2HeaderResponse where
    ``Connection.receive`` and ``wire.Reply`` look at it (status, command, message id, data)."""

    def __init__(self, status: int, message_id: int, credits: int, packet: bytearray, payload: memoryview):
        self.payload = payload  # the file data, a view of the packet: no copy
        self._fields = {"status": _Value(status), "command": _Value(Commands.SMB2_READ),
                        "message_id": _Value(message_id), "credit_response": _Value(credits),
                        "data": _Value(memoryview(packet)[64:])}

    def __getitem__(self, key: str) -> _Value:
        return self._fields[key]


# --- requests ------------------------------------------------------------------------------------


def usable(connection, session) -> bool:
    """Whether requests of this session may take the fast path (not when messages are encrypted)."""
    tree_encrypts = any(getattr(t, "encrypt_data", False) for t in session.tree_connect_table.values())
    return not (session.encrypt_data or tree_encrypts) and connection.transport is not None


def read_body(file_id: bytes, offset: int, length: int) -> bytes:
    return READ_REQUEST.pack(49, 0x50, 0, length, offset, file_id, 0, 0, 0, 0, 0, 0)


def write_body(file_id: bytes, offset: int, length: int) -> bytes:
    return WRITE_REQUEST.pack(49, 64 + WRITE_REQUEST.size, length, offset, file_id, 0, 0, 0, 0, 0)


def send(connection, session, tree_id: int, command: int, body: bytes, payload=b"", *, charge: int) -> Request:
    """Send one READ or WRITE (``body`` packed by ``read_body``/``write_body``, ``payload`` the data
    of a WRITE, any buffer) and return smbprotocol's Request for ``Connection.receive``."""
    with connection.sequence_lock:
        window = connection.sequence_window
        available = window["high"] - window["low"]
        if charge > available:
            raise SMBException(f"Request requires {charge} credits but only {available} credits are available")
        message_id = window["low"]
        window["low"] += charge
        ask = charge + max(0, min(256, CREDIT_GOAL - (available - charge)))
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


# --- answers -------------------------------------------------------------------------------------


def install(connection) -> None:
    """Route the connection's received packets through ``_receive`` (once per connection)."""
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
        if len(packet) < FAST_MIN or not _take(connection, packet):
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
    """Deliver ``packet`` when it is a single, successful, unencrypted READ answer; else False."""
    if packet[:4] != b"\xfeSMB":
        return False
    (_p, _size, _charge, status, command, credits, flags, next_command, message_id, _r, _t, _s,
     received) = HEADER.unpack_from(packet)
    request = connection.outstanding_requests.get(message_id)
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
