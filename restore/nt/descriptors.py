"""Windows security descriptors as bytes <-> our own frozen types.

The file server hands us a *self-relative* SECURITY_DESCRIPTOR ([MS-DTYP] 2.4.6) in answer to
SMB2 QUERY_INFO (SMB2_0_INFO_SECURITY, owner + group + DACL). :func:`parse_security_descriptor`
turns it into :class:`SecurityDescriptor`; :func:`build_security_descriptor` is the inverse (the
test harness uses it to set ACLs on real files). Deciding what a token may do with a descriptor
is :mod:`restore.nt.access`'s job, not this module's.

Everything the server sends is untrusted: every offset and size is checked against the buffer
and the enclosing structure, and anything malformed raises :class:`SecurityDescriptorError`
(never IndexError or struct.error). All integers are little-endian except a SID's
IdentifierAuthority, which is big-endian ([MS-DTYP] 2.4.2.2). This module does no I/O and does
not import smbprotocol (only the SMB adapter does).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from restore.nt.constants import (
    ACCESS_ALLOWED_COMPOUND_ACE_TYPE,
    ACE_INHERITED_OBJECT_TYPE_PRESENT,
    ACE_OBJECT_TYPE_PRESENT,
    ACL_REVISION,
    ACL_REVISION_DS,
    OBJECT_ACE_TYPES,
    SE_DACL_PRESENT,
    SE_SACL_PRESENT,
    SE_SELF_RELATIVE,
    SYSTEM_SCOPED_POLICY_ID_ACE_TYPE,
)


class SecurityDescriptorError(ValueError):
    """Bytes that are not a well-formed self-relative security descriptor (or SID); or a
    SecurityDescriptor / SID string that cannot be serialised."""


_ACL_REVISIONS = (2, 3, 4)


SID_MAX_SUB_AUTHORITIES = 15


_SD_HEADER = struct.Struct("<BBHIIII")  # Revision, Sbz1, Control, OffsetOwner, OffsetGroup, OffsetSacl, OffsetDacl


_ACL_HEADER = struct.Struct("<BBHHH")  # AclRevision, Sbz1, AclSize, AceCount, Sbz2


_ACE_HEADER = struct.Struct("<BBH")  # AceType, AceFlags, AceSize


_GUID_SIZE = 16


@dataclass(frozen=True)
class Ace:
    """One access control entry ([MS-DTYP] 2.4.4).

    ``mask`` is the ACE's access mask as stored (generic rights are *not* mapped here).
    ``object_data`` is only for object ACE types: the Flags field and the ObjectType /
    InheritedObjectType GUIDs it announces, verbatim (4, 20 or 36 bytes). ``application_data``
    is whatever follows the SID inside AceSize (callback ACEs' conditional expression, resource
    attribute data, or padding), verbatim. Both exist so that build() reproduces what parse() read.
    """

    type: int
    flags: int
    mask: int
    sid: str
    object_data: bytes = b""
    application_data: bytes = b""


@dataclass(frozen=True)
class SecurityDescriptor:
    """Owner, group and DACL of a self-relative security descriptor.

    ``dacl is None`` is a descriptor without a DACL; ``dacl == ()`` is an empty DACL. The two
    kinds of "no DACL" — SE_DACL_PRESENT set with no ACL (a NULL DACL) and SE_DACL_PRESENT
    clear (no DACL information at all) — both give ``None``; ``control`` (and
    :attr:`dacl_present`) tells them apart, which matters to :mod:`restore.nt.access`.
    The SACL is never read (we do not ask the server for it).
    """

    owner: str | None
    group: str | None
    dacl: tuple[Ace, ...] | None
    control: int = SE_SELF_RELATIVE | SE_DACL_PRESENT

    @property
    def dacl_present(self) -> bool:
        return bool(self.control & SE_DACL_PRESENT)


# --- SIDs ([MS-DTYP] 2.4.2) -----------------------------------------------------------------------

# String form, [MS-DTYP] 2.4.2.1: S-1-<IdentifierAuthority>(-<SubAuthority>)*, the authority in
# decimal, or as 0x + 12 hex digits (which is how it is written when it is 2**32 or more).
_SID_STRING = re.compile(r"S-1-(?:([0-9]+)|0[xX]([0-9A-Fa-f]{12}))((?:-[0-9]+)*)", re.IGNORECASE)


def sid_to_bytes(sid: str) -> bytes:
    """``S-1-5-21-...`` -> its binary form ([MS-DTYP] 2.4.2.2)."""
    match = _SID_STRING.fullmatch(sid) if isinstance(sid, str) else None
    if match is None:
        raise SecurityDescriptorError(f"not a SID string: {sid!r}")
    authority = int(match[1]) if match[1] is not None else int(match[2], 16)
    subs = [int(s) for s in match[3].split("-")[1:]]
    if authority >= 1 << 48:
        raise SecurityDescriptorError(f"SID identifier authority out of range: {sid!r}")
    if len(subs) > SID_MAX_SUB_AUTHORITIES:
        raise SecurityDescriptorError(f"SID has more than {SID_MAX_SUB_AUTHORITIES} sub-authorities: {sid!r}")
    if any(s >= 1 << 32 for s in subs):
        raise SecurityDescriptorError(f"SID sub-authority out of range: {sid!r}")
    return bytes([1, len(subs)]) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)


def sid_from_bytes(raw: bytes) -> str:
    """A binary SID, exactly (no trailing bytes), -> its canonical ``S-1-...`` string."""
    sid, size = _read_sid(bytes(raw), 0, len(raw), "SID")
    if size != len(raw):
        raise SecurityDescriptorError(f"SID is {size} bytes but {len(raw)} were given")
    return sid


def _read_sid(data: bytes, offset: int, end: int, what: str) -> tuple[str, int]:
    """The SID at ``offset``, which must lie wholly before ``end``; returns (string, size)."""
    if offset + 8 > end:
        raise SecurityDescriptorError(f"{what}: SID at offset {offset} is truncated")
    revision, count = data[offset], data[offset + 1]
    if revision != 1:
        raise SecurityDescriptorError(f"{what}: SID revision {revision}, expected 1")
    if count > SID_MAX_SUB_AUTHORITIES:
        raise SecurityDescriptorError(f"{what}: SID has {count} sub-authorities (at most {SID_MAX_SUB_AUTHORITIES})")
    size = 8 + 4 * count
    if offset + size > end:
        raise SecurityDescriptorError(f"{what}: SID at offset {offset} needs {size} bytes, runs past its bounds")
    authority = int.from_bytes(data[offset + 2:offset + 8], "big")
    subs = struct.unpack_from(f"<{count}I", data, offset + 8)
    text = f"S-1-{authority}" if authority < 1 << 32 else f"S-1-0x{authority:012X}"
    return text + "".join(f"-{s}" for s in subs), size


# --- parsing --------------------------------------------------------------------------------------


def parse_security_descriptor(data: bytes) -> SecurityDescriptor:
    """Self-relative SECURITY_DESCRIPTOR bytes ([MS-DTYP] 2.4.6) -> SecurityDescriptor."""
    data = bytes(data)
    if len(data) < _SD_HEADER.size:
        raise SecurityDescriptorError(f"security descriptor is {len(data)} bytes, shorter than its 20-byte header")
    revision, _sbz1, control, off_owner, off_group, _off_sacl, off_dacl = _SD_HEADER.unpack_from(data)
    if revision != 1:
        raise SecurityDescriptorError(f"security descriptor revision {revision}, expected 1")
    # SE_SELF_RELATIVE is not required: bytes can only be the self-relative form, and some
    # writers (smbprotocol's SMB2CreateSDBuffer, for one) leave the bit clear. Samba's NDR parser
    # does not require it either.

    owner = _read_sid_at(data, off_owner, "owner")
    group = _read_sid_at(data, off_group, "group")
    dacl = None
    if control & SE_DACL_PRESENT and off_dacl:  # present with offset 0 is a NULL DACL
        dacl = _read_acl(data, _check_offset(data, off_dacl, "DACL"))
    return SecurityDescriptor(owner=owner, group=group, dacl=dacl, control=control)


def _check_offset(data: bytes, offset: int, what: str) -> int:
    if offset < _SD_HEADER.size or offset >= len(data):
        raise SecurityDescriptorError(f"{what} offset {offset} is outside the descriptor (20..{len(data) - 1})")
    return offset


def _read_sid_at(data: bytes, offset: int, what: str) -> str | None:
    if offset == 0:
        return None
    return _read_sid(data, _check_offset(data, offset, what), len(data), what)[0]


def _read_acl(data: bytes, offset: int) -> tuple[Ace, ...]:
    """The ACL at ``offset`` ([MS-DTYP] 2.4.5): every ACE must lie within AclSize."""
    if offset + _ACL_HEADER.size > len(data):
        raise SecurityDescriptorError(f"DACL header at offset {offset} is truncated")
    revision, _sbz1, size, count, _sbz2 = _ACL_HEADER.unpack_from(data, offset)
    if revision not in _ACL_REVISIONS:
        raise SecurityDescriptorError(f"DACL revision {revision}, expected one of {_ACL_REVISIONS}")
    if size < _ACL_HEADER.size:
        raise SecurityDescriptorError(f"DACL size {size} is smaller than its 8-byte header")
    end = offset + size
    if end > len(data):
        raise SecurityDescriptorError(f"DACL at offset {offset} claims {size} bytes, runs past the descriptor")
    aces = []
    pos = offset + _ACL_HEADER.size
    for index in range(count):
        ace, pos = _read_ace(data, pos, end, index)
        aces.append(ace)
    return tuple(aces)


def _read_ace(data: bytes, pos: int, acl_end: int, index: int) -> tuple[Ace, int]:
    """ACE number ``index`` at ``pos`` ([MS-DTYP] 2.4.4); returns it and where the next one starts."""
    what = f"ACE {index}"
    if pos + _ACE_HEADER.size > acl_end:
        raise SecurityDescriptorError(f"{what} at offset {pos} starts beyond the end of the DACL")
    ace_type, flags, size = _ACE_HEADER.unpack_from(data, pos)
    end = pos + size
    if end > acl_end:
        raise SecurityDescriptorError(f"{what} size {size} runs past the end of the DACL")
    _require_known_layout(ace_type, what)
    body = pos + _ACE_HEADER.size
    if body + 4 > end:
        raise SecurityDescriptorError(f"{what} size {size} is too small for its access mask")
    (mask,) = struct.unpack_from("<I", data, body)
    sid_at = body + 4
    object_data = b""
    if ace_type in OBJECT_ACE_TYPES:
        if sid_at + 4 > end:
            raise SecurityDescriptorError(f"{what} size {size} is too small for its object flags")
        (object_flags,) = struct.unpack_from("<I", data, sid_at)
        length = _object_data_size(object_flags)
        if sid_at + length > end:
            raise SecurityDescriptorError(f"{what} size {size} is too small for the object types its flags announce")
        object_data = data[sid_at:sid_at + length]
        sid_at += length
    sid, sid_size = _read_sid(data, sid_at, end, what)
    ace = Ace(type=ace_type, flags=flags, mask=mask, sid=sid,
              object_data=object_data, application_data=data[sid_at + sid_size:end])
    return ace, end


def _object_data_size(object_flags: int) -> int:
    """Flags plus the GUIDs it announces ([MS-DTYP] 2.4.4.3: other flag bits carry no data)."""
    present = object_flags & (ACE_OBJECT_TYPE_PRESENT | ACE_INHERITED_OBJECT_TYPE_PRESENT)
    return 4 + _GUID_SIZE * present.bit_count()


def _require_known_layout(ace_type: int, what: str) -> None:
    """Refuse ACE types whose layout we do not know: we could not even find their SID.

    0x04 (ACCESS_ALLOWED_COMPOUND_ACE, reserved and never used on files) and anything above
    0x13 are refused; Windows does not produce them.
    """
    if ace_type == ACCESS_ALLOWED_COMPOUND_ACE_TYPE or ace_type > SYSTEM_SCOPED_POLICY_ID_ACE_TYPE:
        raise SecurityDescriptorError(f"{what} has unsupported ACE type 0x{ace_type:02x}")


# --- building -------------------------------------------------------------------------------------


def build_security_descriptor(sd: SecurityDescriptor) -> bytes:
    """SecurityDescriptor -> self-relative bytes: header, owner, group, DACL (no SACL).

    Control is written as given except: SE_SELF_RELATIVE is always set, SE_SACL_PRESENT always
    cleared, and SE_DACL_PRESENT set whenever there is a DACL. With ``dacl=None`` the caller's
    SE_DACL_PRESENT is kept: set (the default) writes a NULL DACL, clear writes "no DACL".
    """
    if not 0 <= sd.control <= 0xFFFF:
        raise SecurityDescriptorError(f"control 0x{sd.control:x} does not fit in 16 bits")
    control = (sd.control | SE_SELF_RELATIVE) & ~SE_SACL_PRESENT
    owner = sid_to_bytes(sd.owner) if sd.owner is not None else b""
    group = sid_to_bytes(sd.group) if sd.group is not None else b""
    dacl = b""
    if sd.dacl is not None:
        control |= SE_DACL_PRESENT
        dacl = _build_acl(sd.dacl)

    off_owner = _SD_HEADER.size if owner else 0
    off_group = _SD_HEADER.size + len(owner) if group else 0
    off_dacl = _SD_HEADER.size + len(owner) + len(group) if sd.dacl is not None else 0
    header = _SD_HEADER.pack(1, 0, control, off_owner, off_group, 0, off_dacl)
    return header + owner + group + dacl


def _build_acl(aces: tuple[Ace, ...]) -> bytes:
    body = b"".join(_build_ace(ace, i) for i, ace in enumerate(aces))
    size = _ACL_HEADER.size + len(body)
    if size > 0xFFFF or len(aces) > 0xFFFF:
        raise SecurityDescriptorError(f"DACL of {len(aces)} ACEs is {size} bytes, more than an ACL can hold")
    revision = ACL_REVISION_DS if any(a.type in OBJECT_ACE_TYPES for a in aces) else ACL_REVISION
    return _ACL_HEADER.pack(revision, 0, size, len(aces), 0) + body


def _build_ace(ace: Ace, index: int) -> bytes:
    what = f"ACE {index}"
    if not (0 <= ace.type <= 0xFF and 0 <= ace.flags <= 0xFF and 0 <= ace.mask <= 0xFFFFFFFF):
        raise SecurityDescriptorError(f"{what}: type, flags or mask out of range")
    _require_known_layout(ace.type, what)
    if ace.type in OBJECT_ACE_TYPES:
        if len(ace.object_data) < 4:
            raise SecurityDescriptorError(f"{what}: an object ACE needs object_data (at least its 4-byte Flags)")
        (object_flags,) = struct.unpack_from("<I", ace.object_data)
        if len(ace.object_data) != _object_data_size(object_flags):
            raise SecurityDescriptorError(f"{what}: object_data length does not match the GUIDs its flags announce")
    elif ace.object_data:
        raise SecurityDescriptorError(f"{what}: object_data is only for object ACE types")
    body = struct.pack("<I", ace.mask) + ace.object_data + sid_to_bytes(ace.sid) + ace.application_data
    size = _ACE_HEADER.size + len(body)
    # [MS-DTYP] 2.4.4.1: AceSize MUST be a multiple of 4. SIDs and object data always are, so only
    # application_data can break it; refuse rather than silently pad (padding would not round-trip).
    if size % 4:
        raise SecurityDescriptorError(f"{what}: application_data must make the ACE a multiple of 4 bytes")
    if size > 0xFFFF:
        raise SecurityDescriptorError(f"{what} is {size} bytes, more than an ACE can hold")
    return _ACE_HEADER.pack(ace.type, ace.flags, size) + body
