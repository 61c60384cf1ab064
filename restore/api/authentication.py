"""API authentication: the session (with CSRF) and HTTP Basic with AD credentials.

HTTP Basic has no CSRF token, and a browser that once answered a Basic challenge sends the cached
credentials with every request to the portal, also from another site's form. So:

- an unsafe Basic request (POST, PUT, PATCH, DELETE) is refused (403) when the browser says it
  comes from another site: ``Sec-Fetch-Site`` other than ``same-origin``/``none``, or an
  ``Origin`` that is neither the portal's own nor in CSRF_TRUSTED_ORIGINS. Scripts and tools send
  neither header and are not affected;
- a browser is never sent ``WWW-Authenticate: Basic`` (which would make it ask for and cache AD
  credentials): a request that carries any ``Sec-Fetch-*`` header, an ``Origin`` or asks for
  ``text/html`` gets ``WWW-Authenticate: Session`` with its 401 (sign in at /signin/ instead).
"""

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.http import is_same_domain
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from restore.accounts.backends import check_sign_in_name
from restore.audit.signals import basic_signed_in

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
SAME_SITE_VALUES = ("same-origin", "none")  # Sec-Fetch-Site: the portal's own page, or typed/bookmarked
BROWSER_CHALLENGE = 'Session realm="vdiprotect"'


def is_browser(request) -> bool:
    """Whether the request comes from a web browser (which would show a Basic dialog and cache what
    is typed into it). Browsers send Sec-Fetch-* (to https and localhost) and Origin on scripted
    requests, and navigations ask for text/html; curl, PowerShell and API libraries do none of this."""
    headers = request.headers
    return (any(name.lower().startswith("sec-fetch-") for name in headers) or "Origin" in headers
            or "text/html" in headers.get("Accept", ""))


def cross_site_refusal(request) -> str:
    """Why an unsafe request must not be served on HTTP Basic credentials, or '' when it may."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.lower() not in SAME_SITE_VALUES:
        return gettext("This request was sent by another web site (Sec-Fetch-Site: %(site)s); the portal does "
                       "not accept changes sent with HTTP Basic credentials from other sites. Use the portal's "
                       "pages, or call the API from a script.") % {"site": site[:40]}
    origin = request.headers.get("Origin")
    if origin is not None and not _origin_trusted(request, origin):
        return gettext("This request was sent from %(origin)s, which is not the portal (nor in "
                       "CSRF_TRUSTED_ORIGINS); the portal does not accept changes sent with HTTP Basic "
                       "credentials from other sites. Use the portal's pages, or call the API from a "
                       "script.") % {"origin": origin[:100]}
    return ""


def _origin_trusted(request, origin: str) -> bool:
    if origin == f"{request.scheme}://{request.get_host()}":
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        scheme, _, host = trusted.partition("://")
        if origin == trusted or ("*" in host and origin.startswith(scheme + "://")
                                 and is_same_domain(origin.partition("://")[2], host.replace("*", "", 1))):
            return True
    return False  # "null" (a sandboxed frame, a file, a redirect) included


class ADBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic checked against AD through the same backends, lockout and audit as the page.
    Turned off with API_BASIC_AUTH=false."""

    www_authenticate_realm = "vdiprotect"

    def authenticate(self, request):
        if not settings.API_BASIC_AUTH:
            return None
        auth = authentication.get_authorization_header(request).split()
        if auth and auth[0].lower() == b"basic" and request.method not in SAFE_METHODS:
            refusal = cross_site_refusal(request._request)
            if refusal:  # refused before the credentials are tried: no bind, no lockout count
                raise exceptions.PermissionDenied(refusal)
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
            raise exceptions.AuthenticationFailed(failure["message"] if failure
                                                  else gettext("Invalid user name or password."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(gettext("User inactive or deleted."))
        basic_signed_in(request, user)
        return (user, None)

    def authenticate_header(self, request):
        if not settings.API_BASIC_AUTH:
            return None
        return BROWSER_CHALLENGE if is_browser(request) else super().authenticate_header(request)


class ADBasicScheme(OpenApiAuthenticationExtension):
    target_class = ADBasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "Active Directory user name and password"}
