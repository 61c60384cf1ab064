"""The Windows access check, evaluated for a person's token against a file's security descriptor.

We read as the service account, so what a person may see or do is decided here, the way the file
server's AccessCheck would decide it for them ([MS-DTYP] 2.5.3.2, via [MS-FSA] 2.1.4.14):

- ACEs are walked in order; inherit-only ACEs (INHERIT_ONLY_ACE) are skipped; an ACE applies when
  its SID is one of the token's SIDs (but see :data:`DENY_ONLY_SIDS` below), or it is OWNER RIGHTS
  (S-1-3-4) and the token holds the descriptor's owner SID.
- Generic rights in an ACE mask are mapped with the file generic mapping (GENERIC_READ ->
  FILE_GENERIC_READ and so on, as the file server maps them).
- A deny ACE removes the rights not yet granted; an allow ACE grants the rights not yet denied.
  So the first applicable ACE mentioning a right decides it (deny before allow denies, allow
  before deny grants).
- The owner is granted READ_CONTROL | WRITE_DAC before the walk, unless the DACL holds an
  OWNER RIGHTS ACE (Windows Server 2008 and later; any ACE type counts, as on Samba): then the
  owner gets what those ACEs say.
- A NULL DACL (SE_DACL_PRESENT with no ACL) grants every file right; an empty DACL grants
  nothing but the owner's implicit rights.

Three deliberate choices, all erring towards "not allowed" when the server's answer cannot be known:

- Some SIDs may or may not be in the file server's token for a person's network logon, depending
  on the server and on how the session authenticated, and AD's tokenGroups cannot tell us which
  (:data:`DENY_ONLY_SIDS`: This Organization, NTLM Authentication, the asserted-identity SIDs,
  Pre-Windows 2000 Compatible Access). They count for deny ACEs and never for allow ACEs, like a
  token's SE_GROUP_USE_FOR_DENY_ONLY groups, whether or not the token lists them.

- ACE types we cannot evaluate are never allowing. The *deny* ones — ACCESS_DENIED_OBJECT (which
  Samba's file server applies as a plain deny), ACCESS_DENIED_CALLBACK and
  ACCESS_DENIED_CALLBACK_OBJECT (conditional ACEs: an UNKNOWN condition denies, [MS-DTYP]
  2.4.4.17.3) — deny as if unconditional. (Samba 4.17 skips callback ACEs altogether, so there we
  may refuse what the server allows, never the reverse.) The *allow* ones (object, callback) grant nothing; audit,
  alarm, label and other system ACEs do nothing in a DACL.
- A descriptor with SE_DACL_PRESENT clear carries no DACL information (the query did not ask for
  it). Windows would treat it as a NULL DACL; Samba's se_access_check grants only the owner's
  rights. We follow Samba, so a query that forgot the DACL can never open everything.

Privileges (backup, restore, take ownership) are not part of a network user's token here and
are not modelled. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from restore.nt.constants import (
    ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_DENIED_ACE_TYPE,
    ACCESS_DENIED_CALLBACK_ACE_TYPE,
    ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE,
    INHERIT_ONLY_ACE,
)
from restore.nt.descriptors import Ace, SecurityDescriptor

# --- access rights ([MS-DTYP] 2.4.3; file and directory rights: [MS-SMB2] 2.2.13.1) ---------------

FILE_READ_DATA = 0x00000001


FILE_LIST_DIRECTORY = 0x00000001  # the same bit, on a directory


FILE_WRITE_DATA = 0x00000002


FILE_ADD_FILE = 0x00000002  # on a directory


FILE_APPEND_DATA = 0x00000004


FILE_ADD_SUBDIRECTORY = 0x00000004  # on a directory


FILE_READ_EA = 0x00000008


FILE_WRITE_EA = 0x00000010


FILE_EXECUTE = 0x00000020


FILE_TRAVERSE = 0x00000020  # on a directory


FILE_DELETE_CHILD = 0x00000040


FILE_READ_ATTRIBUTES = 0x00000080


FILE_WRITE_ATTRIBUTES = 0x00000100


DELETE = 0x00010000


READ_CONTROL = 0x00020000


WRITE_DAC = 0x00040000


WRITE_OWNER = 0x00080000


SYNCHRONIZE = 0x00100000


ACCESS_SYSTEM_SECURITY = 0x01000000  # needs a privilege; never granted by a DACL


MAXIMUM_ALLOWED = 0x02000000


GENERIC_ALL = 0x10000000


GENERIC_EXECUTE = 0x20000000


GENERIC_WRITE = 0x40000000


GENERIC_READ = 0x80000000


FILE_GENERIC_READ = READ_CONTROL | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE  # 0x120089


FILE_GENERIC_WRITE = (READ_CONTROL | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | FILE_APPEND_DATA
                      | SYNCHRONIZE)  # 0x120116


FILE_GENERIC_EXECUTE = READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_EXECUTE | SYNCHRONIZE  # 0x1200A0


FILE_ALL_ACCESS = 0x001F01FF  # every right a file or directory has: the 9 specific ones + the 5 standard ones


_FILE_GENERIC_MAPPING = (
    (GENERIC_READ, FILE_GENERIC_READ),
    (GENERIC_WRITE, FILE_GENERIC_WRITE),
    (GENERIC_EXECUTE, FILE_GENERIC_EXECUTE),
    (GENERIC_ALL, FILE_ALL_ACCESS),
)


# --- well-known SIDs ([MS-DTYP] 2.4.2.4) ------------------------------------------------------------

EVERYONE = "S-1-1-0"


CREATOR_OWNER = "S-1-3-0"  # only meaningful in inheritable ACEs; never in a token


OWNER_RIGHTS = "S-1-3-4"


NETWORK = "S-1-5-2"


AUTHENTICATED_USERS = "S-1-5-11"


THIS_ORGANIZATION = "S-1-5-15"


NTLM_AUTHENTICATION = "S-1-5-64-10"


AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY = "S-1-18-1"


SERVICE_ASSERTED_IDENTITY = "S-1-18-2"


PRE_WINDOWS_2000_COMPATIBLE_ACCESS = "S-1-5-32-554"


# SIDs whose presence in the file server's token we cannot know: they deny, never allow (see the
# module docstring). Measured against Samba 4.17 by tests/integration/nt/test_access_differential.py:
# - This Organization: Windows puts it in a same-forest network logon's token; Samba does not.
# - NTLM Authentication: in the token of an NTLM logon (Samba's too), not of a Kerberos one.
# - The asserted-identity SIDs: Windows adds one to a Kerberos logon's token, never to an NTLM one.
# - Pre-Windows 2000 Compatible Access: a BUILTIN alias whose members are usually well-known SIDs
#   (Authenticated Users, Everyone) that tokenGroups does not expand; Samba's token holds it.
DENY_ONLY_SIDS = frozenset({
    THIS_ORGANIZATION,
    NTLM_AUTHENTICATION,
    AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY,
    SERVICE_ASSERTED_IDENTITY,
    PRE_WINDOWS_2000_COMPATIBLE_ACCESS,
})


_ALLOW_TYPES = frozenset({ACCESS_ALLOWED_ACE_TYPE})


_DENY_TYPES = frozenset({
    ACCESS_DENIED_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE,
    ACCESS_DENIED_CALLBACK_ACE_TYPE,
    ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE,
})


@dataclass(frozen=True)
class Token:
    """Whose rights are checked: a user SID and every group SID of their logon (AD tokenGroups,
    the primary group, and :func:`network_logon_sids`). ``account`` names whose logon it is (the
    sAMAccountName AD gave us): with Kerberos delegation the file-server session is that person's.
    It takes no part in comparisons: the SIDs decide."""

    user_sid: str
    group_sids: frozenset[str]
    account: str = field(default="", compare=False)

    @property
    def sids(self) -> frozenset[str]:
        """User and group SIDs together: what an ACE's SID is matched against."""
        return self.group_sids | {self.user_sid}


def network_logon_sids() -> list[str]:
    """The well-known SIDs the file server puts in the token of a domain user's network logon,
    which AD's tokenGroups does not list.

    - Everyone (S-1-1-0) and Authenticated Users (S-1-5-11): every authenticated logon.
    - NETWORK (S-1-5-2): the logon came over the network (SMB), not interactively.
    - This Organization (S-1-5-15): the account is from the server's own forest. Windows puts it in
      the token, Samba does not: it is in :data:`DENY_ONLY_SIDS`, so it may deny but never allows.

    Left out on purpose: BUILTIN groups (S-1-5-32-*, e.g. Users, whose membership is the
    server's own local business), and the logon-type SIDs that depend on how the session was
    authenticated (NTLM Authentication S-1-5-64-10, the Kerberos asserted-identity S-1-18-*).
    Those of them a deny ACE may name are in :data:`DENY_ONLY_SIDS`, which the check applies to
    deny ACEs whether or not a token lists them.
    """
    return [EVERYONE, AUTHENTICATED_USERS, NETWORK, THIS_ORGANIZATION]


# --- the access check -------------------------------------------------------------------------------


def map_generic(mask: int) -> int:
    """Generic rights -> file rights ([MS-DTYP] 2.4.3, FILE mapping); other bits kept as they are."""
    for generic, specific in _FILE_GENERIC_MAPPING:
        if mask & generic:
            mask = (mask & ~generic) | specific
    return mask


def access_mask(sd: SecurityDescriptor, token: Token) -> int:
    """The rights ``token`` is granted on an object with descriptor ``sd``: AccessCheck with
    MAXIMUM_ALLOWED ([MS-DTYP] 2.5.3.2). Only file rights (FILE_ALL_ACCESS bits) are returned."""
    allowing = token.sids - DENY_ONLY_SIDS  # what allow ACEs (and ownership's rights) are matched against
    denying = token.sids | DENY_ONLY_SIDS  # what deny ACEs are matched against
    is_owner = sd.owner is not None and sd.owner in allowing
    may_be_owner = sd.owner is not None and sd.owner in denying  # for OWNER RIGHTS denies
    if sd.dacl is None:
        if sd.dacl_present:  # NULL DACL: no protection at all
            return FILE_ALL_ACCESS
        return READ_CONTROL | WRITE_DAC if is_owner else 0  # no DACL information: see the module docstring

    granted = denied = 0
    if is_owner and not _has_owner_rights_ace(sd.dacl):
        granted = READ_CONTROL | WRITE_DAC
    for ace in sd.dacl:
        if ace.flags & INHERIT_ONLY_ACE:
            continue
        mask = map_generic(ace.mask)
        if ace.type in _ALLOW_TYPES:
            if ace.sid in allowing or (ace.sid == OWNER_RIGHTS and is_owner):
                granted |= mask & ~denied
        elif ace.type in _DENY_TYPES:
            if ace.sid in denying or (ace.sid == OWNER_RIGHTS and may_be_owner):
                denied |= mask & ~granted
    return granted & FILE_ALL_ACCESS


def _has_owner_rights_ace(dacl: tuple[Ace, ...]) -> bool:
    """An OWNER RIGHTS ACE that is not inherit-only replaces the owner's implicit READ_CONTROL |
    WRITE_DAC (as Windows since Server 2008, and Samba, do) — whatever its type: Samba 4.17 drops
    the implicit rights for an audit, object or callback ACE naming OWNER RIGHTS too (found by the
    differential harness), so counting every type errs towards "not allowed" on any server."""
    return any(ace.sid == OWNER_RIGHTS and not ace.flags & INHERIT_ONLY_ACE for ace in dacl)


def allows(sd: SecurityDescriptor, token: Token, desired: int) -> bool:
    """Whether every right in ``desired`` (generic rights allowed) is granted.

    Per right this is exactly AccessCheck for a specific request: a right is refused when a
    deny ACE for it comes before any allow for it, or when nothing allows it.
    """
    if desired & MAXIMUM_ALLOWED:
        raise ValueError("MAXIMUM_ALLOWED is not a right; use access_mask() to learn what is granted")
    wanted = map_generic(desired)
    if not wanted:
        raise ValueError("desired access must name at least one right")
    return wanted & ~access_mask(sd, token) == 0


def can_read_file(sd: SecurityDescriptor, token: Token) -> bool:
    return allows(sd, token, FILE_READ_DATA)


def can_list_folder(sd: SecurityDescriptor, token: Token) -> bool:
    return allows(sd, token, FILE_LIST_DIRECTORY)


def can_create_file_in(folder_sd: SecurityDescriptor, token: Token) -> bool:
    return allows(folder_sd, token, FILE_ADD_FILE)


def can_create_folder_in(folder_sd: SecurityDescriptor, token: Token) -> bool:
    return allows(folder_sd, token, FILE_ADD_SUBDIRECTORY)


def can_delete(sd: SecurityDescriptor, parent_sd: SecurityDescriptor, token: Token) -> bool:
    """DELETE on the object, or else FILE_DELETE_CHILD on its folder ([MS-FSA] 2.1.5.1.2.1): the
    folder's right is consulted whenever DELETE is not granted, even when it is explicitly denied."""
    return allows(sd, token, DELETE) or allows(parent_sd, token, FILE_DELETE_CHILD)
