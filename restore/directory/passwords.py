"""A person's password verified with Kerberos (LDAP_PASSWORD_CHECK=kerberos), for domains where the
person's own LDAP simple bind is refused (a DC with NTLM disabled refuses every simple bind).

The password gets a TGT for ``user@REALM`` from the KDC. A TGT alone proves nothing: whoever answers
on the KDC's address could hand one out for any password. So the TGT is then used for a service
ticket to the portal's own principal (LDAP_PASSWORD_SPN, default the principal of the service
account's keytab), and the portal ACCEPTS that ticket with its keytab: only a KDC that knows the
portal's key can have issued it, and only then is the password good.

``password_is_good(username, password)``: True, or False for every refusal (wrong password, disabled,
expired or locked account, unknown name, a ticket the keytab cannot accept); DirectoryError when the
KDC cannot be reached or the keytab is not configured.
"""

from __future__ import annotations

import logging

import gssapi
import gssapi.exceptions
import gssapi.raw
from django.conf import settings

from restore.directory.ldap import DirectoryError

log = logging.getLogger(__name__)

# MIT Kerberos minor codes (com_err, unsigned) that mean "no KDC answered", not "no".
KDC_UNREACHABLE = {
    2529639068,  # KRB5_KDC_UNREACH: Cannot contact any KDC for realm
    2529639132,  # KRB5_REALM_CANT_RESOLVE: Cannot resolve network address for KDC in realm
    2529639064,  # KRB5_REALM_UNKNOWN: Cannot find KDC for realm
}


def keytab() -> str:
    """The service account's keytab (LDAP_KEYTAB, else SMB_KEYTAB), as for LDAP_AUTH=gssapi."""
    path = getattr(settings, "LDAP_KEYTAB", "") or getattr(settings, "SMB_KEYTAB", "")
    if not path:
        raise DirectoryError("LDAP_PASSWORD_CHECK=kerberos needs the service account's keytab: "
                             "set LDAP_KEYTAB (or SMB_KEYTAB).")
    return path


def person_principal(username: str) -> str:
    """``alice`` -> ``alice@REALM`` (SMB_REALM, else LDAP_UPN_SUFFIX in capitals)."""
    realm = getattr(settings, "SMB_REALM", "") or getattr(settings, "LDAP_UPN_SUFFIX", "")
    if not realm:
        raise DirectoryError("LDAP_PASSWORD_CHECK=kerberos needs the realm: set SMB_REALM or LDAP_UPN_SUFFIX.")
    return f"{username}@{realm.upper()}"


def portal_principal(path: str) -> gssapi.Name:
    """LDAP_PASSWORD_SPN, else the first principal of the keytab (the service account itself)."""
    spn = getattr(settings, "LDAP_PASSWORD_SPN", "")
    if spn:
        return gssapi.Name(spn, gssapi.NameType.kerberos_principal)
    try:
        return gssapi.Credentials(usage="initiate", store={"client_keytab": path,
                                                           "ccache": "MEMORY:vdiprotect-password-name"}).name
    except gssapi.exceptions.GSSError as exc:
        raise DirectoryError(f"cannot read the service account's keytab {path}: {_message(exc)}") from exc


def password_is_good(username: str, password: str) -> bool:
    path = keytab()
    person = person_principal(username)
    try:
        acquired = gssapi.raw.acquire_cred_with_password(
            gssapi.Name(person, gssapi.NameType.kerberos_principal), password.encode(), usage="initiate")
    except gssapi.exceptions.GSSError as exc:
        if exc.min_code in KDC_UNREACHABLE:
            raise DirectoryError(f"the Kerberos KDC cannot be reached for {person}: {_message(exc)}") from exc
        log.info("Kerberos refused the password of %s: %s", person, _message(exc))
        return False
    target = portal_principal(path)
    try:
        initiator = gssapi.SecurityContext(name=target, creds=gssapi.Credentials(acquired.creds), usage="initiate")
        token = initiator.step()
        acceptor = gssapi.SecurityContext(creds=gssapi.Credentials(usage="accept", store={"keytab": path}),
                                          usage="accept")
        acceptor.step(token)
        accepted = acceptor.complete and str(acceptor.initiator_name).lower() == person.lower()
    except gssapi.exceptions.GSSError as exc:
        log.error("password of %s NOT accepted: the ticket to %s from the KDC could not be accepted with the "
                  "keytab %s (%s); a KDC that does not know the portal's key, or LDAP_PASSWORD_SPN/keytab "
                  "mismatch", person, target, path, _message(exc))
        return False
    if not accepted:
        log.error("password of %s NOT accepted: the ticket to %s named someone else", person, target)
    return accepted


def _message(exc: gssapi.exceptions.GSSError) -> str:
    try:
        return exc.gen_message()
    except Exception:  # the message itself is best effort
        return str(exc)
