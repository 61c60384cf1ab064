"""Acting for someone: starting and ending an ActingFor session, and resolving which one a request runs under
(the page session, or the API's X-Act-For header)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from restore.accounts import identity
from restore.audit import locks
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.directory.ldap import Directory, DirectoryError, DirectoryUser
from restore.helpdesk.people import (
    HelpdeskError,
    NoSuchUser,
    Refused,
    Unavailable,
    clean_reason,
    clean_ticket,
    clean_username,
    extra_protected,
    judge,
    may_act,
    protected_memberships,
    scope_for,
)
from restore.models import ActingFor, Identity, Role

log = logging.getLogger(__name__)


SESSION_KEY = "helpdesk_acting_for"


HEADER = "X-Act-For"


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
        locks.person(actor.pk)  # one start at a time per member; then the chain head (restore/audit/locks.py)
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
    refreshed, view = identity.refresh_if_due(target) if target is not None else (False, None)
    if refreshed:
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
