"""Security descriptors: reading what file servers send, writing what the harness sets, and
refusing malformed bytes with SecurityDescriptorError (never IndexError or struct.error)."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from restore.nt.constants import (
    ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_DENIED_ACE_TYPE,
    ACCESS_DENIED_CALLBACK_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE,
    OBJECT_ACE_TYPES,
    SE_DACL_PRESENT,
    SE_DACL_PROTECTED,
    SE_SACL_PRESENT,
    SE_SELF_RELATIVE,
)
from restore.nt.descriptors import (
    Ace,
    SecurityDescriptor,
    SecurityDescriptorError,
    build_security_descriptor,
    parse_security_descriptor,
    sid_from_bytes,
    sid_to_bytes,
)

# Laid out by hand from [MS-DTYP] 2.4.6 (not produced by our builder):
#   header: revision 1, control 0x8404 (SELF_RELATIVE | DACL_AUTO_INHERITED | DACL_PRESENT),
#           owner at 0x14, group at 0x24, no SACL, DACL at 0x30
#   owner S-1-5-32-544 (BUILTIN\Administrators), group S-1-5-18 (SYSTEM)
#   DACL revision 2, 52 bytes, 2 ACEs:
#     allow, INHERITED_ACE, 20 bytes, 0x001F01FF, S-1-5-18
#     allow, OBJECT_INHERIT|CONTAINER_INHERIT, 24 bytes, 0x001200A9, S-1-5-32-544
HAND_LAID = bytes.fromhex(
    "01000484" "14000000" "24000000" "00000000" "30000000"
    "01020000000000052000000020020000"
    "010100000000000512000000"
    "02003400" "02000000"
    "00101400" "ff011f00" "010100000000000512000000"
    "00031800" "a9001200" "01020000000000052000000020020000"
)
HAND_LAID_SD = SecurityDescriptor(
    owner="S-1-5-32-544",
    group="S-1-5-18",
    dacl=(
        Ace(type=0, flags=0x10, mask=0x001F01FF, sid="S-1-5-18"),
        Ace(type=0, flags=0x03, mask=0x001200A9, sid="S-1-5-32-544"),
    ),
    control=0x8404,
)

# Written by another implementation (smbprotocol 1.17's SMB2CreateSDBuffer), which leaves
# SE_SELF_RELATIVE clear: deny Everyone DELETE, allow Authenticated Users 0x1200A9.
OTHER_WRITER = bytes.fromhex(
    "01000400" "14000000" "30000000" "00000000" "4c000000"
    "010500000000000515000000c7f7fed77c7755c8945ace01f5030000"
    "010500000000000515000000c7f7fed77c7755c8945ace0101020000"
    "02003000" "02000000"
    "01001400" "00000100" "010100000000000100000000"
    "00001400" "a9001200" "01010000000000050b000000"
)


def ace_bytes(ace_type, flags, body):
    return struct.pack("<BBH", ace_type, flags, 4 + len(body)) + body


def descriptor_bytes(*aces, owner=b"", group=b"", control=0x8004, acl_revision=2, ace_count=None):
    """A self-relative descriptor laid out by hand: header, owner, group, DACL."""
    acl_body = b"".join(aces)
    acl = struct.pack("<BBHHH", acl_revision, 0, 8 + len(acl_body), len(aces) if ace_count is None else ace_count, 0)
    off_owner = 20 if owner else 0
    off_group = 20 + len(owner) if group else 0
    header = struct.pack("<BBHIIII", 1, 0, control, off_owner, off_group, 0, 20 + len(owner) + len(group))
    return header + owner + group + acl + acl_body


EVERYONE = bytes.fromhex("010100000000000100000000")
ADMINS = bytes.fromhex("01020000000000052000000020020000")


# --- SIDs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,hexed", [
    ("S-1-1-0", "010100000000000100000000"),
    ("S-1-5-32-544", "01020000000000052000000020020000"),
    ("S-1-5-21-3623811015-3361044348-30300820-1013",
     "010500000000000515000000c7f7fed77c7755c8945ace01f5030000"),
    ("S-1-5", "0100000000000005"),  # no sub-authorities at all
])
def test_sids_have_the_binary_form_of_ms_dtyp_2_4_2_2(text, hexed):
    assert sid_to_bytes(text).hex() == hexed
    assert sid_from_bytes(bytes.fromhex(hexed)) == text


def test_an_identifier_authority_of_2_to_the_32_or_more_is_written_in_hex():
    raw = bytes([1, 1]) + (0x123456789ABC).to_bytes(6, "big") + struct.pack("<I", 7)
    assert sid_from_bytes(raw) == "S-1-0x123456789ABC-7"
    assert sid_to_bytes("S-1-0x123456789ABC-7") == raw


def test_sid_strings_are_read_in_any_case_and_written_canonically():
    assert sid_from_bytes(sid_to_bytes("s-1-5-018")) == "S-1-5-18"


@pytest.mark.parametrize("text", [
    "", "S-1", "S-1-", "S-2-5-18", "S-1-5-x", "S-1-5--18", "S-1-5-18-", "S-1-5-4294967296",
    "S-1-281474976710656-1", "S-1-0x12345-1", "S-1-5" + "-1" * 16, " S-1-5-18", "S-1-5-+18", "S-1-5-١٨",
])
def test_malformed_sid_strings_are_refused(text):
    with pytest.raises(SecurityDescriptorError, match="SID"):
        sid_to_bytes(text)


@pytest.mark.parametrize("hexed,reason", [
    ("", "truncated"),
    ("0101000000000001", "needs 12 bytes"),
    ("020100000000000100000000", "revision 2"),
    ("0110" + "000000000005" + "00000000" * 16, "16 sub-authorities"),
    ("01010000000000010000000000", "13 were given"),
])
def test_malformed_binary_sids_are_refused(hexed, reason):
    with pytest.raises(SecurityDescriptorError, match=reason):
        sid_from_bytes(bytes.fromhex(hexed))


# --- known answers --------------------------------------------------------------------------------


def test_a_hand_laid_descriptor_is_read_field_by_field():
    assert parse_security_descriptor(HAND_LAID) == HAND_LAID_SD


def test_the_builder_lays_out_exactly_what_ms_dtyp_describes():
    assert build_security_descriptor(HAND_LAID_SD) == HAND_LAID


def test_a_descriptor_written_by_another_implementation_is_read():
    sd = parse_security_descriptor(OTHER_WRITER)
    assert sd.owner == "S-1-5-21-3623811015-3361044348-30300820-1013"
    assert sd.group == "S-1-5-21-3623811015-3361044348-30300820-513"
    assert sd.dacl == (
        Ace(type=ACCESS_DENIED_ACE_TYPE, flags=0, mask=0x10000, sid="S-1-1-0"),
        Ace(type=ACCESS_ALLOWED_ACE_TYPE, flags=0, mask=0x1200A9, sid="S-1-5-11"),
    )
    assert not sd.control & SE_SELF_RELATIVE and sd.dacl_present


def test_object_and_callback_aces_keep_their_type_sid_and_extra_data():
    guid = bytes(range(16))
    object_ace = ace_bytes(ACCESS_DENIED_OBJECT_ACE_TYPE, 0, struct.pack("<II", 0x1, 0x1) + guid + EVERYONE)
    condition = b"artx\x00\x00\x00\x00"  # a conditional expression's signature, padded
    callback_ace = ace_bytes(ACCESS_DENIED_CALLBACK_ACE_TYPE, 0, struct.pack("<I", 0x2) + ADMINS + condition)
    raw = descriptor_bytes(object_ace, callback_ace, owner=ADMINS, acl_revision=4)
    sd = parse_security_descriptor(raw)
    assert sd.dacl == (
        Ace(type=6, flags=0, mask=0x1, sid="S-1-1-0", object_data=struct.pack("<I", 1) + guid),
        Ace(type=10, flags=0, mask=0x2, sid="S-1-5-32-544", application_data=condition),
    )
    assert build_security_descriptor(sd) == raw


def test_null_empty_and_absent_dacls_are_told_apart():
    null = parse_security_descriptor(struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 0))
    absent = parse_security_descriptor(struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0))
    empty = parse_security_descriptor(descriptor_bytes())
    assert (null.dacl, null.dacl_present) == (None, True)
    assert (absent.dacl, absent.dacl_present) == (None, False)
    assert (empty.dacl, empty.dacl_present) == ((), True)
    assert null.owner is None and null.group is None


def test_a_dacl_offset_without_dacl_present_is_no_dacl():
    raw = bytearray(descriptor_bytes(ace_bytes(0, 0, struct.pack("<I", 1) + EVERYONE)))
    raw[2:4] = struct.pack("<H", 0x8000)
    assert parse_security_descriptor(bytes(raw)).dacl is None


def test_the_builder_writes_a_null_dacl_unless_told_dacl_present_is_clear():
    null = build_security_descriptor(SecurityDescriptor(owner=None, group=None, dacl=None))
    absent = build_security_descriptor(SecurityDescriptor(owner=None, group=None, dacl=None, control=0))
    assert null == struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 0)
    assert absent == struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0)


def test_the_builder_never_claims_a_sacl_and_always_marks_a_dacl_it_writes():
    sd = SecurityDescriptor(owner="S-1-5-18", group=None, dacl=(), control=SE_SACL_PRESENT | SE_DACL_PROTECTED)
    (control,) = struct.unpack_from("<H", build_security_descriptor(sd), 2)
    assert control == SE_SELF_RELATIVE | SE_DACL_PRESENT | SE_DACL_PROTECTED


@pytest.mark.parametrize("sd,reason", [
    (SecurityDescriptor(owner="S-1-5", group=None, dacl=None, control=0x10000), "16 bits"),
    (SecurityDescriptor(owner="nobody", group=None, dacl=None), "not a SID"),
    (SecurityDescriptor(owner=None, group=None, dacl=(Ace(0, 0, 1 << 32, "S-1-1-0"),)), "out of range"),
    (SecurityDescriptor(owner=None, group=None, dacl=(Ace(0x04, 0, 1, "S-1-1-0"),)), "unsupported ACE type"),
    (SecurityDescriptor(owner=None, group=None, dacl=(Ace(5, 0, 1, "S-1-1-0"),)), "needs object_data"),
    (SecurityDescriptor(owner=None, group=None, dacl=(Ace(5, 0, 1, "S-1-1-0", object_data=b"\1\0\0\0"),)),
     "does not match"),
    (SecurityDescriptor(owner=None, group=None, dacl=(Ace(0, 0, 1, "S-1-1-0", object_data=b"\0" * 4),)),
     "only for object"),
    (SecurityDescriptor(owner=None, group=None, dacl=(Ace(9, 0, 1, "S-1-1-0", application_data=b"ab"),)),
     "multiple of 4"),
    (SecurityDescriptor(owner=None, group=None, dacl=(Ace(0, 0, 1, "S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12"),) * 2000),
     "more than an ACL can hold"),
])
def test_the_builder_refuses_what_it_cannot_write(sd, reason):
    with pytest.raises(SecurityDescriptorError, match=reason):
        build_security_descriptor(sd)


# --- malformed input ------------------------------------------------------------------------------

ALLOW_EVERYONE = ace_bytes(0, 0, struct.pack("<I", 1) + EVERYONE)
VALID = descriptor_bytes(ALLOW_EVERYONE, owner=ADMINS, group=EVERYONE)


def patched(raw, offset, fmt, value):
    raw = bytearray(raw)
    struct.pack_into(fmt, raw, offset, value)
    return bytes(raw)


OFF_DACL = 20 + len(ADMINS) + len(EVERYONE)
OFF_ACE = OFF_DACL + 8

MALFORMED = {
    "empty": (b"", "shorter than its 20-byte header"),
    "header cut short": (VALID[:19], "shorter than its 20-byte header"),
    "revision 2": (patched(VALID, 0, "<B", 2), "revision 2, expected 1"),
    "owner offset past the end": (patched(VALID, 4, "<I", len(VALID)), "owner offset"),
    "owner offset inside the header": (patched(VALID, 4, "<I", 4), "owner offset 4"),
    "group offset huge": (patched(VALID, 8, "<I", 0xFFFFFFFF), "group offset"),
    "dacl offset past the end": (patched(VALID, 16, "<I", len(VALID) + 8), "DACL offset"),
    "owner sid revision": (patched(VALID, 20, "<B", 3), "owner: SID revision 3"),
    "owner sid with 16 sub-authorities": (patched(VALID, 21, "<B", 16), "16 sub-authorities"),
    "owner sid overruns the descriptor": (patched(VALID, 21, "<B", 15), "owner: SID at offset 20 needs 68 bytes"),
    "dacl header cut short": (VALID[:OFF_DACL + 6], f"DACL header at offset {OFF_DACL} is truncated"),
    "acl revision 1": (patched(VALID, OFF_DACL, "<B", 1), "DACL revision 1"),
    "acl revision 5": (patched(VALID, OFF_DACL, "<B", 5), "DACL revision 5"),
    "acl size below its header": (patched(VALID, OFF_DACL + 2, "<H", 4), "smaller than its 8-byte header"),
    "acl size past the end": (patched(VALID, OFF_DACL + 2, "<H", 200), "runs past the descriptor"),
    "more aces than the acl holds": (patched(VALID, OFF_DACL + 4, "<H", 2), "ACE 1 .* beyond the end of the DACL"),
    "ace size beyond the acl": (patched(VALID, OFF_ACE + 2, "<H", 24), "ACE 0 size 24 runs past the end of the DACL"),
    "ace size zero": (patched(VALID, OFF_ACE + 2, "<H", 0), "too small for its access mask"),
    "ace too small for its sid header": (
        patched(patched(VALID, OFF_ACE + 2, "<H", 12), OFF_DACL + 2, "<H", 8 + 12), "ACE 0: SID .* is truncated"),
    "ace too small for its sub-authorities": (
        patched(patched(VALID, OFF_ACE + 2, "<H", 16), OFF_DACL + 2, "<H", 8 + 16), "ACE 0: SID .* runs past"),
    "ace type 4": (patched(VALID, OFF_ACE, "<B", 4), "unsupported ACE type 0x04"),
    "ace type 0x14": (patched(VALID, OFF_ACE, "<B", 0x14), "unsupported ACE type 0x14"),
    "object ace announcing a guid it lacks": (
        descriptor_bytes(ace_bytes(5, 0, struct.pack("<II", 1, 1) + EVERYONE)), "object types its flags announce"),
    "object ace without room for its flags": (descriptor_bytes(ace_bytes(5, 0, struct.pack("<I", 1))), "object flags"),
}


@pytest.mark.parametrize("raw,reason", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_descriptors_are_refused_with_a_reason(raw, reason):
    with pytest.raises(SecurityDescriptorError, match=reason):
        parse_security_descriptor(raw)


def test_the_malformed_cases_start_from_a_valid_descriptor():
    assert parse_security_descriptor(VALID).dacl == (Ace(0, 0, 1, "S-1-1-0"),)


# --- properties -----------------------------------------------------------------------------------

authorities = st.sampled_from([0, 1, 3, 5, 16, 0x123456789ABC])
sids = st.builds(
    lambda authority, subs: (f"S-1-{authority}" if authority < 1 << 32 else f"S-1-0x{authority:012X}")
    + "".join(f"-{s}" for s in subs),
    authorities,
    st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
)
padded = st.integers(0, 3).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))


@st.composite
def ace_strategy(draw):
    ace_type = draw(st.sampled_from([t for t in range(0x14) if t != 0x04]))
    object_data = b""
    if ace_type in OBJECT_ACE_TYPES:
        flags = draw(st.sampled_from([0, 1, 2, 3, 0x80000001]))
        guids = draw(st.binary(min_size=16 * bin(flags & 3).count("1"), max_size=16 * bin(flags & 3).count("1")))
        object_data = struct.pack("<I", flags) + guids
    return Ace(type=ace_type, flags=draw(st.integers(0, 0xFF)), mask=draw(st.integers(0, 0xFFFFFFFF)),
               sid=draw(sids), object_data=object_data, application_data=draw(padded))


descriptors = st.builds(
    SecurityDescriptor,
    owner=st.none() | sids,
    group=st.none() | sids,
    dacl=st.none() | st.lists(ace_strategy(), max_size=6).map(tuple),
    control=st.integers(0, 0xFFFF),
)


@given(descriptors)
def test_parse_reads_back_what_build_wrote(sd):
    control = (sd.control | SE_SELF_RELATIVE) & ~SE_SACL_PRESENT
    if sd.dacl is not None:
        control |= SE_DACL_PRESENT
    back = parse_security_descriptor(build_security_descriptor(sd))
    assert back == SecurityDescriptor(owner=sd.owner, group=sd.group, dacl=sd.dacl, control=control)
    assert build_security_descriptor(back) == build_security_descriptor(sd)


@given(descriptors)
def test_every_truncation_of_a_descriptor_is_refused(sd):
    raw = build_security_descriptor(sd)
    for length in range(len(raw)):
        with pytest.raises(SecurityDescriptorError):
            parse_security_descriptor(raw[:length])


@given(descriptors, st.data())
def test_corrupted_bytes_parse_or_raise_security_descriptor_error_only(sd, data):
    raw = bytearray(build_security_descriptor(sd))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        parse_security_descriptor(bytes(raw))
    except SecurityDescriptorError:
        pass


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_security_descriptor_error_only(raw):
    try:
        parse_security_descriptor(raw)
    except SecurityDescriptorError:
        pass


@given(sids)
def test_sid_strings_survive_the_binary_form(sid):
    assert sid_from_bytes(sid_to_bytes(sid)) == sid

