"""Whose file-server session reads and writes for a person: the one place that decides it.

With SMB_AUTH=kerberos-delegation the session is the person's own (``Token.account``, the
sAMAccountName AD gave us at sign-in or at the job's start, never anything from the request): the
file server decides every open, and its refusal is final. For a helpdesk member acting for someone
the token is the acted-for person's, so the session is theirs too. With SMB_AUTH=service-account
(or no token) it is the service account's, and the portal's access check decides.

A person the domain will not delegate (sensitive account, Protected Users) gets ``smb.NotDelegable``
unless SMB_DELEGATION_FALLBACK=service-account: then the service account reads for them with the
portal's check, and that is audited (``delegation_fallback``): once per job for a restore, else once
per person and server every SMB_PERSON_SESSION_IDLE seconds.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from restore import smb
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.nt.access import Token

log = logging.getLogger(__name__)


def server_client(server: str, token: Token | None, context: audit.Context | None = None) -> smb.Client:
    """The SMB client for ``server`` on behalf of ``token``'s person (see the module's docstring).
    ``context`` (a restore job's) attributes a fallback's audit record to that job."""
    account = token.account if token is not None else ""
    return smb.client_for_person(server, account,
                                 on_fallback=lambda refused: _audit_fallback(account, server, refused, context))


def _audit_fallback(account: str, server: str, refused: smb.NotDelegable, context: audit.Context | None) -> None:
    key = f"delegation-fallback:{account}:{server}:{context.request_id if context else ''}".lower()
    if not cache.add(key, 1, timeout=max(1, int(getattr(settings, "SMB_PERSON_SESSION_IDLE", 120)))):
        return  # already recorded for this job, or for this person recently
    audit.record(context or audit.Context(), Action.DELEGATION_FALLBACK, Result.OK, actor_username=account,
                 details={"server": server, "person": account, "read_as": "service account",
                          "decided_by": "the portal's access check", "reason": str(refused)})


def refusal(exc: BaseException) -> str | None:
    """What to tell a person the file server (or the domain) refused them, for a 403 on a page or in
    the API; None for any other failure. The server's refusal is final: the portal does not retry
    it as someone else."""
    if isinstance(exc, smb.NotDelegable):
        return str(exc)
    if isinstance(exc, smb.AccessDenied):
        return (f"The file server refused this ({exc}). It decides with your own permissions there; "
                f"ask the folder's owner or the helpdesk if you need it.")
    return None
