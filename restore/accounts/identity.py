"""Who a person is: sign-in names, the security token, roles and roots, from AD.

The token (user SID + tokenGroups + the well-known SIDs of a network logon) is read
with the service account at sign-in and on refresh, and stored on :class:`Identity`.
Roles come from the configured AD groups, matched by SID against the token, so nested
membership and the primary group count exactly as they do for the file server.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from restore.directory.ldap import Directory, DirectoryError, DirectoryUser
from restore.models import Identity, Role
from restore.nt.access import Token, network_logon_sids
from restore.versions.container_roots import fslogix_template
from restore.versions.paths import PathError, parse_unc
from restore.versions.roots import Root, root_templates

log = logging.getLogger(__name__)

MAX_SAM = 20  # sAMAccountName of a user ([MS-ADTS] 3.1.1.5.2.4)


# AD allows more in a sAMAccountName; the portal accepts the characters real estates use, which also
# keeps every LDAP filter metacharacter out before any search (the filters are escaped as well).
_SAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._'-]*")


class InvalidSignInName(ValueError):
    """The typed name is not a user name of this domain; the message can be shown."""


def parse_sign_in_name(raw: str) -> str:
    """``alice``, ``CORP\\alice`` or ``alice@corp.example.test`` -> ``alice``.

    Anything else (another domain, filter syntax, control characters, over-long) raises
    InvalidSignInName before any directory query is made.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidSignInName("Enter your user name.")
    name = raw.strip()
    if len(name) > 256:
        raise InvalidSignInName("That user name is too long.")
    if "\\" in name:
        domain, _, name = name.partition("\\")
        if not settings.LDAP_DOMAIN or domain.lower() != settings.LDAP_DOMAIN.lower():
            raise InvalidSignInName(f"Sign in with an account of the {settings.LDAP_DOMAIN or 'configured'} domain.")
    elif "@" in name:
        name, _, suffix = name.rpartition("@")
        if not settings.LDAP_UPN_SUFFIX or suffix.lower() != settings.LDAP_UPN_SUFFIX.lower():
            raise InvalidSignInName(f"Sign in with an account of {settings.LDAP_UPN_SUFFIX or 'the configured domain'}.")
    if len(name) > MAX_SAM or not _SAM.fullmatch(name) or name.endswith("."):
        raise InvalidSignInName("That is not a valid user name (letters, digits, '.', '-' and '_', at most 20).")
    return name.lower()


# --- tokens and roles -----------------------------------------------------------------------


def token_for(directory: Directory, person: DirectoryUser) -> Token:
    groups = set(directory.token_groups(person.dn)) | set(network_logon_sids())
    return Token(user_sid=person.sid, group_sids=frozenset(groups), account=person.username)


def role_group_sids(directory: Directory) -> dict[str, str]:
    """{role: group SID}; configured by DN, resolved once and cached."""
    configured = "|".join((settings.ROLE_USER_GROUP, settings.ROLE_HELPDESK_GROUP, settings.ROLE_AUDITOR_GROUP))
    key = "role-group-sids:" + hashlib.sha256(configured.encode()).hexdigest()
    sids = cache.get(key)
    if sids is None:
        sids = {}
        if settings.ROLE_USER_GROUP:
            sids[Role.USER] = _group_sid(directory, settings.ROLE_USER_GROUP)
        else:
            sids[Role.USER] = directory.domain_sid() + "-513"  # Domain Users
        for role, dn in ((Role.HELPDESK, settings.ROLE_HELPDESK_GROUP), (Role.AUDITOR, settings.ROLE_AUDITOR_GROUP)):
            if dn:
                sids[role] = _group_sid(directory, dn)
        cache.set(key, sids, 3600)
    return sids


def _group_sid(directory: Directory, dn: str) -> str:
    sid = directory.sid_of(dn)
    if sid is None:
        raise DirectoryError(f"role group {dn!r} does not exist in the directory")
    return sid


def roles_for(token: Token, group_sids: dict[str, str]) -> list[str]:
    return [role for role in Role.values if group_sids.get(role) in token.group_sids]


def allowed_servers() -> set[str]:
    servers = {s.lower() for s in settings.ALLOWED_FILE_SERVERS}
    for _, template in root_templates():
        servers.add(parse_unc(template.replace("%USERNAME%", "x").replace("%USERDOMAIN%", "x")).server)
    return servers


def roots_for(person: DirectoryUser) -> list[Root]:
    """The person's roots: templates first, then AD's profilePath/homeDirectory; validated, deduplicated."""
    values = {"%USERNAME%": person.username, "%USERDOMAIN%": settings.LDAP_DOMAIN, "%SID%": person.sid}
    candidates = [
        (kind, re.sub(r"%(USERNAME|USERDOMAIN|SID)%", lambda m: values[m.group(0).upper()],
                      fslogix_template(kind, template), flags=re.I))
        for kind, template in root_templates()
    ]
    if settings.ROOTS_FROM_AD:
        if person.profile_path:
            candidates.append(("profile", person.profile_path.rstrip("\\") + ".V6"))
        if person.home_directory:
            candidates.append(("home", person.home_directory))
    servers = allowed_servers()
    roots: list[Root] = []
    seen: set[str] = set()
    for kind, unc in candidates:
        try:
            parsed = parse_unc(unc)
        except PathError:
            continue  # a malformed AD attribute never becomes a root
        if parsed.server not in servers or not parsed.path or str(parsed).lower() in seen:
            continue
        seen.add(str(parsed).lower())
        taken = {r.id for r in roots}
        root_id = kind if kind not in taken else next(f"{kind}{n}" for n in range(2, 99) if f"{kind}{n}" not in taken)
        roots.append(Root(id=root_id, kind=kind, unc=str(parsed)))
    return roots


# --- the stored identity ------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryView:
    person: DirectoryUser
    token: Token
    roles: list[str]
    roots: list[Root]


def read_person(directory: Directory, person: DirectoryUser) -> DirectoryView:
    token = token_for(directory, person)
    return DirectoryView(person, token, roles_for(token, role_group_sids(directory)), roots_for(person))


def look_up(username: str) -> DirectoryView | None:
    """Everything the portal needs about a person, read with the service account."""
    with Directory() as directory:
        person = directory.user_by_username(username)
        return read_person(directory, person) if person else None


def store(user, view: DirectoryView) -> Identity:
    """Write what AD said onto the person's Identity row (the only writer)."""
    with transaction.atomic():
        identity, _ = Identity.objects.update_or_create(
            user=user,
            defaults={
                "dn": view.person.dn,
                "domain": settings.LDAP_DOMAIN,
                "username": view.person.username,
                "sid": view.person.sid,
                "display_name": view.person.display_name,
                "mail": view.person.mail,
                "token_sids": sorted(view.token.group_sids),
                "roles": view.roles,
                "roots": [r.as_dict() for r in view.roots],
                "refreshed_at": timezone.now(),
            },
        )
        changed = False
        for attr, value in (("first_name", view.person.given_name), ("last_name", view.person.surname),
                            ("email", view.person.mail)):  # fmt: skip
            if getattr(user, attr) != value:
                setattr(user, attr, value)
                changed = True
        if changed:
            user.save(update_fields=["first_name", "last_name", "email"])
    return identity


def token_of(identity: Identity) -> Token:
    return Token(user_sid=identity.sid, group_sids=frozenset(identity.token_sids), account=identity.username)


def roots_of(identity: Identity) -> list[Root]:
    return [Root(**r) for r in identity.roots]


def needs_refresh(identity: Identity) -> bool:
    age = (timezone.now() - identity.refreshed_at).total_seconds()
    return age >= settings.IDENTITY_REFRESH_SECONDS


def refresh_token(identity: Identity) -> Token | None:
    """Re-read the person's groups from AD (by SID) and store the token and roles; None when the
    account is gone or disabled. For the worker at a job's start: a group removed in AD no longer
    grants anything from then on. Roots and ``refreshed_at`` stay the session's (``refresh``)."""
    with Directory() as directory:
        person = directory.user_by_sid(identity.sid)
        if person is None or not person.enabled:
            return None
        token = token_for(directory, person)
        roles = roles_for(token, role_group_sids(directory))
    identity.token_sids, identity.roles = sorted(token.group_sids), roles
    Identity.objects.filter(pk=identity.pk).update(token_sids=identity.token_sids, roles=roles)
    return token


def refresh(identity: Identity) -> DirectoryView | None:
    """Re-read the person from AD by SID; None when they are gone or disabled."""
    with Directory() as directory:
        person = directory.user_by_sid(identity.sid)
        if person is None or not person.enabled:
            return None
        view = read_person(directory, person)
    store(identity.user, view)
    return view


def refresh_if_due(identity: Identity) -> tuple[bool, DirectoryView | None]:
    """Re-read the person from AD when IDENTITY_REFRESH_SECONDS have passed: (True, their view, None
    when gone or disabled). Not due, or AD not answering (logged; the current token is kept until AD
    answers again): (False, None)."""
    if not needs_refresh(identity):
        return False, None
    try:
        view = refresh(identity)
    except DirectoryError as exc:
        log.warning("could not refresh %s from AD, keeping the current token: %s", identity, exc)
        return False, None
    identity.refresh_from_db()
    return True, view
