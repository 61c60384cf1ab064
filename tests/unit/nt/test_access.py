"""The Windows access check for a person's token: ACE order, inheritance flags, generic rights, the
owner's implicit rights and OWNER RIGHTS, NULL / empty / absent DACLs, groups, and the ACE types
we cannot evaluate (which may deny but never allow)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from restore.nt.access import (
    AUTHENTICATED_USERS,
    DELETE,
    DENY_ONLY_SIDS,
    EVERYONE,
    FILE_ADD_FILE,
    FILE_ADD_SUBDIRECTORY,
    FILE_ALL_ACCESS,
    FILE_DELETE_CHILD,
    FILE_GENERIC_READ,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    GENERIC_ALL,
    GENERIC_EXECUTE,
    GENERIC_READ,
    GENERIC_WRITE,
    MAXIMUM_ALLOWED,
    NETWORK,
    NTLM_AUTHENTICATION,
    OWNER_RIGHTS,
    PRE_WINDOWS_2000_COMPATIBLE_ACCESS,
    READ_CONTROL,
    SYNCHRONIZE,
    THIS_ORGANIZATION,
    WRITE_DAC,
    WRITE_OWNER,
    Token,
    access_mask,
    allows,
    can_create_file_in,
    can_create_folder_in,
    can_delete,
    can_list_folder,
    can_read_file,
    network_logon_sids,
)
from restore.nt.constants import OBJECT_ACE_TYPES, SE_DACL_PRESENT, SE_SELF_RELATIVE
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor, parse_security_descriptor

DOMAIN = "S-1-5-21-1004336348-1177238915-682003330"
ALICE, BOB, CAROL = f"{DOMAIN}-1104", f"{DOMAIN}-1105", f"{DOMAIN}-1106"
DOMAIN_USERS, FINANCE = f"{DOMAIN}-513", f"{DOMAIN}-1120"
CREATOR_OWNER = "S-1-3-0"

alice = Token(user_sid=ALICE, group_sids=frozenset({DOMAIN_USERS, FINANCE, *network_logon_sids()}))
bob = Token(user_sid=BOB, group_sids=frozenset({DOMAIN_USERS, *network_logon_sids()}))
carol_bare = Token(user_sid=CAROL, group_sids=frozenset())  # no groups at all, not even Everyone

INHERIT_ONLY, INHERITED, OBJECT_AND_CONTAINER_INHERIT = 0x08, 0x10, 0x03
RC_WD = READ_CONTROL | WRITE_DAC


def allow(sid, mask, flags=0, ace_type=0):
    return Ace(type=ace_type, flags=flags, mask=mask, sid=sid)


def deny(sid, mask, flags=0, ace_type=1):
    return Ace(type=ace_type, flags=flags, mask=mask, sid=sid)


def sd(*aces, owner=CAROL):
    """Owned by carol unless said otherwise, so alice's and bob's implicit owner rights stay out of the way."""
    return SecurityDescriptor(owner=owner, group=DOMAIN_USERS, dacl=tuple(aces))


# --- order -------------------------------------------------------------------------------------------


def test_an_allow_ace_for_the_user_grants_exactly_its_rights():
    assert access_mask(sd(allow(ALICE, FILE_READ_DATA | FILE_READ_ATTRIBUTES)), alice) == 0x81
    assert access_mask(sd(allow(ALICE, FILE_READ_DATA)), bob) == 0


def test_deny_before_allow_denies():
    acl = sd(deny(ALICE, FILE_READ_DATA), allow(ALICE, FILE_ALL_ACCESS))
    assert not can_read_file(acl, alice)
    assert access_mask(acl, alice) == FILE_ALL_ACCESS & ~FILE_READ_DATA


def test_allow_before_deny_grants():
    acl = sd(allow(ALICE, FILE_READ_DATA), deny(ALICE, FILE_ALL_ACCESS))
    assert access_mask(acl, alice) == FILE_READ_DATA


def test_a_request_for_several_rights_fails_when_one_is_denied_first():
    acl = sd(allow(ALICE, FILE_READ_DATA), deny(ALICE, DELETE), allow(ALICE, FILE_ALL_ACCESS))
    assert allows(acl, alice, FILE_READ_DATA | FILE_WRITE_DATA)
    assert not allows(acl, alice, FILE_READ_DATA | DELETE)


def test_a_group_deny_beats_a_later_allow_for_everyone():
    acl = sd(deny(FINANCE, FILE_READ_DATA), allow(EVERYONE, FILE_GENERIC_READ))
    assert not can_read_file(acl, alice)  # in Finance
    assert can_read_file(acl, bob)


# --- inheritance flags ---------------------------------------------------------------------------------


def test_inherit_only_aces_neither_allow_nor_deny_on_the_object_itself():
    assert not can_read_file(sd(allow(ALICE, FILE_READ_DATA, flags=INHERIT_ONLY)), alice)
    assert can_read_file(sd(deny(ALICE, FILE_READ_DATA, flags=INHERIT_ONLY | OBJECT_AND_CONTAINER_INHERIT),
                            allow(ALICE, FILE_READ_DATA)), alice)


def test_inherited_and_inheritable_aces_apply_to_the_object():
    assert can_read_file(sd(allow(ALICE, FILE_READ_DATA, flags=INHERITED)), alice)
    assert can_list_folder(sd(allow(ALICE, FILE_READ_DATA, flags=OBJECT_AND_CONTAINER_INHERIT)), alice)


def test_creator_owner_aces_match_no_one():
    assert access_mask(sd(allow(CREATOR_OWNER, FILE_ALL_ACCESS), owner=ALICE), alice) == RC_WD


# --- generic rights -------------------------------------------------------------------------------------


@pytest.mark.parametrize("generic,specific", [
    (GENERIC_READ, 0x120089), (GENERIC_WRITE, 0x120116), (GENERIC_EXECUTE, 0x1200A0), (GENERIC_ALL, 0x1F01FF),
])
def test_generic_rights_in_aces_are_mapped_to_file_rights(generic, specific):
    assert access_mask(sd(allow(ALICE, generic)), alice) == specific


def test_generic_rights_mix_with_specific_ones():
    assert access_mask(sd(allow(ALICE, GENERIC_EXECUTE | DELETE)), alice) == 0x1200A0 | DELETE


def test_a_generic_deny_takes_all_the_rights_it_stands_for():
    acl = sd(deny(ALICE, GENERIC_WRITE), allow(ALICE, GENERIC_ALL))
    assert access_mask(acl, alice) == 0x1F01FF & ~0x120116  # READ_CONTROL and SYNCHRONIZE go too
    assert can_read_file(acl, alice) and not allows(acl, alice, READ_CONTROL)


def test_generic_rights_can_be_asked_for():
    acl = sd(allow(ALICE, FILE_GENERIC_READ))
    assert allows(acl, alice, GENERIC_READ)
    assert not allows(acl, alice, GENERIC_EXECUTE)  # FILE_EXECUTE is missing


def test_rights_that_are_not_file_rights_are_never_granted():
    acl = sd(allow(ALICE, 0xFFFFFFFF))
    assert access_mask(acl, alice) == FILE_ALL_ACCESS
    assert not allows(acl, alice, 0x01000000)  # ACCESS_SYSTEM_SECURITY needs a privilege


# --- the owner -------------------------------------------------------------------------------------------


def test_the_owner_may_read_and_change_permissions_with_an_empty_dacl():
    acl = sd(owner=ALICE)
    assert access_mask(acl, alice) == RC_WD
    assert access_mask(acl, bob) == 0
    assert not can_read_file(acl, alice)


def test_a_deny_ace_does_not_take_the_owners_implicit_rights():
    assert access_mask(sd(deny(ALICE, FILE_ALL_ACCESS), owner=ALICE), alice) == RC_WD


def test_ownership_through_a_group_counts():
    assert access_mask(sd(owner=FINANCE), alice) == RC_WD
    assert access_mask(sd(owner=FINANCE), bob) == 0


def test_an_owner_rights_ace_replaces_the_implicit_rights():
    acl = sd(allow(OWNER_RIGHTS, FILE_READ_DATA), owner=ALICE)
    assert access_mask(acl, alice) == FILE_READ_DATA
    assert access_mask(acl, bob) == 0  # OWNER RIGHTS is only the owner


def test_an_owner_rights_deny_limits_the_owner_in_order():
    acl = sd(deny(OWNER_RIGHTS, WRITE_DAC), allow(ALICE, FILE_ALL_ACCESS), owner=ALICE)
    assert access_mask(acl, alice) == FILE_ALL_ACCESS & ~WRITE_DAC
    acl = sd(allow(ALICE, FILE_ALL_ACCESS), deny(OWNER_RIGHTS, WRITE_DAC), owner=ALICE)
    assert access_mask(acl, alice) == FILE_ALL_ACCESS


def test_an_inherit_only_owner_rights_ace_leaves_the_implicit_rights():
    acl = sd(allow(OWNER_RIGHTS, FILE_READ_DATA, flags=INHERIT_ONLY | OBJECT_AND_CONTAINER_INHERIT), owner=ALICE)
    assert access_mask(acl, alice) == RC_WD


def test_appending_an_owner_rights_allow_can_take_the_owners_implicit_rights_away():
    before = sd(allow(ALICE, FILE_READ_DATA), owner=ALICE)
    after = sd(allow(ALICE, FILE_READ_DATA), allow(OWNER_RIGHTS, SYNCHRONIZE), owner=ALICE)
    assert access_mask(before, alice) == FILE_READ_DATA | RC_WD
    assert access_mask(after, alice) == FILE_READ_DATA | SYNCHRONIZE


@pytest.mark.parametrize("ace_type", [0x02, 0x05, 0x09, 0x11])
def test_an_owner_rights_ace_of_any_type_takes_the_implicit_rights_away(ace_type):
    # Samba 4.17 does so for audit, object and callback ACEs naming OWNER RIGHTS (the differential harness).
    acl = sd(allow(OWNER_RIGHTS, FILE_READ_DATA, ace_type=ace_type), allow(EVERYONE, SYNCHRONIZE), owner=ALICE)
    assert access_mask(acl, alice) == SYNCHRONIZE
    inherit_only = sd(allow(OWNER_RIGHTS, FILE_READ_DATA, flags=INHERIT_ONLY | 0x03, ace_type=ace_type), owner=ALICE)
    assert access_mask(inherit_only, alice) == RC_WD


def test_no_owner_means_no_owner_rights():
    acl = SecurityDescriptor(owner=None, group=None, dacl=(allow(OWNER_RIGHTS, FILE_ALL_ACCESS),))
    assert access_mask(acl, alice) == 0


# --- NULL, empty and absent DACLs ----------------------------------------------------------------------


def test_a_null_dacl_grants_everything_to_everyone():
    null = SecurityDescriptor(owner=CAROL, group=None, dacl=None, control=SE_SELF_RELATIVE | SE_DACL_PRESENT)
    assert access_mask(null, carol_bare) == access_mask(null, bob) == FILE_ALL_ACCESS


def test_an_empty_dacl_grants_nothing():
    assert access_mask(sd(), alice) == 0
    assert not can_read_file(sd(), alice)


def test_a_descriptor_without_dacl_information_grants_only_the_owners_rights():
    absent = SecurityDescriptor(owner=ALICE, group=None, dacl=None, control=SE_SELF_RELATIVE)
    assert access_mask(absent, alice) == RC_WD
    assert access_mask(absent, bob) == 0


# --- tokens ------------------------------------------------------------------------------------------------


def test_a_network_logon_carries_everyone_authenticated_users_network_and_this_organization():
    assert network_logon_sids() == ["S-1-1-0", "S-1-5-11", "S-1-5-2", "S-1-5-15"]
    assert not any(sid.startswith("S-1-5-32-") for sid in network_logon_sids())


def test_a_token_holds_its_user_and_its_groups():
    assert alice.sids == {ALICE, DOMAIN_USERS, FINANCE, *network_logon_sids()}
    assert carol_bare.sids == {CAROL}


def test_everyone_matches_through_the_token_not_by_magic():
    acl = sd(allow(EVERYONE, FILE_READ_DATA))
    assert can_read_file(acl, bob)
    assert not can_read_file(acl, carol_bare)


def test_a_group_allow_reaches_its_members_only():
    acl = sd(allow(FINANCE, FILE_READ_DATA))
    assert can_read_file(acl, alice) and not can_read_file(acl, bob)


def test_a_deny_for_network_logons_applies_to_portal_users():
    assert not can_read_file(sd(deny(NETWORK, FILE_READ_DATA), allow(ALICE, FILE_READ_DATA)), alice)


# --- SIDs the file server's token may or may not hold (found by the differential harness) ------------------


def test_this_organization_is_in_the_token_but_never_allows():
    # Windows puts it in a network logon's token, Samba 4.17 does not: an allow for it opens nothing there.
    assert THIS_ORGANIZATION in alice.sids
    assert not can_read_file(sd(allow(THIS_ORGANIZATION, FILE_READ_DATA)), alice)
    assert not can_read_file(sd(deny(THIS_ORGANIZATION, FILE_READ_DATA), allow(EVERYONE, FILE_READ_DATA)), alice)


@pytest.mark.parametrize("sid", [NTLM_AUTHENTICATION, PRE_WINDOWS_2000_COMPATIBLE_ACCESS])
def test_sids_missing_from_tokengroups_still_deny(sid):
    # Samba's token for an NTLM session holds both; AD's tokenGroups lists neither.
    assert sid not in alice.sids
    assert not can_read_file(sd(deny(sid, FILE_READ_DATA), allow(EVERYONE, FILE_READ_DATA)), alice)
    assert not can_read_file(sd(deny(sid, FILE_READ_DATA), allow(CAROL, FILE_READ_DATA)), carol_bare)
    assert not can_read_file(sd(allow(sid, FILE_READ_DATA)), alice)
    assert can_read_file(sd(allow(EVERYONE, FILE_READ_DATA), deny(sid, FILE_READ_DATA)), alice)  # order still counts


def test_an_owner_that_may_not_be_in_the_token_gets_no_owner_rights():
    acl = sd(allow(EVERYONE, FILE_READ_DATA), owner=NTLM_AUTHENTICATION)
    assert access_mask(acl, alice) == FILE_READ_DATA  # no implicit READ_CONTROL | WRITE_DAC
    acl = sd(deny(OWNER_RIGHTS, FILE_READ_DATA), allow(EVERYONE, FILE_READ_DATA), owner=NTLM_AUTHENTICATION)
    assert not can_read_file(acl, alice)  # but its OWNER RIGHTS denies apply


# --- ACE types we cannot evaluate ---------------------------------------------------------------------------


@pytest.mark.parametrize("ace_type", [0x05, 0x09, 0x0B, 0x02, 0x11])
def test_object_callback_and_system_aces_never_allow(ace_type):
    assert not can_read_file(sd(allow(ALICE, FILE_READ_DATA, ace_type=ace_type)), alice)


@pytest.mark.parametrize("ace_type", [0x06, 0x0A, 0x0C])
def test_object_and_conditional_denies_deny_as_if_unconditional(ace_type):
    assert not can_read_file(sd(deny(ALICE, FILE_READ_DATA, ace_type=ace_type), allow(ALICE, FILE_READ_DATA)), alice)


@pytest.mark.parametrize("ace_type", [0x02, 0x05, 0x09, 0x11])
def test_aces_that_do_not_deny_do_not_block_a_later_allow(ace_type):
    assert can_read_file(sd(allow(ALICE, FILE_READ_DATA, ace_type=ace_type), allow(ALICE, FILE_READ_DATA)), alice)


# --- the helpers -------------------------------------------------------------------------------------------


def test_reading_a_file_and_listing_a_folder_are_the_same_right():
    acl = sd(allow(ALICE, FILE_READ_ATTRIBUTES | SYNCHRONIZE))
    assert not can_read_file(acl, alice) and not can_list_folder(acl, alice)
    acl = sd(allow(ALICE, FILE_READ_DATA))
    assert can_read_file(acl, alice) and can_list_folder(acl, alice)


def test_creating_files_and_folders_needs_the_folders_add_rights():
    folder = sd(allow(ALICE, FILE_ADD_FILE), allow(BOB, FILE_ADD_SUBDIRECTORY))
    assert can_create_file_in(folder, alice) and not can_create_folder_in(folder, alice)
    assert can_create_folder_in(folder, bob) and not can_create_file_in(folder, bob)


def test_deleting_needs_delete_on_the_file_or_delete_child_on_its_folder():
    closed_folder = sd(allow(ALICE, FILE_READ_DATA))
    open_folder = sd(allow(ALICE, FILE_DELETE_CHILD))
    assert can_delete(sd(allow(ALICE, DELETE)), closed_folder, alice)
    assert not can_delete(sd(allow(ALICE, FILE_WRITE_DATA)), closed_folder, alice)
    assert can_delete(sd(allow(ALICE, FILE_WRITE_DATA)), open_folder, alice)
    assert can_delete(sd(deny(ALICE, DELETE), allow(ALICE, FILE_ALL_ACCESS)), open_folder, alice)
    assert not can_delete(sd(allow(ALICE, DELETE)), open_folder, bob)


def test_asking_for_nothing_or_for_maximum_allowed_is_a_programming_error():
    with pytest.raises(ValueError, match="at least one right"):
        allows(sd(), alice, 0)
    with pytest.raises(ValueError, match="MAXIMUM_ALLOWED"):
        allows(sd(), alice, MAXIMUM_ALLOWED | FILE_READ_DATA)


def test_the_check_works_on_a_descriptor_read_from_bytes():
    raw = build_security_descriptor(sd(deny(FINANCE, WRITE_OWNER), allow(DOMAIN_USERS, GENERIC_ALL)))
    parsed = parse_security_descriptor(raw)
    assert access_mask(parsed, alice) == FILE_ALL_ACCESS & ~WRITE_OWNER
    assert access_mask(parsed, bob) == FILE_ALL_ACCESS


# --- properties: against reference implementations written differently -------------------------------------

FILE_RIGHTS = [1 << bit for bit in range(32) if FILE_ALL_ACCESS & (1 << bit)]
EXPANDS_TO = {GENERIC_READ: 0x120089, GENERIC_WRITE: 0x120116, GENERIC_EXECUTE: 0x1200A0, GENERIC_ALL: 0x1F01FF}
ALLOWING, DENYING = {0x00}, {0x01, 0x06, 0x0A, 0x0C}


def expand(mask):
    """The file rights a mask names, generic ones spelled out."""
    rights = mask & FILE_ALL_ACCESS
    for generic, specific in EXPANDS_TO.items():
        if mask & generic:
            rights |= specific
    return rights


def _effective(acl, token):
    owner = acl.owner is not None and acl.owner in token.sids
    live = [a for a in acl.dacl if not a.flags & INHERIT_ONLY and a.type in ALLOWING | DENYING]
    owner_rights_present = any(a.sid == OWNER_RIGHTS and not a.flags & INHERIT_ONLY for a in acl.dacl)  # any type
    applying = [a for a in live if a.sid in token.sids or (a.sid == OWNER_RIGHTS and owner)]
    implicit = RC_WD if owner and not owner_rights_present else 0
    return applying, implicit


def reference_granted(acl, token):
    """One right at a time: the first applicable ACE that names it decides."""
    if acl.dacl is None:
        owner = acl.owner is not None and acl.owner in token.sids
        return FILE_ALL_ACCESS if acl.control & SE_DACL_PRESENT else (RC_WD if owner else 0)
    applying, implicit = _effective(acl, token)
    granted = implicit
    for right in FILE_RIGHTS:
        if right & implicit:
            continue
        deciding = next((a for a in applying if expand(a.mask) & right), None)
        if deciding is not None and deciding.type in ALLOWING:
            granted |= right
    return granted


def reference_allows(acl, token, desired):
    """AccessCheck for a specific request ([MS-DTYP] 2.5.3.2): allows tick rights off, a deny of
    any right still wanted refuses the whole request."""
    remaining = expand(desired)
    if acl.dacl is None:
        if acl.control & SE_DACL_PRESENT:
            return True
        owner = acl.owner is not None and acl.owner in token.sids
        return remaining & ~(RC_WD if owner else 0) == 0
    applying, implicit = _effective(acl, token)
    remaining &= ~implicit
    for a in applying:
        if not remaining:
            break
        if a.type in ALLOWING:
            remaining &= ~expand(a.mask)
        elif remaining & expand(a.mask):
            return False
    return remaining == 0


USERS = [ALICE, BOB, CAROL]
GROUPS = [DOMAIN_USERS, FINANCE, EVERYONE, AUTHENTICATED_USERS, NETWORK]
ACE_SIDS = USERS + GROUPS + [OWNER_RIGHTS, CREATOR_OWNER]
MASK_BITS = [*FILE_RIGHTS, GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL]

masks = st.one_of(
    st.lists(st.sampled_from(MASK_BITS), min_size=1, max_size=4).map(lambda bits: sum(set(bits))),
    st.integers(0, 0xFFFFFFFF),
)
ace_types = st.sampled_from([0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x02, 0x05, 0x06, 0x09, 0x0A, 0x0C, 0x11])
ace_flags = st.sampled_from([0, 0, 0x03, INHERITED, INHERIT_ONLY, INHERIT_ONLY | 0x03, 0x13])
aces = st.builds(
    lambda ace_type, flags, mask, sid: Ace(ace_type, flags, mask, sid,
                                           object_data=bytes(4) if ace_type in OBJECT_ACE_TYPES else b""),
    ace_types, ace_flags, masks, st.sampled_from(ACE_SIDS),
)
tokens = st.builds(Token, user_sid=st.sampled_from(USERS), group_sids=st.frozensets(st.sampled_from(GROUPS)))


@st.composite
def descriptors(draw):
    dacl = draw(st.none() | st.lists(aces, max_size=8).map(tuple))
    present = dacl is not None or draw(st.booleans())
    return SecurityDescriptor(owner=draw(st.sampled_from([None, ALICE, BOB, FINANCE])), group=None, dacl=dacl,
                              control=SE_SELF_RELATIVE | (SE_DACL_PRESENT if present else 0))


desired_masks = st.lists(st.sampled_from(MASK_BITS), min_size=1, max_size=3).map(lambda bits: sum(set(bits)))


@given(descriptors(), tokens)
def test_the_granted_mask_agrees_with_a_right_by_right_reference(acl, token):
    assert access_mask(acl, token) == reference_granted(acl, token)


@given(descriptors(), tokens, desired_masks)
def test_allows_agrees_with_a_specific_request_access_check(acl, token, desired):
    assert allows(acl, token, desired) == reference_allows(acl, token, desired)


@given(descriptors(), tokens, st.data())
def test_removing_a_deny_ace_never_reduces_access(acl, token, data):
    denies = [i for i, a in enumerate(acl.dacl or ()) if a.type in DENYING]
    if not denies:
        return
    i = data.draw(st.sampled_from(denies))
    without = SecurityDescriptor(acl.owner, acl.group, acl.dacl[:i] + acl.dacl[i + 1:], acl.control)
    before, after = access_mask(acl, token), access_mask(without, token)
    assert before & ~after == 0


@given(descriptors(), tokens, masks, st.sampled_from([s for s in ACE_SIDS if s != OWNER_RIGHTS]))
def test_appending_an_allow_ace_never_reduces_access(acl, token, mask, sid):
    if acl.dacl is None:
        return
    more = SecurityDescriptor(acl.owner, acl.group, acl.dacl + (allow(sid, mask),), acl.control)
    before, after = access_mask(acl, token), access_mask(more, token)
    assert before & ~after == 0


@given(descriptors(), tokens, masks, st.data())
def test_an_allow_ace_put_first_grants_everything_it_names(acl, token, mask, data):
    if acl.dacl is None:
        return
    sid = data.draw(st.sampled_from(sorted(token.sids)))
    first = SecurityDescriptor(acl.owner, acl.group, (allow(sid, mask),) + acl.dacl, acl.control)
    assert expand(mask) & ~access_mask(first, token) == 0


@given(descriptors(), tokens, st.frozensets(st.sampled_from(sorted(DENY_ONLY_SIDS))), masks, st.data())
def test_whether_a_token_lists_a_deny_only_sid_makes_no_difference(acl, token, listed, mask, data):
    if acl.dacl is not None:  # with an ACE for one of them somewhere
        at = data.draw(st.integers(0, len(acl.dacl)))
        ace = data.draw(st.sampled_from([allow, deny]))(data.draw(st.sampled_from(sorted(DENY_ONLY_SIDS))), mask)
        acl = SecurityDescriptor(acl.owner, acl.group, acl.dacl[:at] + (ace,) + acl.dacl[at:], acl.control)
    listing = Token(token.user_sid, token.group_sids | listed)
    assert access_mask(acl, listing) == access_mask(acl, token)


@given(descriptors(), tokens, masks, st.sampled_from(sorted(DENY_ONLY_SIDS)), st.data())
def test_an_ace_for_a_deny_only_sid_never_grants_and_a_deny_for_one_never_widens(acl, token, mask, sid, data):
    if acl.dacl is None:
        return
    at = data.draw(st.integers(0, len(acl.dacl)))
    with_allow = SecurityDescriptor(acl.owner, acl.group, acl.dacl[:at] + (allow(sid, mask),) + acl.dacl[at:],
                                    acl.control)
    with_deny = SecurityDescriptor(acl.owner, acl.group, acl.dacl[:at] + (deny(sid, mask),) + acl.dacl[at:],
                                   acl.control)
    assert access_mask(with_allow, token) == access_mask(acl, token)
    assert access_mask(with_deny, token) & ~access_mask(acl, token) == 0
    assert access_mask(with_deny, token) & expand(mask) & ~access_mask(
        SecurityDescriptor(acl.owner, acl.group, acl.dacl[:at], acl.control), token) == 0


@given(descriptors(), tokens)
def test_a_descriptor_is_judged_the_same_after_a_trip_through_bytes(acl, token):
    assert access_mask(parse_security_descriptor(build_security_descriptor(acl)), token) == access_mask(acl, token)
