"""The subject of a request: whose identity, token and roots a page or API call uses (the signed-in person,
or the person a helpdesk member acts for), the audit context that names both, and the content-blind rule."""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.permissions import BasePermission

from restore.accounts import identity
from restore.accounts.permissions import denied, identity_of, may_use_files
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.helpdesk import acting as acting_
from restore.models import Identity, Role
from restore.nt.access import Token
from restore.versions.roots import Root


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


def subject_of(request) -> Subject:
    """The subject of this request (cached on it); PermissionDenied, audited, when there is none."""
    django_request = getattr(request, "_request", request)
    subject = getattr(django_request, "_subject", None)
    if subject is None:
        subject = django_request._subject = _subject_of(request)
    return subject


def _subject_of(request) -> Subject:
    ident = identity_of(request.user)
    resolution = acting_.resolve(request)
    if resolution.problem:
        if resolution.from_session:
            acting_.forget(request)
        raise denied(request, resolution.problem, operation="act for")
    acting = resolution.acting
    if acting is None:
        if not may_use_files(ident):
            raise denied(request, "Your account may not browse or restore files.")
        return Subject(ident, identity.token_of(ident), identity.roots_of(ident), Role.USER, actor=request.user)
    target = acting_.target_identity(request, acting)
    if target is None:
        if resolution.from_session:
            acting_.forget(request)
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
        resolution = acting_.resolve(request)
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
