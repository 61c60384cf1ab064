"""Helpdesk "act for": find a user, then browse and restore with that user's rights, never one's own.

A helpdesk member starts acting for someone with a ticket reference and a reason. From then on
``restore.permissions.subject_of`` answers the *target's* identity, token and roots (read from AD
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
import smtplib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from . import audit, identity
from .access import Token
from .audit import Action, Result
from .directory import Directory, DirectoryError, DirectoryUser
from .models import ActingFor, Identity, Role

log = logging.getLogger(__name__)

SESSION_KEY = "helpdesk_acting_for"
HEADER = "X-Act-For"
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


# --- starting and ending --------------------------------------------------------------------------


def _user_for(person: DirectoryUser):
    """The portal account of the person, created as django-auth-ldap would at their first sign-in."""
    User = get_user_model()
    user = User.objects.filter(username__iexact=person.username).first()
    if user is None:
        user = User(username=person.username.lower())
        user.set_unusable_password()
        user.save()
    return user


def start(*, actor, username: str, ticket: str, reason: str, via: str, context: audit.Context) -> ActingFor:
    """Begin acting for ``username``; the row and its audit record are written together. A member
    acts for one person at a time: any other acting-for of theirs ends here.

    Raises Invalid (bad input: nothing looked up, nothing recorded), NoSuchUser or Refused (recorded)."""
    ticket, reason, username = clean_ticket(ticket), clean_reason(reason), clean_username(username)
    actor_ident = getattr(actor, "identity", None)

    def refuse(exc: HelpdeskError) -> HelpdeskError:
        audit.record(context, Action.ACT_FOR_START, Result.DENIED,
                     details={"target": username, "ticket": ticket, "reason": reason, "refusal": str(exc)})
        return exc

    if not may_act(actor_ident):
        raise refuse(Refused("Acting for someone needs the helpdesk role."))
    try:
        with Directory() as directory:
            person = directory.user_by_username(username)
            if person is None:
                raise refuse(NoSuchUser(f"There is no user {username}."))
            view = identity.read_person(directory, person)
            refusal = judge(actor_ident, view, scope_for(directory, identity.token_of(actor_ident)),
                            extra_protected(directory))
    except DirectoryError as exc:
        log.error("directory unavailable while %s starts acting for %s: %s", actor_ident, username, exc)
        raise Unavailable("Active Directory cannot be reached; try again shortly.") from exc
    if refusal:
        raise refuse(Refused(refusal))
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=actor.pk).first()  # one start at a time per member
        target = _user_for(person)
        identity.store(target, view)
        for previous in ActingFor.objects.select_related("target").filter(actor=actor, ended_at__isnull=True):
            end(previous, context=context, why="replaced by acting for " + person.username)
        acting = ActingFor.objects.create(
            actor=actor, actor_username=actor.get_username(), target=target, target_username=person.username,
            ticket=ticket, reason=reason, content_blind=settings.HELPDESK_CONTENT_BLIND, via=via,
            started_at=timezone.now(),
        )
        audit.record(audit.Context(**{**context.__dict__, "acting_for": target, "ticket": ticket}),
                     Action.ACT_FOR_START, Result.OK,
                     details={"acting_for_id": str(acting.id), "reason": reason, "via": via,
                              "content_blind": acting.content_blind, "display_name": person.display_name})
    return acting


def end(acting: ActingFor, *, context: audit.Context, why: str) -> bool:
    """End ``acting`` (once: a second end changes nothing); the end is audited with the ticket."""
    with transaction.atomic():
        ended = ActingFor.objects.filter(pk=acting.pk, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=why[:100])
        if ended:
            audit.record(audit.Context(**{**context.__dict__, "acting_for": acting.target, "ticket": acting.ticket,
                                          "role": Role.HELPDESK}),
                         Action.ACT_FOR_END, Result.OK, details={"acting_for_id": str(acting.id), "why": why})
    acting.refresh_from_db()
    return bool(ended)


# --- the acting-for of a request ------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    acting: ActingFor | None = None
    problem: str = ""  # set when the request named an acting-for that cannot be used
    from_session: bool = False


def _django_request(request):
    return getattr(request, "_request", request)  # DRF's Request wraps Django's


def resolve(request) -> Resolution:
    """The active acting-for the request names (X-Act-For header, else the session), checked; cached."""
    django_request = _django_request(request)
    cached = getattr(django_request, "_helpdesk_resolution", None)
    if cached is None:
        cached = django_request._helpdesk_resolution = _resolve(request)
    return cached


def _resolve(request) -> Resolution:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Resolution()
    named = request.headers.get(HEADER, "").strip()
    from_session = not named
    if from_session:
        session = getattr(request, "session", None)
        named = session.get(SESSION_KEY, "") if session is not None else ""
        if not named:
            return Resolution()
    try:
        acting = ActingFor.objects.select_related("target__identity").get(
            pk=uuid.UUID(named), actor=user, ended_at__isnull=True)
    except (ValueError, ActingFor.DoesNotExist):
        problem = ("Acting for that user has ended; start again from the helpdesk page." if from_session else
                   f"{HEADER} names no active acting-for of yours; start one with POST /api/v1/helpdesk/act-for.")
        return Resolution(problem=problem, from_session=from_session)
    context = audit.Context.from_request(request, role=Role.HELPDESK)
    if timezone.now() - acting.started_at >= timedelta(seconds=settings.HELPDESK_ACT_FOR_SECONDS):
        end(acting, context=context, why="expired")
        return Resolution(problem=f"Acting for {acting.target_username} expired; start again if the ticket "
                                  "still needs it.", from_session=from_session)
    if not may_act(getattr(user, "identity", None)):
        end(acting, context=context, why="the helpdesk role was withdrawn")
        return Resolution(problem="Your account no longer has the helpdesk role.", from_session=from_session)
    return Resolution(acting=acting, from_session=from_session)


def target_identity(request, acting: ActingFor) -> Identity | None:
    """The target's Identity, re-read from AD as often as a signed-in person's (IDENTITY_REFRESH_SECONDS);
    None, after ending ``acting``, when the target may no longer be acted for."""
    target = getattr(acting.target, "identity", None) if acting.target is not None else None
    why = "" if target is not None else "the target's account is gone"
    if target is not None and identity.needs_refresh(target):
        try:
            view = identity.refresh(target)
        except DirectoryError as exc:
            log.warning("could not refresh %s from AD, keeping the current token: %s", target, exc)
        else:
            target.refresh_from_db()
            if view is None:
                why = "the target's account was disabled or removed"
            elif Role.USER not in view.roles or Role.AUDITOR in view.roles:
                why = "the target no longer uses this portal"
            elif protected_memberships(view.token):
                why = "the target became a protected account"
    if why:
        end(acting, context=audit.Context.from_request(request, role=Role.HELPDESK), why=why)
        return None
    return target


def remember(request, acting: ActingFor) -> None:
    request.session[SESSION_KEY] = str(acting.id)


def forget(request) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        session.pop(SESSION_KEY, None)


@receiver(user_logged_out, dispatch_uid="helpdesk-end-on-sign-out")
def _end_on_sign_out(sender, request, user, **kwargs):
    session = getattr(request, "session", None) if request is not None else None
    named = session.get(SESSION_KEY) if session is not None else None
    if not named or user is None:
        return
    try:
        acting = ActingFor.objects.get(pk=uuid.UUID(named), actor=user, ended_at__isnull=True)
    except (ValueError, ActingFor.DoesNotExist):
        return
    context = audit.Context.from_request(request, role=Role.HELPDESK)
    end(acting, context=audit.Context(**{**context.__dict__, "actor": user}), why="signed out")


# --- telling the user -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoredFor:
    """What a person is told when a helpdesk member restored files for them."""

    target: object  # the User who owns the files
    actor_name: str
    ticket: str
    reason: str
    items: tuple[str, ...]  # "data: Documents\\notes.txt"
    outcome: str  # the job's state label, e.g. "Done", "Done with problems"
    link: str = ""


def summary_of_job(job) -> RestoredFor | None:
    """A RestoredFor from a restore job (restore.models.RestoreJob); None unless a helpdesk
    member ran it for someone else."""
    if job.role != Role.HELPDESK or job.owner is None or job.owner_id == job.requested_by_id:
        return None
    requester = job.requested_by
    name = (requester.get_full_name() or requester.get_username()) if requester else job.requested_by_username
    items = tuple(f"{item.root}: {item.path}" for item in job.items.all().order_by("seq")[:50])
    return RestoredFor(target=job.owner, actor_name=f"{name} ({job.requested_by_username})", ticket=job.ticket,
                       reason=job.reason, items=items, outcome=job.get_state_display())


def notify_restored_for(job_or_summary) -> bool:
    """Mail the person whose files a helpdesk member restored; False when there is nobody to tell
    or the mail could not be sent (logged; a restore never fails because of its notification)."""
    summary = job_or_summary if isinstance(job_or_summary, RestoredFor) else summary_of_job(job_or_summary)
    if summary is None:
        return False
    ident = getattr(summary.target, "identity", None)
    to = (ident.mail if ident is not None else "") or summary.target.email
    if not to:
        log.warning("no mail address for %s: not told about the restore under ticket %s", summary.target,
                    summary.ticket)
        return False
    shown = "\n".join(f"  - {item}" for item in summary.items) or "  (no items)"
    body = (
        f"Hello {summary.target.get_full_name() or summary.target.get_username()},\n\n"
        f"{summary.actor_name} of the helpdesk restored files in your folders on your behalf.\n\n"
        f"Ticket: {summary.ticket}\nReason: {summary.reason}\nOutcome: {summary.outcome}\n\nItems:\n{shown}\n"
        + (f"\nDetails: {summary.link}\n" if summary.link else "")
        + "\nIf you did not ask for this, contact the helpdesk and quote the ticket.\n"
    )
    try:
        send_mail(f"Files restored for you (ticket {summary.ticket})", body, settings.DEFAULT_FROM_EMAIL, [to])
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("could not mail %s about the restore under ticket %s: %s", to, summary.ticket, exc)
        return False
    return True
