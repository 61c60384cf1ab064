"""One permission layer for pages and API: who the person is, which roles they hold now, and
whose rights a file operation runs with (the subject)."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from . import identity
from .access import Token
from .identity import Root
from .models import Identity, Role


def identity_of(user) -> Identity | None:
    if user is None or not user.is_authenticated:
        return None
    return getattr(user, "identity", None)


def require_role(user, *roles: str) -> Identity:
    """The person's Identity when they hold one of ``roles``; PermissionDenied otherwise."""
    ident = identity_of(user)
    if ident is None or not any(ident.has_role(r) for r in roles):
        raise PermissionDenied("This needs the role: " + " or ".join(roles))
    return ident


def may_use_files(ident: Identity | None) -> bool:
    """Browsing, content and restores: portal users, except auditors (separation of duties:
    the people who review restores do not read or restore files through the portal)."""
    return ident is not None and ident.has_role(Role.USER) and not ident.has_role(Role.AUDITOR)


@dataclass(frozen=True)
class Subject:
    """Whose rights a file operation uses: the person's own token and roots."""

    identity: Identity
    token: Token
    roots: list[Root]
    role: str


def subject_of(request) -> Subject:
    ident = identity_of(request.user)
    if not may_use_files(ident):
        raise PermissionDenied("Your account may not browse or restore files.")
    return Subject(ident, identity.token_of(ident), identity.roots_of(ident), Role.USER)


class HasPortalRole(BasePermission):
    """API: an AD person with any portal role (the local emergency admin has none)."""

    message = "Sign in with an Active Directory account that may use this portal."
    roles = tuple(Role.values)

    def has_permission(self, request, view):
        ident = identity_of(request.user)
        return ident is not None and any(ident.has_role(r) for r in self.roles)


class MayUseFiles(BasePermission):
    message = "Your account may not browse or restore files."

    def has_permission(self, request, view):
        return may_use_files(identity_of(request.user))
