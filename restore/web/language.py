"""The language of a person's pages and emails.

Django's LocaleMiddleware picks the language of a request: the switcher's cookie on this browser,
else the browser's Accept-Language, else LANGUAGE_CODE. On top of that, for a signed-in person:

- a language chosen with the switcher is kept on their Identity (``language_chosen``), so it
  follows them to a browser that never saw the switcher (their phone);
- otherwise the language their browser asks for is kept, so the email that says how a restore
  ended (written by a worker, with no browser to ask) is in the language of their pages.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from restore.models import Identity


def _supported(code: str | None) -> str:
    """``code`` when it is one of LANGUAGES, else ''."""
    return code if code and code in dict(settings.LANGUAGES) else ""


def _identity(request):
    user = getattr(request, "user", None)
    return getattr(user, "identity", None) if user is not None and user.is_authenticated else None


class PersonLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ident = _identity(request)
        chosen_here = _supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        if ident is not None and not chosen_here and ident.language_chosen and _supported(ident.language):
            translation.activate(ident.language)  # chosen on another browser
            request.LANGUAGE_CODE = ident.language
        response = self.get_response(request)
        ident = _identity(request)  # after the view: a sign-in has just made the person known
        if ident is not None:
            if chosen_here:
                language, chosen = chosen_here, True
            elif ident.language_chosen and _supported(ident.language):
                language, chosen = ident.language, True
            else:
                language, chosen = _supported(request.LANGUAGE_CODE) or settings.LANGUAGE_CODE, False
            if (ident.language, ident.language_chosen) != (language, chosen):
                Identity.objects.filter(pk=ident.pk).update(language=language, language_chosen=chosen)
                ident.language, ident.language_chosen = language, chosen
        return response


@require_POST
def choose(request):
    """The switcher: Django's set_language (the cookie, back to ``next``), and the choice kept on the
    person's Identity so their other browsers and their emails follow it. An unknown language
    changes nothing."""
    response = set_language(request)
    language = _supported(request.POST.get("language"))
    ident = _identity(request)
    if language and ident is not None:
        Identity.objects.filter(pk=ident.pk).update(language=language, language_chosen=True)
    return response

