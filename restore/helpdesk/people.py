"""Helpdesk "act for": find a user, then browse and restore with that user's rights, never one's own.

A helpdesk member starts acting for someone with a ticket reference and a reason. From then on
``restore.helpdesk.subject.subject_of`` answers the *target's* identity, token and roots (read from AD
with the service account, exactly as at the target's own sign-in), with the role "helpdesk", and
every audit record names both people. Who may be acted for:

- a person who could use the portal themselves (enabled, a portal user, not an auditor), never
  oneself;
- never a protected account: the portal's own service account, the built-in Administrator, and
  members of the privileged groups (Domain/Enterprise/Schema Admins, Administrators, Account,
  Server, Print and Backup Operators, ...) found by well-known RID in the target's token, plus
  any group named in HELPDESK_PROTECTED_GROUPS;
- within the member's scope (HELPDESK_SCOPES): for each helpdesk group the member belongs to,
  the groups (by SID, nesting counts) and OUs (by DN subtree) its members may act for. Without
  the setting, every portal user.

State: an :class:`ActingFor` row (the record) whose id is kept in the session (pages) or sent by
API clients in the ``X-Act-For`` header. It ends on "stop", sign-out, a new start, expiry
(HELPDESK_ACT_FOR_SECONDS), or when AD no longer lets either person take part.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from restore.accounts import identity
from restore.directory.ldap import Directory, DirectoryUser
from restore.models import Identity, Role
from restore.nt.access import Token

log = logging.getLogger(__name__)


MAX_TICKET, MAX_REASON = 64, 500


_TICKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]*")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are fine in a reason


MIN_QUERY, MAX_QUERY = 2, 64


class HelpdeskError(Exception):
    """A refusal with a message that can be shown; ``status`` is the HTTP answer."""

    status = 400


class Invalid(HelpdeskError):
    status = 400


class Refused(HelpdeskError):
    status = 403


class NoSuchUser(HelpdeskError):
    status = 404


class Unavailable(HelpdeskError):
    status = 503


# --- input ----------------------------------------------------------------------------------------


def clean_ticket(raw) -> str:
    ticket = raw.strip() if isinstance(raw, str) else ""
    if not ticket:
        raise Invalid("A ticket reference is required to act for someone.")
    if len(ticket) > MAX_TICKET or not _TICKET.fullmatch(ticket):
        raise Invalid(f"A ticket reference is at most {MAX_TICKET} letters, digits and . _ : / # - (e.g. INC0012345).")
    return ticket


def clean_reason(raw) -> str:
    reason = raw.strip() if isinstance(raw, str) else ""
    if not reason:
        raise Invalid("A reason is required to act for someone.")
    if len(reason) > MAX_REASON or _CONTROL.search(reason):
        raise Invalid(f"A reason is plain text of at most {MAX_REASON} characters.")
    return reason


def clean_query(raw) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not MIN_QUERY <= len(text) <= MAX_QUERY or _CONTROL.search(text) or "\t" in text or "\n" in text:
        raise Invalid(f"Type {MIN_QUERY} to {MAX_QUERY} characters of a name, user name or mail address.")
    return text


def clean_username(raw) -> str:
    try:
        return identity.parse_sign_in_name(raw if isinstance(raw, str) else "")
    except identity.InvalidSignInName as exc:
        raise Invalid(str(exc)) from None


# --- who may be acted for -------------------------------------------------------------------------

# Well-known RIDs of privileged principals in any domain of the forest ([MS-DTYP] 2.4.2.4).
PROTECTED_RIDS = {
    500: "the built-in Administrator",
    512: "Domain Admins",
    516: "Domain Controllers",
    518: "Schema Admins",
    519: "Enterprise Admins",
    520: "Group Policy Creator Owners",
    521: "Read-only Domain Controllers",
    526: "Key Admins",
    527: "Enterprise Key Admins",
}


PROTECTED_BUILTIN = {
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-548": "Account Operators",
    "S-1-5-32-549": "Server Operators",
    "S-1-5-32-550": "Print Operators",
    "S-1-5-32-551": "Backup Operators",
}


_DOMAIN_SID = re.compile(r"S-1-5-21-\d+-\d+-\d+-(\d+)")


def protected_memberships(token: Token, extra: dict[str, str] | None = None) -> list[str]:
    """Names of the privileged groups (or accounts) in ``token``; empty for an ordinary person."""
    found = []
    for sid in sorted(token.sids):
        match = _DOMAIN_SID.fullmatch(sid)
        if match and int(match[1]) in PROTECTED_RIDS:
            found.append(PROTECTED_RIDS[int(match[1])])
        elif sid in PROTECTED_BUILTIN:
            found.append(PROTECTED_BUILTIN[sid])
        elif extra and sid in extra:
            found.append(extra[sid])
    return found


def normalize_dn(dn: str) -> str:
    return re.sub(r"\s*([,=])\s*", r"\1", dn.strip()).lower()


@dataclass(frozen=True)
class Scope:
    """Whom one helpdesk member may act for: everyone, or members of groups and people in subtrees."""

    everyone: bool
    group_sids: frozenset[str] = frozenset()
    subtrees: tuple[str, ...] = ()  # normalized DNs of OUs or containers

    def allows(self, target_dn: str, target_token: Token) -> bool:
        if self.everyone or self.group_sids & target_token.sids:
            return True
        dn = normalize_dn(target_dn)
        return any(dn.endswith("," + subtree) for subtree in self.subtrees)


def scope_rules() -> dict[str, list[str]]:
    rules = settings.HELPDESK_SCOPES
    if not isinstance(rules, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(t, str) for t in v) for k, v in rules.items()
    ):
        raise ImproperlyConfigured('HELPDESK_SCOPES must be JSON like {"<helpdesk group DN>": ["<group or OU DN>"]}')
    return rules


def _resolved_sids(directory: Directory, dns: list[str]) -> dict[str, str | None]:
    """{DN: objectSid or None (an OU, a container, or a DN that does not exist)}, cached an hour."""
    key = "helpdesk-dn-sids:" + hashlib.sha256("|".join(sorted(dns)).encode()).hexdigest()
    sids = cache.get(key)
    if sids is None:
        sids = {dn: directory.sid_of(dn) for dn in dns}
        cache.set(key, sids, 3600)
    return sids


def scope_for(directory: Directory, actor_token: Token) -> Scope:
    rules = scope_rules()
    if not rules:
        return Scope(everyone=True)
    sids = _resolved_sids(directory, sorted({dn for k, v in rules.items() for dn in [k, *v]}))
    groups, subtrees = set(), []
    for helpdesk_group, targets in rules.items():
        if sids.get(helpdesk_group) and sids[helpdesk_group] in actor_token.sids:
            for target in targets:
                if sids.get(target):
                    groups.add(sids[target])
                else:
                    subtrees.append(normalize_dn(target))
    return Scope(everyone=False, group_sids=frozenset(groups), subtrees=tuple(subtrees))


def extra_protected(directory: Directory) -> dict[str, str]:
    """HELPDESK_PROTECTED_GROUPS (DNs) as {SID: name}."""
    dns = list(settings.HELPDESK_PROTECTED_GROUPS)
    sids = _resolved_sids(directory, dns) if dns else {}
    return {sid: dn.split(",")[0].partition("=")[2] or dn for dn, sid in sids.items() if sid}


def is_service_account(person: DirectoryUser) -> bool:
    names = {settings.SMB_USERNAME.lower()} - {""}
    return normalize_dn(person.dn) == normalize_dn(settings.LDAP_BIND_DN or "-") or person.username.lower() in names


@dataclass(frozen=True)
class Candidate:
    """A person found by the helpdesk, with whether this member may act for them and why not."""

    person: DirectoryUser
    view: identity.DirectoryView
    allowed: bool
    refusal: str = ""

    def as_dict(self) -> dict:
        return {"username": self.person.username, "display_name": self.person.display_name,
                "mail": self.person.mail, "enabled": self.person.enabled, "may_act_for": self.allowed,
                "refusal": self.refusal}


def judge(actor: Identity, view: identity.DirectoryView, scope: Scope, extra: dict[str, str]) -> str:
    """Why ``actor`` may not act for the person in ``view``; empty when they may."""
    person = view.person
    if person.sid == actor.sid:
        return "You cannot act for yourself."
    if not person.enabled:
        return f"{person.username}'s account is disabled."
    if Role.USER not in view.roles or Role.AUDITOR in view.roles:
        return f"{person.username} does not use this portal."
    protected = protected_memberships(view.token, extra)
    if is_service_account(person) or protected:
        why = ", ".join(protected) if protected else "the portal's service account"
        return f"{person.username} is a protected account ({why}); nobody can act for it."
    if not scope.allows(person.dn, view.token):
        return f"{person.username} is outside your helpdesk group's scope."
    return ""


def may_act(ident: Identity | None) -> bool:
    """Helpdesk members, except auditors (the people who review acting-for do not do it)."""
    return ident is not None and ident.has_role(Role.HELPDESK) and not ident.has_role(Role.AUDITOR)


def find(actor: Identity, text: str) -> list[Candidate]:
    """People whose name, user name or mail starts with ``text``, each judged for this member."""
    text = clean_query(text)
    with Directory() as directory:
        scope = scope_for(directory, identity.token_of(actor))
        extra = extra_protected(directory)
        found = []
        for person in directory.find_users(text):
            view = identity.read_person(directory, person)
            refusal = judge(actor, view, scope, extra)
            found.append(Candidate(person, view, not refusal, refusal))
    return found
