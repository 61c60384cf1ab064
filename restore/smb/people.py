"""Whose session a request's file-server calls use: with SMB_AUTH=kerberos-delegation the person's own
(the file server decides every open, and its refusal is final), otherwise the service account's (the
portal's access check decides).

A person the domain will not delegate (sensitive account, Protected Users) gets ``NotDelegable``, which
says why, unless SMB_DELEGATION_FALLBACK=service-account: then the service account reads for them,
the portal's check decides, and ``on_fallback`` is told (callers audit it as such).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings

from restore.smb import kerberos
from restore.smb.client import Client, client_for

log = logging.getLogger(__name__)


def delegating() -> bool:
    """Whether sessions belong to the people (SMB_AUTH=kerberos-delegation)."""
    return getattr(settings, "SMB_AUTH", "service-account") == "kerberos-delegation"


def client_for_person(server: str, username: str, *,
                      on_fallback: Callable[[kerberos.NotDelegable], None] | None = None) -> Client:
    """A client for ``server`` whose session is ``username``'s (delegation), or the service account's."""
    if not delegating() or not username:
        return client_for(server)
    try:
        return client_for(server, kerberos.delegated(username, server))
    except kerberos.NotDelegable as refused:
        if getattr(settings, "SMB_DELEGATION_FALLBACK", "refuse") != "service-account":
            raise
        log.warning("%s is not delegable; reading as the service account (SMB_DELEGATION_FALLBACK)", username)
        if on_fallback is not None:
            on_fallback(refused)
        return client_for(server)
