"""Authentication backends: Active Directory for people, a local emergency admin for /admin/.

The sign-in order, so that a refused sign-in changes nothing:
name checked -> person read with the service account (enabled? portal roles?) ->
password verified (a bind as the person, or Kerberos: LDAP_PASSWORD_CHECK) -> Identity stored.
The password check itself is the directory adapter's (restore/directory/backends.py, the only user
of django-auth-ldap). The reason of a refusal is left on the request for the audit record
(restore/audit/signals.py).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed

from restore.accounts import identity
from restore.directory import ldap as directory
from restore.directory.backends import PasswordCheck

log = logging.getLogger(__name__)

GENERIC_FAILURE = "Wrong user name or password, or the account cannot sign in."


def note_failure(request, reason: str, message: str = GENERIC_FAILURE) -> None:
    """Remember why a sign-in was refused: ``reason`` for the audit, ``message`` for the person."""
    if request is not None:
        request.signin_failure = {"reason": reason, "message": message}


def storable_name(typed) -> str:
    """The typed name as the audit trail and the lockout table may keep it: escaped, bounded."""
    return str(typed).encode("unicode_escape").decode("ascii")[:200]  # axes keeps at most 255


def check_sign_in_name(request, typed) -> str | None:
    """The sAMAccountName for what was typed, or None once the refusal is recorded.

    Called by every sign-in entry point (page and HTTP Basic) before ``authenticate()``: a name
    that is no user name of this domain never reaches axes or LDAP, yet it is audited and counts
    towards the address's lockout like any other failure."""
    try:
        return identity.parse_sign_in_name(typed)
    except identity.InvalidSignInName as exc:
        note_failure(request, "invalid user name", str(exc))
        user_login_failed.send(sender=__name__, credentials={"username": storable_name(typed)}, request=request)
        return None


class ActiveDirectoryBackend(ModelBackend):
    """People sign in with their AD account; the Django user is AD's, kept in step at each sign-in."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or not settings.LDAP_URI:
            return None
        try:
            sam = identity.parse_sign_in_name(username)
        except identity.InvalidSignInName as exc:
            note_failure(request, "invalid user name", str(exc))
            return None
        if not password:
            note_failure(request, "empty password", "Enter your password.")
            return None
        try:
            view = identity.look_up(sam)
        except directory.DirectoryError as exc:
            log.error("directory unavailable during sign-in of %s: %s", sam, exc)
            note_failure(request, "directory unavailable", "Active Directory cannot be reached; try again shortly.")
            return None
        if view is None:
            note_failure(request, "unknown user")
            return None
        if not view.person.enabled:
            note_failure(request, "account disabled")
            return None
        if not view.roles:
            note_failure(request, "not a portal user", "Your account is not allowed to use this portal.")
            return None
        try:
            user = PasswordCheck().authenticate(request, view.person.username, password, dn=view.person.dn)
        except directory.DirectoryError as exc:  # LDAP_PASSWORD_CHECK=kerberos: no KDC answered
            log.error("directory unavailable during sign-in of %s: %s", sam, exc)
            note_failure(request, "directory unavailable", "Active Directory cannot be reached; try again shortly.")
            return None
        if user is None:
            note_failure(request, "wrong password")
            return None
        identity.store(user, view)
        user.signin_view = view
        return user

    def user_can_authenticate(self, user):
        return user.is_active


class EmergencyAdminBackend(ModelBackend):
    """Local superusers with a usable password, for the admin site only (AD may be down)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or not request.path.startswith("/admin/"):
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and user.is_superuser and not hasattr(user, "identity"):
            return user
        return None

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_superuser else None
