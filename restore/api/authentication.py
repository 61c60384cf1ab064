"""API authentication: the session (with CSRF) and HTTP Basic with AD credentials."""

from django.conf import settings
from django.contrib.auth import authenticate

from ..auth_backends import check_sign_in_name
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions


class ADBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic checked against AD through the same backends, lockout and audit as the page.
    Turned off with API_BASIC_AUTH=false."""

    www_authenticate_realm = "vdiprotect"

    def authenticate(self, request):
        if not settings.API_BASIC_AUTH:
            return None
        return super().authenticate(request)

    def authenticate_credentials(self, userid, password, request=None):
        # The backends, axes and the audit signal get Django's HttpRequest: reading ``user`` on
        # DRF's Request from inside authentication would start authentication again.
        request = getattr(request, "_request", request)
        if check_sign_in_name(request, userid) is None:
            raise exceptions.AuthenticationFailed(request.signin_failure["message"])
        user = authenticate(request=request, username=userid, password=password)
        if user is None:
            failure = getattr(request, "signin_failure", None) if request is not None else None
            raise exceptions.AuthenticationFailed(failure["message"] if failure else "Invalid user name or password.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (user, None)

    def authenticate_header(self, request):
        return super().authenticate_header(request) if settings.API_BASIC_AUTH else None


class ADBasicScheme(OpenApiAuthenticationExtension):
    target_class = ADBasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "Active Directory user name and password"}
