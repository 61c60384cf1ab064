"""The directory adapter: the only module that talks LDAP to Active Directory.

Everything here binds over LDAPS or StartTLS with the server certificate verified
against ``LDAP_CA_FILE``; a plain simple bind is never attempted. The rest of the
application speaks our own types (:class:`DirectoryUser`) and never imports ``ldap``.

The portal's own lookups bind as its service account: with its password (LDAP_AUTH=simple), or
with LDAP_AUTH=gssapi by SASL GSSAPI (Kerberos) from its keytab, no password at all. A Kerberos bind
inside TLS carries the TLS channel binding (what AD's and Samba's "channel binding" enforcement
checks) and no SASL sign/seal (refused inside TLS); it names the server by its DNS name
(SMB_KERBEROS_HOSTNAMES maps an address in LDAP_URI to it), since the ticket is for ldap/<name>.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

# libldap reads its SASL channel-binding default from the environment once, when first used in the
# process: set before any connection. Only SASL binds use it (LDAP_AUTH=gssapi); simple binds do not.
os.environ.setdefault("LDAPSASL_CBINDING", "tls-endpoint")

import ldap  # noqa: E402
import ldap.filter  # noqa: E402
import ldap.sasl  # noqa: E402
from django.conf import settings  # noqa: E402

from restore.nt.descriptors import SecurityDescriptorError, sid_from_bytes

# userAccountControl bits ([MS-ADTS] 2.2.16)
UF_ACCOUNTDISABLE = 0x0002
UF_LOCKOUT = 0x0010

IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN

USER_ATTRIBUTES = [
    "sAMAccountName",
    "userPrincipalName",
    "displayName",
    "givenName",
    "sn",
    "mail",
    "objectSid",
    "userAccountControl",
    "profilePath",
    "homeDirectory",
]


class DirectoryError(Exception):
    """AD could not be reached or answered with an error."""


@dataclass(frozen=True)
class DirectoryUser:
    dn: str
    username: str  # sAMAccountName
    sid: str
    display_name: str
    mail: str = ""
    upn: str = ""
    enabled: bool = True
    profile_path: str = ""
    home_directory: str = ""
    given_name: str = ""
    surname: str = ""
    extra: dict = field(default_factory=dict, compare=False)


def sid_to_str(raw: bytes) -> str:
    """A binary SID from LDAP (objectSid, tokenGroups) as its S-1-... string, read by the same reader
    as the SIDs of security descriptors."""
    try:
        return sid_from_bytes(raw)
    except SecurityDescriptorError as exc:
        raise DirectoryError(f"malformed SID from the directory: {exc}") from None


def configure_tls(conn) -> None:
    """Certificate verification against our CA; no referral chasing (Samba, AD)."""
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, settings.LDAP_TIMEOUT)
    conn.set_option(ldap.OPT_TIMEOUT, settings.LDAP_TIMEOUT)
    conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    if settings.LDAP_CA_FILE:
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, settings.LDAP_CA_FILE)
    conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # must come after the other TLS options


def ldap_connection_options() -> dict:
    """The same options, in the form django-auth-ldap's AUTH_LDAP_CONNECTION_OPTIONS takes."""
    options = {
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_PROTOCOL_VERSION: 3,
        ldap.OPT_NETWORK_TIMEOUT: settings.LDAP_TIMEOUT,
        ldap.OPT_TIMEOUT: settings.LDAP_TIMEOUT,
        ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
    }
    if settings.LDAP_CA_FILE:
        options[ldap.OPT_X_TLS_CACERTFILE] = settings.LDAP_CA_FILE
    options[ldap.OPT_X_TLS_NEWCTX] = 0
    return options


def auth_ldap_settings() -> dict:
    """django-auth-ldap's settings, derived from ours (AUTH_LDAP_* are not read from the environment)."""
    from django_auth_ldap.config import LDAPSearch

    assert_secure_uri(settings.LDAP_URI, settings.LDAP_START_TLS)
    return {
        "SERVER_URI": settings.LDAP_URI,
        "START_TLS": settings.LDAP_START_TLS,
        "CONNECTION_OPTIONS": ldap_connection_options(),
        "BIND_DN": settings.LDAP_BIND_DN,
        "BIND_PASSWORD": settings.LDAP_BIND_PASSWORD,
        "USER_SEARCH": LDAPSearch(
            settings.LDAP_USER_SEARCH_BASE,
            ldap.SCOPE_SUBTREE,
            "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%(user)s))",
        ),
        "USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "ALWAYS_UPDATE_USER": True,
        "PERMIT_EMPTY_PASSWORD": False,
        # LDAP_AUTH=gssapi: no service password to search with; the person's DN is known (backends.py)
        # and their own bind reads their attributes.
        "BIND_AS_AUTHENTICATING_USER": getattr(settings, "LDAP_AUTH", "simple") == "gssapi",
    }


def kerberos_uri(uri: str) -> str:
    """LDAP_URI with the server named as in its SPN (ldap/<name>): an address or short name mapped by
    SMB_KERBEROS_HOSTNAMES; the name must resolve to the same server."""
    parts = urlsplit(uri)
    names = getattr(settings, "SMB_KERBEROS_HOSTNAMES", {}) or {}
    host = names.get((parts.hostname or "").lower())
    if not host:
        return uri
    return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def _kerberos_environment() -> None:
    """Where the SASL GSSAPI client finds its key and keeps its tickets: the keytab (LDAP_KEYTAB, else
    SMB_KEYTAB) as MIT Kerberos's client keytab, tickets in a memory cache of this process (never the
    machine's shared default file cache) unless KRB5CCNAME says otherwise."""
    keytab = getattr(settings, "LDAP_KEYTAB", "") or getattr(settings, "SMB_KEYTAB", "")
    if not keytab:
        raise DirectoryError("LDAP_AUTH=gssapi needs the service account's keytab: set LDAP_KEYTAB (or SMB_KEYTAB).")
    os.environ["KRB5_CLIENT_KTNAME"] = keytab
    os.environ.setdefault("KRB5CCNAME", "MEMORY:vdiprotect-ldap")


def assert_secure_uri(uri: str, start_tls: bool) -> None:
    if not uri:
        raise DirectoryError("LDAP_URI is not configured")
    if not (uri.lower().startswith("ldaps://") or start_tls):
        raise DirectoryError("LDAP_URI must be ldaps:// or LDAP_START_TLS must be on: no plain binds")


class Directory:
    """A bound connection to AD. Use as a context manager; binds as the service account by default."""

    def __init__(self, bind_dn: str | None = None, password: str | None = None):
        self.bind_dn = settings.LDAP_BIND_DN if bind_dn is None else bind_dn
        self.password = settings.LDAP_BIND_PASSWORD if password is None else password
        self.conn = None

    def __enter__(self) -> "Directory":
        assert_secure_uri(settings.LDAP_URI, settings.LDAP_START_TLS)
        kerberos = self._service_by_kerberos()
        uri = kerberos_uri(settings.LDAP_URI) if kerberos else settings.LDAP_URI
        try:
            conn = ldap.initialize(uri)
            if kerberos:
                conn.set_option(ldap.OPT_X_SASL_NOCANON, 1)  # the ticket is for ldap/<the name in the URI>
                conn.set_option(ldap.OPT_X_SASL_SSF_MAX, 0)  # TLS protects it; sign/seal inside TLS is refused
            configure_tls(conn)
            if settings.LDAP_START_TLS:
                conn.start_tls_s()
            if kerberos:
                _kerberos_environment()
                conn.sasl_interactive_bind_s("", ldap.sasl.gssapi())
            else:
                conn.simple_bind_s(self.bind_dn, self.password)
        except ldap.INVALID_CREDENTIALS as exc:
            if kerberos:
                raise DirectoryError(f"the Kerberos (GSSAPI) bind to {uri} was refused: {_ldap_message(exc)}. "
                                     f"Check LDAP_KEYTAB and that the server checks TLS channel bindings "
                                     f"(LDAPSASL_CBINDING=tls-endpoint)") from exc
            raise InvalidCredentials(str(exc)) from exc
        except ldap.LDAPError as exc:
            hint = (" (Kerberos: LDAP_KEYTAB, KRB5_CONFIG, the ldap/<name> SPN of the domain controller and "
                    "SMB_KERBEROS_HOSTNAMES for an address in LDAP_URI)") if kerberos else ""
            raise DirectoryError(f"cannot bind to {uri}: {_ldap_message(exc)}{hint}") from exc
        self.conn = conn
        return self

    def _service_by_kerberos(self) -> bool:
        """The service account's own bind, with LDAP_AUTH=gssapi: Kerberos. A person's is always simple."""
        return (getattr(settings, "LDAP_AUTH", "simple") == "gssapi" and self.bind_dn == settings.LDAP_BIND_DN
                and self.password == settings.LDAP_BIND_PASSWORD)

    def __exit__(self, *exc_info) -> None:
        if self.conn is not None:
            try:
                self.conn.unbind_s()
            except ldap.LDAPError:
                pass
            self.conn = None

    # --- reads -----------------------------------------------------------------------------
    def search(self, base: str, scope, filterstr: str, attrs: list[str]):
        try:
            results = self.conn.search_s(base, scope, filterstr, attrs)
        except ldap.NO_SUCH_OBJECT:
            return []
        except ldap.LDAPError as exc:
            raise DirectoryError(f"search failed: {_ldap_message(exc)}") from exc
        return [(dn, attrs) for dn, attrs in results if dn]  # drop referrals

    def user_by_username(self, username: str) -> DirectoryUser | None:
        flt = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%s))" % (
            ldap.filter.escape_filter_chars(username)
        )
        found = self.search(settings.LDAP_USER_SEARCH_BASE, ldap.SCOPE_SUBTREE, flt, USER_ATTRIBUTES)
        return user_from_entry(*found[0]) if len(found) == 1 else None

    def user_by_sid(self, sid: str) -> DirectoryUser | None:
        flt = "(&(objectClass=user)(objectSid=%s))" % ldap.filter.escape_filter_chars(sid)
        found = self.search(settings.LDAP_USER_SEARCH_BASE, ldap.SCOPE_SUBTREE, flt, USER_ATTRIBUTES)
        return user_from_entry(*found[0]) if len(found) == 1 else None

    def token_groups(self, dn: str) -> list[str]:
        """Every group SID of the user, nested and primary included (tokenGroups, BASE scope only)."""
        found = self.search(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["tokenGroups"])
        if not found:
            raise DirectoryError(f"user {dn!r} vanished while reading tokenGroups")
        return [sid_to_str(raw) for raw in found[0][1].get("tokenGroups", [])]

    def sid_of(self, dn: str) -> str | None:
        found = self.search(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["objectSid"])
        if not found or "objectSid" not in found[0][1]:
            return None
        return sid_to_str(found[0][1]["objectSid"][0])

    def domain_sid(self) -> str:
        base = self.base_dn()
        sid = self.sid_of(base)
        if not sid:
            raise DirectoryError("cannot read the domain SID")
        return sid

    def base_dn(self) -> str:
        """The domain's naming context, from the rootDSE (whose DN is empty, so not via search())."""
        try:
            found = self.conn.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["defaultNamingContext"])
        except ldap.LDAPError as exc:
            raise DirectoryError(f"cannot read the rootDSE: {_ldap_message(exc)}") from exc
        for _dn, attrs in found:
            if attrs and attrs.get("defaultNamingContext"):
                return attrs["defaultNamingContext"][0].decode()
        raise DirectoryError("the rootDSE names no defaultNamingContext")

    def find_users(self, text: str, limit: int = 25) -> list[DirectoryUser]:
        """People whose name, sAMAccountName or mail starts with ``text`` (helpdesk search)."""
        t = ldap.filter.escape_filter_chars(text)
        flt = (
            "(&(objectCategory=person)(objectClass=user)"
            f"(|(sAMAccountName={t}*)(displayName={t}*)(givenName={t}*)(sn={t}*)(mail={t}*)))"
        )
        found = self.search(settings.LDAP_USER_SEARCH_BASE, ldap.SCOPE_SUBTREE, flt, USER_ATTRIBUTES)
        users = [user_from_entry(dn, attrs) for dn, attrs in found]
        return sorted(users, key=lambda u: u.username.lower())[:limit]


class InvalidCredentials(DirectoryError):
    """The bind was refused: wrong password, disabled or locked account."""


def user_from_entry(dn: str, attrs: dict) -> DirectoryUser:
    def text(name: str) -> str:
        values = attrs.get(name) or [b""]
        return values[0].decode("utf-8", "replace")

    uac = int(text("userAccountControl") or 0)
    return DirectoryUser(
        dn=dn,
        username=text("sAMAccountName"),
        sid=sid_to_str(attrs["objectSid"][0]),
        display_name=text("displayName") or text("sAMAccountName"),
        mail=text("mail"),
        upn=text("userPrincipalName"),
        enabled=not (uac & UF_ACCOUNTDISABLE),
        profile_path=text("profilePath"),
        home_directory=text("homeDirectory"),
        given_name=text("givenName"),
        surname=text("sn"),
    )


def _ldap_message(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return " ".join(str(info.get(k, "")) for k in ("desc", "info")).strip() or exc.__class__.__name__
