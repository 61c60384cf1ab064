"""One permission layer for pages and API: who the person is, which roles they hold now, and
whose rights a file operation runs with (the subject).

The subject is the signed-in person, or, while a helpdesk member acts for someone
(restore/helpdesk/people.py), that someone: their identity, token and roots, with the role "helpdesk".
The member's own rights never enter a file decision. Every refusal here is audited.
"""

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.models import Identity, Role


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


def denied(request, message: str, *, operation: str = "", **details) -> PermissionDenied:
    """Record an access-denied for the signed-in person and return the exception to raise."""
    audit.record(audit.Context.from_request(request), Action.ACCESS_DENIED, Result.DENIED,
                 details={"operation": operation or request.path[:200], "why": message, **details})
    return PermissionDenied(message)


class HasPortalRole(BasePermission):
    """API: an AD person with any portal role (the local emergency admin has none)."""

    message = "Sign in with an Active Directory account that may use this portal."
    roles = tuple(Role.values)

    def has_permission(self, request, view):
        ident = identity_of(request.user)
        return ident is not None and any(ident.has_role(r) for r in self.roles)


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
