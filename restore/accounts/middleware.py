"""Request id for the audit trail; the pages' Content-Security-Policy; times written in UTC;
periodic re-reading of the person's token and roles from AD."""

import re
import uuid
from datetime import UTC

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils import timezone

from restore.accounts import identity
from restore.audit import trail as audit

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from the proxy or makes one; echoes it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class ContentSecurityPolicyMiddleware:
    """CONTENT_SECURITY_POLICY on every response that does not set its own (empty: none)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response


class UtcPagesMiddleware:
    """Pages and API answers write times in UTC whatever TIME_ZONE is (TIME_ZONE names restored
    folders); the browser shows them in the person's own zone (static/restore/portal.js)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with timezone.override(UTC):
            return self.get_response(request)


class IdentityRefreshMiddleware:
    """A change in AD (disabled account, group removed) reaches a long session within
    IDENTITY_REFRESH_SECONDS: the token and roles are re-read; a person AD no longer
    knows, or disables, is signed out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        ident = getattr(user, "identity", None) if user is not None and user.is_authenticated else None
        refreshed, view = identity.refresh_if_due(ident) if ident is not None else (False, None)
        if refreshed and (view is None or not view.roles):
            audit.record(audit.Context.from_request(request), audit.Action.SIGN_OUT, audit.Result.DENIED,
                         details={"reason": "account disabled, removed or no longer a portal user"})
            logout(request)
            return redirect("login")
        return self.get_response(request)
