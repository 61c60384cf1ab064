"""Kerberos for the file server: the service account from its keytab, and a person's own ticket to
``cifs/<server>`` by constrained delegation (S4U2Self + S4U2Proxy), so the server decides every open.

* ``service_credentials_kerberos()``: the service account signs in with Kerberos (its keytab, or its
  password when no keytab is set): works where the file server has NTLM disabled.
* ``delegated(username, server)``: a session that belongs to the person. The service account proves
  who the person is (S4U2Self, protocol transition: the person never typed a password here) and asks
  the KDC for a ticket to the file server as that person (S4U2Proxy, limited to the services in its
  ``msDS-AllowedToDelegateTo``). The KDC refuses accounts marked "sensitive and cannot be delegated"
  and members of Protected Users: ``NotDelegable``, with a message that says so.

Tickets live in in-memory credential caches (``MEMORY:``, never on disk), one per person and file
server, reused until a few minutes before they expire. The process's own ``KRB5_CONFIG`` (the realm's
KDCs, ``forwardable = true``) applies: without a forwardable ticket for the service account S4U2Self
succeeds and S4U2Proxy fails.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass

import gssapi
import gssapi.exceptions
from django.conf import settings

from restore.smb.errors import SmbError
from restore.smb.types import Credentials

log = logging.getLogger(__name__)

RENEW_BEFORE = 300  # seconds: a ticket this close to its end is replaced before use


class KerberosError(SmbError):
    """The service account could not get a Kerberos ticket (keytab, KDC, clock, configuration)."""


class NotDelegable(SmbError):
    """The domain refuses to delegate this person to the file server."""

    def __init__(self, username: str, server: str, detail: str = ""):
        self.username = username
        self.server = server
        super().__init__(
            f"The file server cannot be reached as {username}: the domain does not delegate this account "
            f"(it is marked 'Account is sensitive and cannot be delegated' or is a member of Protected "
            f"Users{'; ' + detail if detail else ''}). Ask an administrator to restore these files, or to "
            f"allow the portal to use its own account for such people (SMB_DELEGATION_FALLBACK).")


def realm() -> str:
    """The Kerberos realm (SMB_REALM, else the UPN suffix in capitals)."""
    value = getattr(settings, "SMB_REALM", "") or getattr(settings, "LDAP_UPN_SUFFIX", "")
    if not value:
        raise KerberosError("Kerberos needs the realm: set SMB_REALM (for example CORP.EXAMPLE.COM).")
    return value.upper()


def principal(username: str) -> str:
    """``alice`` / ``CORP\\alice`` / ``alice@corp.example.com`` -> ``alice@REALM``."""
    name = username.rsplit("\\", 1)[-1]
    if "@" in name:
        user, _, suffix = name.partition("@")
        return f"{user}@{suffix.upper()}"
    return f"{name}@{realm()}"


def spn_host(server: str) -> str:
    """The DNS name in the file server's SPN (``cifs/<name>``): SMB_KERBEROS_HOSTNAMES maps an address
    (or a short name) to it; otherwise the server as configured."""
    names = getattr(settings, "SMB_KERBEROS_HOSTNAMES", {}) or {}
    return names.get(server.lower(), server)


@dataclass
class _Cached:
    ccache: str
    expires: float
    creds: gssapi.Credentials | None = None

    def fresh(self) -> bool:
        return self.expires - time.time() > RENEW_BEFORE


_lock = threading.Lock()
_service: _Cached | None = None
_people: dict[tuple[str, str], _Cached] = {}
_refused: dict[tuple[str, str], tuple[NotDelegable, float]] = {}  # the KDC's "no", asked again after REFUSAL_TTL
REFUSAL_TTL = 300


def _ccache_name(kind: str) -> str:
    return f"MEMORY:vdiprotect-{kind}-{uuid.uuid4().hex}"


def _keytab() -> str:
    keytab = getattr(settings, "SMB_KEYTAB", "")
    if not keytab:
        raise KerberosError("SMB_AUTH=kerberos-delegation needs the service account's keytab: set SMB_KEYTAB.")
    return keytab


def _service_credentials() -> _Cached:
    """The service account's TGT from its keytab, in a memory cache of its own (callers hold _lock)."""
    global _service
    if _service is not None and _service.fresh():
        return _service
    keytab = _keytab()
    name = gssapi.Name(principal(settings.SMB_USERNAME), gssapi.NameType.kerberos_principal)
    ccache = _ccache_name("service")
    try:
        creds = gssapi.Credentials(name=name, usage="both",
                                   store={"client_keytab": keytab, "keytab": keytab, "ccache": ccache})
        lifetime = creds.lifetime
    except gssapi.exceptions.GSSError as exc:
        raise KerberosError(f"The service account {name} could not get a Kerberos ticket from its keytab "
                            f"{keytab}: {_gss_message(exc)}. Check SMB_KEYTAB, SMB_REALM, KRB5_CONFIG and "
                            f"the clock.") from exc
    _service = _Cached(ccache, time.time() + lifetime, creds)
    return _service


def service_credentials_kerberos(base: Credentials) -> Credentials:
    """The service account over Kerberos: its keytab's ticket when SMB_KEYTAB is set, else its password
    (pyspnego asks the KDC itself). Either way with its principal name, which Kerberos needs."""
    name = principal(base.username)
    if getattr(settings, "SMB_KEYTAB", ""):
        with _lock:
            cached = _service_credentials()
        return Credentials(name, "", auth="kerberos", ccache=cached.ccache)
    return Credentials(name, base.password, auth="kerberos")


def delegated(username: str, server: str) -> Credentials:
    """Credentials for a session that the file server sees as ``username`` (S4U2Self + S4U2Proxy).
    NotDelegable when the domain refuses; KerberosError when the service account cannot get tickets."""
    person = principal(username)
    host = spn_host(server)
    key = (person.lower(), host.lower())
    with _lock:
        refused = _refused.get(key)
        if refused is not None and refused[1] > time.time():
            raise refused[0]
        cached = _people.get(key)
        if cached is None or not cached.fresh():
            try:
                cached = _people[key] = _impersonate(person, host, username)
            except NotDelegable as exc:
                _refused[key] = (exc, time.time() + REFUSAL_TTL)
                raise
    return Credentials(person, "", auth="kerberos", ccache=cached.ccache, delegated=True,
                       idle=float(getattr(settings, "SMB_PERSON_SESSION_IDLE", 120)))


def _impersonate(person: str, host: str, username: str) -> _Cached:
    service = _service_credentials()
    target = gssapi.Name(f"cifs@{host}", gssapi.NameType.hostbased_service)
    try:
        creds = service.creds.impersonate(gssapi.Name(person, gssapi.NameType.kerberos_principal),
                                          usage="initiate")  # S4U2Self
    except gssapi.exceptions.GSSError as exc:
        raise KerberosError(f"The KDC did not vouch for {person} to the service account (S4U2Self): "
                            f"{_gss_message(exc)}. Is protocol transition allowed for it "
                            f"('Trust this user for delegation ... Use any authentication protocol')?") from exc
    try:
        # S4U2Proxy now, once per ticket lifetime: a refusal is told here, not as a failed sign-in later.
        gssapi.SecurityContext(name=target, creds=creds, usage="initiate").step()
    except gssapi.exceptions.GSSError as exc:
        message = _gss_message(exc)
        if "fulfill requested option" in message or "BADOPTION" in message.upper():
            raise NotDelegable(username, host, f"cifs/{host}: {message}") from exc
        raise KerberosError(f"The KDC refused a ticket to cifs/{host} for {person} (S4U2Proxy): {message}. "
                            f"Is cifs/{host} in the service account's msDS-AllowedToDelegateTo?") from exc
    ccache = _ccache_name("person")
    creds.store(store={"ccache": ccache}, overwrite=True)
    return _Cached(ccache, time.time() + min(creds.lifetime, service.expires - time.time()), None)


def forget_tickets() -> None:
    """Drop every cached ticket (tests; a keytab rotated underneath)."""
    global _service
    with _lock:
        _service = None
        _people.clear()
        _refused.clear()


def _after_fork_in_child() -> None:
    # Another thread may have held the lock at fork time. Memory caches are copied with the process.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _gss_message(exc: gssapi.exceptions.GSSError) -> str:
    try:
        return exc.gen_message()
    except Exception:  # the message itself is best effort
        return str(exc)
