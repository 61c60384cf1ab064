"""The differential harness: our access decisions (restore.nt.access) against what Samba does.

A *lab* is a scratch folder on the test domain's ``data`` share. Each case's security descriptor
(owner + DACL) is set, as Administrator, on a file and on a folder in the lab; the descriptor is
read back from the server (what the portal would see) and then every standing character opens
both objects over SMB with their own credentials, once per right. Samba's answer (opened or
STATUS_ACCESS_DENIED) is compared with our decision for that character's token as the portal
computes it (``restore.accounts.identity.look_up``).

Each comparison has a relation:

* ``==``: our decision and Samba's must be the same (everything, unless listed below);
* ``<=``: we may refuse what Samba allows, never the reverse. Only for the documented classes in
  :func:`relation` (SIDs whose presence in the file server's token we cannot know; callback
  deny ACEs, which Samba does not evaluate).

Used by tests/integration/nt/test_access_differential.py (CI: a bounded number of generated
descriptors) and scripts/differential (a larger run).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from restore import smb
from restore.nt import access
from restore.nt.constants import (
    ACCESS_DENIED_CALLBACK_ACE_TYPE,
    ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE,
    INHERIT_ONLY_ACE,
    SE_DACL_PRESENT,
    SE_SELF_RELATIVE,
)
from restore.nt.descriptors import Ace, SecurityDescriptor, build_security_descriptor, parse_security_descriptor
from tests.support import people

SHARE = "data"
SERVER = "127.0.0.1"
CHARACTERS = ("alice", "bob", "carol", "helpdesk1", "auditor1", "admin1")
OWNER_AND_DACL = 0x1 | 0x4  # OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION
DACL_ONLY = 0x4

# What the lab's folders grant: everyone may traverse and list (and read attributes), nothing is
# inheritable, so each case's file carries exactly the DACL the case sets.
LIST_AND_TRAVERSE = 0x001200A9  # FILE_GENERIC_READ | FILE_TRAVERSE


# --- who is who ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sids:
    """The test domain's SIDs by name (resolved from AD), plus the well-known ones."""

    users: dict[str, str]
    groups: dict[str, str]
    domain: str

    WELL_KNOWN = {
        "Everyone": access.EVERYONE,
        "AU": access.AUTHENTICATED_USERS,
        "NETWORK": access.NETWORK,
        "OWNER RIGHTS": access.OWNER_RIGHTS,
        "CREATOR OWNER": access.CREATOR_OWNER,
        "SYSTEM": "S-1-5-18",
        "BUILTIN\\Users": "S-1-5-32-545",
        "BUILTIN\\Administrators": "S-1-5-32-544",
        "This Organization": access.THIS_ORGANIZATION,
        "NTLM Authentication": access.NTLM_AUTHENTICATION,
        "Pre-Windows 2000": access.PRE_WINDOWS_2000_COMPATIBLE_ACCESS,
    }

    def __getitem__(self, name: str) -> str:
        if name in self.users:
            return self.users[name]
        if name in self.groups:
            return self.groups[name]
        if name == "unrelated":
            return f"{self.domain}-424242"  # no such account
        return self.WELL_KNOWN[name]

    def name_of(self, sid: str | None) -> str:
        if sid is None:
            return "-"
        for table in (self.users, self.groups, self.WELL_KNOWN):
            for name, value in table.items():
                if value == sid:
                    return name
        return "unrelated" if sid == self["unrelated"] else sid


GROUP_NAMES = ("Finance", "Restore Helpdesk", "Portal Helpdesk", "Restore Auditors", "VDI Restore Service",
               "Domain Users", "Domain Admins")


def resolve_sids(base_dn: str) -> tuple[Sids, dict[str, access.Token]]:
    """The characters' SIDs and tokens exactly as the portal computes them, and the groups' SIDs."""
    from restore.accounts import identity
    from restore.directory.ldap import Directory

    views = {name: identity.look_up(name) for name in CHARACTERS}
    missing = [name for name, view in views.items() if view is None]
    assert not missing, f"standing characters missing from the test domain: {missing}"
    with Directory() as directory:
        groups = {g: directory.sid_of(f"CN={g},CN=Users,{base_dn}") for g in GROUP_NAMES}
    assert all(groups.values()), f"groups missing from the test domain: {groups}"
    domain = views["alice"].person.sid.rpartition("-")[0]
    sids = Sids(users={n: v.person.sid for n, v in views.items()}, groups=groups, domain=domain)
    return sids, {n: v.token for n, v in views.items()}


# --- what is compared ----------------------------------------------------------------------------------


Decision = Callable[[SecurityDescriptor, SecurityDescriptor, access.Token], bool]


Ask = Callable[[smb.Client, str], None]  # returns when the server lets the client do it, raises AccessDenied if not


@dataclass(frozen=True)
class Check:
    """One right: how Samba is asked, as the character (an SMB open with exactly one desired
    access, or one of the adapter's calls), and the decision of ours it is compared with (on the
    object's descriptor, its parent folder's descriptor and the character's token)."""

    name: str
    folder: bool
    samba: Ask
    ours: Decision


def _opening(desired: int, *, folder: bool) -> Ask:
    return lambda client, path: _open(client, path, desired, folder=folder)


def _open_read(client: smb.Client, path: str) -> None:
    with client.open_read(SHARE, path):
        pass


def _list_dir(client: smb.Client, path: str) -> None:
    client.list_dir(SHARE, path)


def _allows(desired: int) -> Decision:
    return lambda sd, parent, token: access.allows(sd, token, desired)


def _on_object(decide: Callable[[SecurityDescriptor, access.Token], bool]) -> Decision:
    return lambda sd, parent, token: decide(sd, token)


# The adapter's open_read and list_dir ask for FILE_READ_ATTRIBUTES besides, which Samba grants
# without consulting the DACL (smbd_check_access_rights: "If we can access the path to this file,
# by default we have FILE_READ_ATTRIBUTES from the containing directory", after [MS-FSA]'s
# "Algorithm to Check Access to an Existing File"; Windows grants it when the parent allows
# FILE_LIST_DIRECTORY, which the lab's folders do for everyone). So they are compared with the
# rest of what they ask for: the data right and SYNCHRONIZE.
FILE_CHECKS = (
    Check("read data", False, _opening(access.FILE_READ_DATA, folder=False), _on_object(access.can_read_file)),
    Check("open_read", False, _open_read, _allows(access.FILE_READ_DATA | access.SYNCHRONIZE)),
    Check("write data", False, _opening(access.FILE_WRITE_DATA, folder=False), _allows(access.FILE_WRITE_DATA)),
    Check("delete", False, _opening(access.DELETE, folder=False), access.can_delete),
    Check("read permissions", False, _opening(access.READ_CONTROL, folder=False), _allows(access.READ_CONTROL)),
    Check("change permissions", False, _opening(access.WRITE_DAC, folder=False), _allows(access.WRITE_DAC)),
)
FOLDER_CHECKS = (
    Check("list folder", True, _opening(access.FILE_LIST_DIRECTORY, folder=True), _on_object(access.can_list_folder)),
    Check("list_dir", True, _list_dir, _allows(access.FILE_LIST_DIRECTORY | access.SYNCHRONIZE)),
    Check("create file in", True, _opening(access.FILE_ADD_FILE, folder=True), _on_object(access.can_create_file_in)),
    Check("create folder in", True, _opening(access.FILE_ADD_SUBDIRECTORY, folder=True),
          _on_object(access.can_create_folder_in)),
    Check("delete folder", True, _opening(access.DELETE, folder=True), access.can_delete),
)
CHECKS = FILE_CHECKS + FOLDER_CHECKS


# ACE types Samba 4.17 does not evaluate in a DACL: its se_access_check (libcli/security/access_check.c)
# acts on ACCESS_ALLOWED, ACCESS_DENIED and ACCESS_DENIED_OBJECT only ("Other ACE types not
# handled/supported"), so a callback (conditional) deny is skipped there, while we deny as if it
# were unconditional ([MS-DTYP] 2.4.4.17.3: an UNKNOWN condition in a deny ACE denies).
CALLBACK_DENY_TYPES = frozenset({ACCESS_DENIED_CALLBACK_ACE_TYPE, ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE})


def relation(sd: SecurityDescriptor) -> tuple[str, str]:
    """(relation, why) for every comparison on ``sd``: ``==`` unless a documented class applies.

    Both classes are places where the file server's answer depends on more than the descriptor
    and AD, and our check deliberately errs towards "not allowed" (see restore/nt/access.py), so we
    may refuse what Samba allows, never the reverse:

    * an ACE (or the owner) for a SID in ``access.DENY_ONLY_SIDS``: whether the server's token
      holds it depends on the server and the logon (measured on Samba 4.17 over NTLM: This
      Organization is not in the token, NTLM Authentication and Pre-Windows 2000 Compatible Access
      are; AD's tokenGroups lists none of them);
    * a callback deny ACE (CALLBACK_DENY_TYPES).
    """
    if sd.owner in access.DENY_ONLY_SIDS:
        return "<=", f"owner {sd.owner} may or may not be in the server's token (deny-only for us)"
    for ace in sd.dacl or ():
        if ace.flags & INHERIT_ONLY_ACE:
            continue
        if ace.sid in access.DENY_ONLY_SIDS:
            return "<=", f"ACE for {ace.sid}, which the server's token may or may not hold (deny-only for us)"
        if ace.type in CALLBACK_DENY_TYPES:
            return "<=", f"callback deny ACE (type 0x{ace.type:02x}): Samba skips it, we deny"
    return "==", ""


@dataclass(frozen=True)
class Comparison:
    who: str
    check: str
    ours: bool
    samba: bool
    relation: str
    why: str

    @property
    def agrees(self) -> bool:
        if self.relation == "==":
            return self.ours == self.samba
        return self.samba or not self.ours  # "<=": never allowed by us when Samba refuses


@dataclass
class Outcome:
    """Everything one case produced: the descriptors the server holds, and each comparison."""

    file_sd: SecurityDescriptor
    folder_sd: SecurityDescriptor
    comparisons: list[Comparison] = field(default_factory=list)

    def disagreements(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.agrees]

    def samba_allowed(self, check: str) -> frozenset[str]:
        return frozenset(c.who for c in self.comparisons if c.check == check and c.samba)

    def ours_allowed(self, check: str) -> frozenset[str]:
        return frozenset(c.who for c in self.comparisons if c.check == check and c.ours)


# --- the lab ----------------------------------------------------------------------------------------------


class Lab:
    """The scratch folder and the clients: Administrator (sets and reads descriptors: it is root on
    the DC, so it may set any owner and read any descriptor), the service account (creates the
    scratch folder, as the portal would), and one client per standing character."""

    def __init__(self, testenv, *, parents: dict[str, Callable[[Sids], tuple[Ace, ...]]]):
        self.testenv = testenv
        self.sids, self.tokens = resolve_sids(testenv["TESTENV_BASE_DN"])
        self.admin = people.client(testenv, "Administrator", testenv["TESTENV_ADMIN_PASSWORD"])
        self.service = smb.client_for(SERVER)
        self.people = {name: people.client(testenv, name) for name in CHARACTERS}
        self.root = f"differential-{secrets.token_hex(4)}"
        self.parent_sds: dict[str, SecurityDescriptor] = {}
        self._parents = parents
        self.cases_run = 0
        self.comparisons_made = 0

    # --- set up and tear down --------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self._build()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _build(self) -> None:
        self.service.mkdir(SHARE, self.root)
        self.set_sd(self.root, SecurityDescriptor(owner=None, group=None, dacl=self._folder_dacl(())), info=DACL_ONLY)
        for name, extra in self._parents.items():
            path = self.path(name)
            self.service.mkdir(SHARE, path)
            dacl = self._folder_dacl(extra(self.sids))
            self.set_sd(path, SecurityDescriptor(owner=None, group=None, dacl=dacl), info=DACL_ONLY)
            self.parent_sds[name] = self.read_sd(path)
            with self.service.create_file(SHARE, self.target(name)) as handle:
                handle.write(0, b"differential\n")
            self.service.mkdir(SHARE, self.target(name, folder=True))

    def __exit__(self, *exc_info) -> None:
        """Remove the scratch tree as Administrator (root: every delete is allowed); whatever is
        left (a half-built lab) goes from the disk behind the share."""
        try:
            for name in self._parents:
                for path in (self.target(name), self.target(name, folder=True), self.path(name)):
                    self._delete_quietly(path)
            self.admin.delete(SHARE, self.root)
        except smb.SmbError:
            pass
        leftover = self.testenv.share_path(SHARE) / self.root
        if leftover.exists():
            shutil.rmtree(leftover)

    def _delete_quietly(self, path: str) -> None:
        try:
            self.admin.delete(SHARE, path)
        except smb.NotFound:
            pass

    def _folder_dacl(self, extra: tuple[Ace, ...]) -> tuple[Ace, ...]:
        return (Ace(0, 0, access.FILE_ALL_ACCESS, self.sids["VDI Restore Service"]),
                *extra,
                Ace(0, 0, LIST_AND_TRAVERSE, access.EVERYONE))

    # --- paths and descriptors ----------------------------------------------------------------------------

    def path(self, parent: str) -> str:
        return f"{self.root}\\{parent}"

    def target(self, parent: str, *, folder: bool = False) -> str:
        return f"{self.root}\\{parent}\\{'folder' if folder else 'file.txt'}"

    def set_sd(self, path: str, sd: SecurityDescriptor, info: int = OWNER_AND_DACL) -> None:
        self.admin.set_security_descriptor(SHARE, path, build_security_descriptor(sd), info=info)

    def read_sd(self, path: str) -> SecurityDescriptor:
        return parse_security_descriptor(self.admin.security_descriptor(SHARE, path))

    # --- a case ----------------------------------------------------------------------------------------------

    def run(self, sd: SecurityDescriptor, *, parent: str = "plain",
            checks: tuple[Check, ...] = CHECKS, ours: Callable[[Check], Decision] | None = None) -> Outcome:
        """Set ``sd`` on the file and the folder under ``parent``, then compare every check for
        every character. ``ours`` replaces our decisions (only to prove the harness can fail)."""
        file_path, folder_path = self.target(parent), self.target(parent, folder=True)
        self.set_sd(file_path, sd)
        self.set_sd(folder_path, sd)
        outcome = Outcome(file_sd=self.read_sd(file_path), folder_sd=self.read_sd(folder_path))
        parent_sd = self.parent_sds[parent]
        for check in checks:
            held = outcome.folder_sd if check.folder else outcome.file_sd
            rel, why = relation(held)
            decide = ours(check) if ours else check.ours
            for who in CHARACTERS:
                samba = self.samba_allows(who, folder_path if check.folder else file_path, check)
                outcome.comparisons.append(Comparison(who, check.name, decide(held, parent_sd, self.tokens[who]),
                                                      samba, rel, why))
        self.cases_run += 1
        self.comparisons_made += len(outcome.comparisons)
        return outcome

    def samba_allows(self, who: str, path: str, check: Check) -> bool:
        """Whether Samba lets ``who`` do ``check`` on ``path``: True when it does, False on
        STATUS_ACCESS_DENIED; any other failure is raised (it is not an answer about access)."""
        try:
            check.samba(self.people[who], path)
        except smb.AccessDenied:
            return False
        return True

    # --- reporting ---------------------------------------------------------------------------------------------

    def describe(self, sd: SecurityDescriptor) -> str:
        """SDDL-like, with our names for SIDs: ``O:alice D:(D;;0x1;;;alice)(A;;0x120089;;;Everyone)``."""
        owner = f"O:{self.sids.name_of(sd.owner)}"
        if sd.dacl is None:
            return f"{owner} D:{'NO_ACCESS_CONTROL' if sd.control & SE_DACL_PRESENT else '(absent)'}"
        aces = "".join(f"({_ACE_TYPE_NAMES.get(a.type, hex(a.type))};{_flags(a.flags)};0x{a.mask:x};;;"
                       f"{self.sids.name_of(a.sid)})" for a in sd.dacl)
        return f"{owner} D:{aces or '(empty)'}"

    def explain(self, outcome: Outcome, label: str = "") -> str:
        lines = [f"{label} file   {self.describe(outcome.file_sd)}",
                 f"{label} folder {self.describe(outcome.folder_sd)}"]
        for c in outcome.disagreements():
            lines.append(f"  {c.who:9} {c.check:18} ours={'allow' if c.ours else 'deny '} "
                         f"samba={'allow' if c.samba else 'deny '} (must be {c.relation}) {c.why}")
        return "\n".join(lines)


def _open(client: smb.Client, path: str, desired: int, *, folder: bool) -> None:
    """CREATE (open existing) with exactly ``desired`` access, then CLOSE: Samba's own decision.
    STATUS_ACCESS_DENIED raises smb.AccessDenied, any other failure is raised as it is."""
    client.try_open(SHARE, path, desired, directory=folder)


_ACE_TYPE_NAMES = {0x00: "A", 0x01: "D", 0x02: "AU", 0x05: "OA", 0x06: "OD", 0x09: "XA", 0x0A: "XD", 0x11: "ML"}


def _flags(flags: int) -> str:
    names = [("OI", 0x01), ("CI", 0x02), ("NP", 0x04), ("IO", 0x08), ("ID", 0x10)]
    return "".join(n for n, bit in names if flags & bit) + (f"+0x{flags & ~0x1F:x}" if flags & ~0x1F else "")


def descriptor(owner: str, dacl: tuple[Ace, ...] | None) -> SecurityDescriptor:
    """Owner and DACL (``None``: a NULL DACL); no group (cases are set with owner + DACL only)."""
    return SecurityDescriptor(owner=owner, group=None, dacl=dacl, control=SE_SELF_RELATIVE | SE_DACL_PRESENT)
