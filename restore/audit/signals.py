"""Sign-in events become audit records (success, failure with its reason, lockout; HTTP Basic once per
person per client per hour)."""

import hashlib
import logging

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver

from restore.audit import trail as audit
from restore.audit.trail import Action, Result

log = logging.getLogger(__name__)
BASIC_SIGN_IN_AUDIT_SECONDS = 3600


def _typed_name(credentials) -> str:
    return str((credentials or {}).get("username", ""))[:256]


@receiver(user_logged_in)
def signed_in(sender, request, user, **kwargs):
    _record_sign_in(audit.Context.from_request(request), user, {"via": request.path})


def basic_signed_in(request, user) -> None:
    """A successful HTTP Basic request: every request signs in again, so it is recorded once per
    person per client (address and User-Agent) per BASIC_SIGN_IN_AUDIT_SECONDS, not per request."""
    context = audit.Context(**{**audit.Context.from_request(request).__dict__, "actor": user})
    agent = request.headers.get("User-Agent", "")[:200]
    client = hashlib.sha256(f"{context.source_ip}|{agent}".encode()).hexdigest()[:32]
    try:
        first = cache.add(f"basic-sign-in:{user.pk}:{client}", 1, BASIC_SIGN_IN_AUDIT_SECONDS)
    except Exception:  # the cache is down: record it every time rather than lose it
        log.warning("cache unavailable; HTTP Basic sign-in of %s recorded without de-duplication", user)
        first = True
    if first:
        _record_sign_in(context, user, {"via": "http-basic", "path": request.path, "user_agent": agent})


def _record_sign_in(context: audit.Context, user, details: dict) -> None:
    identity = getattr(user, "identity", None)
    audit.record(context, Action.SIGN_IN, Result.OK,
                 details={"roles": identity.roles if identity else ["local-admin"], **details})


@receiver(user_logged_out)
def signed_out(sender, request, user, **kwargs):
    if user is not None:
        context = audit.Context.from_request(request)
        audit.record(audit.Context(**{**context.__dict__, "actor": user}), Action.SIGN_OUT, Result.OK)


@receiver(user_login_failed)
def sign_in_failed(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    failure = getattr(request, "signin_failure", None) or {"reason": "refused"}
    if getattr(request, "axes_locked_out", False):
        return  # recorded once, by locked_out below
    audit.record(
        audit.Context.from_request(request),
        Action.SIGN_IN,
        Result.INVALID if failure["reason"] == "invalid user name" else Result.FAILED,
        actor_username=_typed_name(credentials),
        details={"reason": failure["reason"], "via": request.path},
    )


@receiver(user_locked_out)
def locked_out(sender, request, username=None, ip_address=None, **kwargs):
    audit.record(
        audit.Context.from_request(request),
        Action.SIGN_IN,
        Result.LOCKED,
        actor_username=str(username or "")[:256],
        details={"reason": "too many failed sign-ins", "ip": ip_address, "via": request.path},
    )
