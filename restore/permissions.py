"""One permission layer for pages and API: who the person is, which roles they hold now, and
whose rights a file operation runs with (the subject).

The subject is the signed-in person, or, while a helpdesk member acts for someone
(restore/helpdesk.py), that someone: their identity, token and roots, with the role "helpdesk".
The member's own rights never enter a file decision. Every refusal here is audited.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.permissions import BasePermission

from . import audit, helpdesk, identity
from .access import Token
from .audit import Action, Result
from .identity import Root
from .models import Identity, Role


def identity_of(user) -> Identity | None:
    if user is None or not user.is_authenticated:
        return None
    return getattr(user, "identity", None)


def require_role(request, *roles: str, excluding: tuple[str, ...] = ()) -> Identity:
    """The signed-in person's Identity when they hold one of ``roles`` and none of ``excluding``;
    otherwise PermissionDenied, audited. Pages call it after login_required; the API through HasRole."""
    ident = identity_of(request.user)
    if ident is None or not any(ident.has_role(r) for r in roles):
        raise denied(request, "This needs the role: " + " or ".join(roles))
    if any(ident.has_role(r) for r in excluding):
        raise denied(request, "This is not for the role: " + " or ".join(excluding))
    return ident


def may_use_files(ident: Identity | None) -> bool:
    """Browsing, content and restores: portal users, except auditors (separation of duties:
    the people who review restores do not read or restore files through the portal)."""
    return ident is not None and ident.has_role(Role.USER) and not ident.has_role(Role.AUDITOR)


@dataclass(frozen=True)
class Subject:
    """Whose rights a file operation uses (identity, token, roots) and who is really acting.

    ``actor`` is the signed-in person; ``acting_for`` is the User acted for (None when people act
    for themselves), with the helpdesk ticket and reason; ``content_blind``: no preview or download.
    """

    identity: Identity
    token: Token
    roots: list[Root]
    role: str
    actor: object = None
    acting_for: object = None
    ticket: str = ""
    reason: str = ""
    content_blind: bool = False


def denied(request, message: str, *, operation: str = "", **details) -> PermissionDenied:
    """Record an access-denied for the signed-in person and return the exception to raise."""
    audit.record(audit.Context.from_request(request), Action.ACCESS_DENIED, Result.DENIED,
                 details={"operation": operation or request.path[:200], "why": message, **details})
    return PermissionDenied(message)


def subject_of(request) -> Subject:
    """The subject of this request (cached on it); PermissionDenied, audited, when there is none."""
    django_request = getattr(request, "_request", request)
    subject = getattr(django_request, "_subject", None)
    if subject is None:
        subject = django_request._subject = _subject_of(request)
    return subject


def _subject_of(request) -> Subject:
    ident = identity_of(request.user)
    resolution = helpdesk.resolve(request)
    if resolution.problem:
        if resolution.from_session:
            helpdesk.forget(request)
        raise denied(request, resolution.problem, operation="act for")
    acting = resolution.acting
    if acting is None:
        if not may_use_files(ident):
            raise denied(request, "Your account may not browse or restore files.")
        return Subject(ident, identity.token_of(ident), identity.roots_of(ident), Role.USER, actor=request.user)
    target = helpdesk.target_identity(request, acting)
    if target is None:
        if resolution.from_session:
            helpdesk.forget(request)
        raise denied(request, f"Acting for {acting.target_username} has ended: {acting.end_reason}.",
                     operation="act for")
    return Subject(
        target, identity.token_of(target), identity.roots_of(target), Role.HELPDESK, actor=request.user,
        acting_for=target.user, ticket=acting.ticket, reason=acting.reason,
        content_blind=acting.content_blind or settings.HELPDESK_CONTENT_BLIND,
    )


def audit_context(request, subject: Subject) -> audit.Context:
    """The audit context of a file operation: the signed-in actor, whom they act for, the role, the ticket."""
    return audit.Context.from_request(request, role=subject.role, acting_for=subject.acting_for,
                                      ticket=subject.ticket)


CONTENT_BLIND = "Content-blind helpdesk mode: you may restore for this user, not open their files."
CONTENT_BLIND_ZIP = ("Content-blind helpdesk mode: a zip download would hand you this user's files. Restore them "
                     "alongside the originals, in place or into a folder instead.")


def require_content(request, subject: Subject, *, operation: str, message: str = CONTENT_BLIND) -> None:
    """Reading a file's bytes (preview, download, a zip of restored files, even the dry run of
    one): refused, and audited, to a helpdesk member acting in content-blind mode."""
    if subject.content_blind:
        audit.record(audit_context(request, subject), Action.ACCESS_DENIED, Result.DENIED,
                     details={"operation": operation, "why": "content-blind helpdesk mode"})
        raise PermissionDenied(message)


# --- restore jobs: who sees which, who gets a zip, who sees hashes ----------------------------------
# A job belongs to its owner (whose rights it runs with). The subject sees the jobs of the person
# whose files it works on: their own, or, while acting, the acted-for person's. A helpdesk member
# who stopped acting (or whose acting-for expired, or who lost the role) is themselves again and
# no longer sees the jobs they started for others; the views answer 404 for those, as for any job
# that is not theirs to see.


def sees_job(subject: Subject, job) -> bool:
    return job.owner_id is not None and job.owner_id == subject.identity.user_id


def may_download_job(subject: Subject, job) -> bool:
    """The zip of a download-mode job: for its owner, signed in as themselves; or for the member who
    requested it, while acting for its owner right now, unless either the job or the acting-for is
    content-blind. Nobody else (the views answer 404: the job is not theirs to know of)."""
    if not sees_job(subject, job) or subject.content_blind:
        return False
    if subject.acting_for is None:
        return job.owner_id == getattr(subject.actor, "pk", None)
    return not job.content_blind and job.requested_by_id == getattr(subject.actor, "pk", None)


def shows_hashes(subject: Subject, job) -> bool:
    """A file's SHA-256 lets anyone confirm a guess of its content: never for a content-blind
    subject, and a job started content-blind shows them to its owner only."""
    if not sees_job(subject, job) or subject.content_blind:
        return False
    return subject.acting_for is None or not job.content_blind


class HasPortalRole(BasePermission):
    """API: an AD person with any portal role (the local emergency admin has none)."""

    message = "Sign in with an Active Directory account that may use this portal."
    roles = tuple(Role.values)

    def has_permission(self, request, view):
        ident = identity_of(request.user)
        return ident is not None and any(ident.has_role(r) for r in self.roles)


class MayUseFiles(BasePermission):
    """API: there is a subject for this request (the person's own files, or the user a helpdesk
    member acts for). Anonymous: False, so DRF answers 401 with the Basic challenge."""

    message = "Your account may not browse or restore files."

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        subject_of(request)  # PermissionDenied, audited, with the reason
        return True


def subject_for_job(request) -> Subject:
    """subject_of for a request about one restore job. A request that names an acting-for that has
    ended (stopped, expired, the helpdesk role withdrawn) learns nothing about the job: Http404
    (the refusal is still audited), never the 403 that would say the job exists."""
    try:
        return subject_of(request)
    except PermissionDenied:
        resolution = helpdesk.resolve(request)
        if resolution.problem or resolution.acting is not None:
            raise Http404("No such restore.") from None
        raise


class MayUseFilesForJob(MayUseFiles):
    """API: MayUseFiles for a restore job's own endpoints (see subject_for_job)."""

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        subject_for_job(request)
        return True


class HasRole(BasePermission):
    """API: the person holds one of ``roles`` and none of ``excluding`` (audited when not);
    anonymous: False, so DRF answers 401 with the Basic challenge."""

    roles: tuple[str, ...] = ()
    excluding: tuple[str, ...] = ()

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        require_role(request, *self.roles, excluding=self.excluding)
        return True


class IsAuditor(HasRole):
    roles = (Role.AUDITOR,)


class IsHelpdesk(HasRole):
    """Helpdesk members who may act for people (not auditors: separation of duties)."""

    roles = (Role.HELPDESK,)
    excluding = (Role.AUDITOR,)
