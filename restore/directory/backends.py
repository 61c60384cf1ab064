"""The password check: a bind as the person, through django-auth-ldap (the only module that uses it),
or with LDAP_PASSWORD_CHECK=kerberos a Kerberos ticket from the password that the portal's own keytab
accepts (restore/directory/passwords.py), for domains that refuse simple binds (NTLM disabled).

Not itself in AUTHENTICATION_BACKENDS: restore.accounts.backends.ActiveDirectoryBackend decides who
may sign in (name, enabled, roles) and calls this only to verify the password and get the Django
user that stands for the AD account (created at the first sign-in, user name in lower case).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django_auth_ldap.backend import LDAPBackend, _LDAPUser
from django_auth_ldap.config import LDAPSettings

from restore.directory import passwords
from restore.directory.ldap import auth_ldap_settings


class PasswordCheck(LDAPBackend):
    @property
    def settings(self):
        return LDAPSettings(self.settings_prefix, auth_ldap_settings())

    @settings.setter
    def settings(self, value):  # django-auth-ldap's API; ours is always built from Django settings
        pass

    def ldap_to_django_username(self, username):
        return username.lower()

    def authenticate(self, request, username=None, password=None, dn=None, **kwargs):
        """With LDAP_AUTH=gssapi the person's DN (already found by the portal's Kerberos lookup) is
        used as it is: django-auth-ldap has no service password to search for it with.
        LDAP_PASSWORD_CHECK=kerberos: DirectoryError when the KDC cannot be reached."""
        if getattr(settings, "LDAP_PASSWORD_CHECK", "bind") == "kerberos":
            return self.kerberos_check(username, password)
        if dn is None or getattr(settings, "LDAP_AUTH", "simple") != "gssapi" or not username or not password:
            return super().authenticate(request, username=username, password=password, **kwargs)
        person = _LDAPUser(self, username=username.strip(), request=request)
        person._user_dn = dn  # django-auth-ldap's cache of the DN it would have searched for
        return self.authenticate_ldap_user(person, password)

    def kerberos_check(self, username, password):
        """The Django user django-auth-ldap would give (user name in lower case, created at the first
        sign-in without a usable password; names and mail are kept by restore.accounts.identity)."""
        if not username or not password or not passwords.password_is_good(username.strip(), password):
            return None
        name = self.ldap_to_django_username(username.strip())
        user = get_user_model().objects.filter(username__iexact=name).first()
        if user is None:
            user = get_user_model()(username=name)
            user.set_unusable_password()
            user.save()
        return user
