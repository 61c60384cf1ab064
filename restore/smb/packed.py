"""Fixed-layout messages packed and parsed with ``struct``: what timelines, listings and bulk
security-descriptor reads send and read.

A timeline asks, per snapshot, one related compound CREATE (with a TWrp create context) +
QUERY_INFO (security descriptor) + CLOSE, hundreds at a time. Built as smbprotocol ``Structure``
objects those cost about 1 ms of CPU per message (every field packed, measured and copied several
times), which made a 512-snapshot timeline CPU-bound while the wire needs a few round trips. The
three requests and the answers read from them are fixed layouts ([MS-SMB2] 2.2.13, 2.2.14, 2.2.37,
2.2.38, 2.2.15), so they are packed and parsed here in a few microseconds each. A folder's listing is the same
kind of compound: CREATE + QUERY_DIRECTORY + QUERY_DIRECTORY + CLOSE (2.2.33, 2.2.34).

A ``Packed`` message goes through smbprotocol's own ``send_compound`` unchanged (it asks only for
``COMMAND``, ``len()`` and ``pack()``), so an encrypted session still sends it; on an unencrypted
one the exchange sends whole compounds of them on ``fastpath`` (headers packed and signed here too).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from smbprotocol.header import Commands

from restore.smb.fastpath import Value, credits_for
from restore.smb.types import Entry, from_filetime, to_filetime

CREATE_REQUEST = struct.Struct("<HBBIQQIIIIIHHII")  # 2.2.13 up to Buffer: 56 bytes
TWRP_CONTEXT = struct.Struct("<IHHHHI4s4xQ")  # 2.2.13.2 with the name "TWrp" and an 8-byte FILETIME: 32
QUERY_INFO_REQUEST = struct.Struct("<HBBIHHIII16s")  # 2.2.37 up to Buffer: 40 bytes
QUERY_DIRECTORY_REQUEST = struct.Struct("<HBBI16sHHI")  # 2.2.33 up to Buffer: 32 bytes
CLOSE_REQUEST = struct.Struct("<HHI16s")  # 2.2.15: 24 bytes
CREATE_ANSWER = struct.Struct("<HBBIqqqqqqII16sII")  # 2.2.14 up to Buffer: 88 bytes
BUFFER_ANSWER = struct.Struct("<HHI")  # 2.2.38 / 2.2.34: StructureSize, OutputBufferOffset, OutputBufferLength
HEADER_SIZE = 64
RELATED = b"\xff" * 16  # the handle the CREATE above in the compound opened
IMPERSONATION = 2
INFO_SECURITY = 3
FILE_OPEN = 1
SHARE_ALL = 0x7
RESTART_SCANS = 0x1
ALL_NAMES = "*".encode("utf-16-le")


class Packed:
    """One request's body, packed; ``charge`` is its credit charge (one per started 64 KiB)."""

    __slots__ = ("COMMAND", "body", "charge")

    def __init__(self, command: int, body: bytes, charge: int = 1):
        self.COMMAND = command
        self.body = body
        self.charge = charge

    def __len__(self) -> int:
        return len(self.body)

    def pack(self) -> bytes:
        return self.body

    def __getitem__(self, field: str) -> Value:
        """The two fields smbprotocol's ``send_compound`` reads of a QUERY_DIRECTORY to charge it
        credits (an encrypted session sends packed messages that way): answers giving this charge."""
        if self.COMMAND != Commands.SMB2_QUERY_DIRECTORY or field not in ("buffer", "output_buffer_length"):
            raise KeyError(field)
        return Value(b"" if field == "buffer" else (self.charge - 1) * 65536 + 1)


def create(path: str, *, access: int, at: datetime | None = None, options: int = 0) -> Packed:
    """CREATE (open an existing object, shared with everyone) of ``path``, at the snapshot ``at``."""
    name = path.encode("utf-16-le")
    start = HEADER_SIZE + CREATE_REQUEST.size
    contexts = b""
    if at is not None:
        contexts = TWRP_CONTEXT.pack(0, 16, 4, 0, 24, 8, b"TWrp", to_filetime(at))
    buffer = name or b"\x00\x00"  # the share's root: no name, but the buffer still holds two bytes
    pad = b"\x00" * ((-len(buffer)) % 8) if contexts else b""
    offset = start + len(buffer) + len(pad) if contexts else 0
    body = CREATE_REQUEST.pack(57, 0, 0, IMPERSONATION, 0, 0, access, 0, SHARE_ALL, FILE_OPEN, options, start,
                               len(name), offset, len(contexts))
    return Packed(Commands.SMB2_CREATE, body + buffer + pad + contexts)


def query_security(additional: int, *, file_id: bytes = RELATED, max_output: int = 65536) -> Packed:
    """QUERY_INFO of the security descriptor parts named by ``additional`` (owner, group, DACL...)."""
    body = QUERY_INFO_REQUEST.pack(41, INFO_SECURITY, 0, max_output, 0, 0, 0, additional, 0, file_id)
    return Packed(Commands.SMB2_QUERY_INFO, body + b"\x00", credits_for(max_output))


def query_directory(info_class: int, *, file_id: bytes = RELATED, pattern: str = "*", restart: bool = False,
                    max_output: int = 65536) -> Packed:
    """QUERY_DIRECTORY of the names matching ``pattern`` in the folder ``file_id`` (the related CREATE's
    by default), up to ``max_output`` bytes of entries; ``restart`` starts from the first entry."""
    name = ALL_NAMES if pattern == "*" else pattern.encode("utf-16-le")
    body = QUERY_DIRECTORY_REQUEST.pack(33, info_class, RESTART_SCANS if restart else 0, 0, file_id,
                                        HEADER_SIZE + QUERY_DIRECTORY_REQUEST.size, len(name), max_output)
    return Packed(Commands.SMB2_QUERY_DIRECTORY, body + name, credits_for(max_output))


def close(file_id: bytes = RELATED) -> Packed:
    return Packed(Commands.SMB2_CLOSE, CLOSE_REQUEST.pack(24, 0, 0, file_id))


# --- answers (``data``: the message after its 64-byte header) -------------------------------------


def create_answer(data) -> tuple:
    """(attributes, end of file, creation, last access, last write, change time as FILETIMEs, file id)."""
    (_size, _oplock, _flags, _action, created, accessed, written, changed, _allocation, end_of_file, attributes,
     _reserved, file_id, _ctx_offset, _ctx_length) = CREATE_ANSWER.unpack_from(data)
    return attributes, end_of_file, created, accessed, written, changed, file_id


def entry(data, name: str) -> Entry:
    """The object a successful CREATE opened, from its answer (times, attributes, end of file)."""
    attributes, size, created, accessed, written, changed, _file_id = create_answer(data)
    return Entry(name=name, is_dir=bool(attributes & 0x10), size=size, last_write=_time(written),
                 created=_time(created), changed=_time(changed), attributes=attributes,
                 last_access=_time(accessed))


def file_id(data) -> bytes:
    return create_answer(data)[6]


def output_buffer(data) -> bytes:
    """The output buffer of a QUERY_INFO or QUERY_DIRECTORY answer (its offset counts the header)."""
    _size, offset, length = BUFFER_ANSWER.unpack_from(data)
    start = offset - HEADER_SIZE if offset else BUFFER_ANSWER.size
    if start < BUFFER_ANSWER.size or start + length > len(data):
        raise ValueError(f"malformed answer: {length} bytes at {offset} in a {len(data) + HEADER_SIZE}-byte message")
    return bytes(data[start:start + length])


def _time(filetime: int) -> datetime:
    try:
        return from_filetime(filetime)
    except OverflowError:  # "never" on some servers: the largest time there is, as smbprotocol reads it
        return datetime.max.replace(tzinfo=UTC)
