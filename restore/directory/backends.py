"""The password check: a bind as the person, through django-auth-ldap (the only module that uses it).

Not itself in AUTHENTICATION_BACKENDS: restore.accounts.backends.ActiveDirectoryBackend decides who
may sign in (name, enabled, roles) and calls this only to verify the password and get the Django
user that stands for the AD account (created at the first sign-in, user name in lower case).
"""

from __future__ import annotations

from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import LDAPSettings

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
