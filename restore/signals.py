"""Sign-in events become audit records (success, failure with its reason, lockout)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import audit
from .audit import Action, Result


def _typed_name(credentials) -> str:
    return str((credentials or {}).get("username", ""))[:256]


@receiver(user_logged_in)
def signed_in(sender, request, user, **kwargs):
    identity = getattr(user, "identity", None)
    audit.record(
        audit.Context.from_request(request),
        Action.SIGN_IN,
        Result.OK,
        details={"roles": identity.roles if identity else ["local-admin"], "via": request.path},
    )


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
