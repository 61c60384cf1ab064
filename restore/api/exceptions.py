"""The API's one error format: {"detail": "what went wrong"} with the right status (a refused
restore adds "problems"). Bad paths are 400 with the reason. The schema documents this format
for every operation's refusals (restore/api/schema.py). `detail` and `problems` are in the
language of the request (Accept-Language; restore/restores/messages.py translates the services'
messages, DRF's and Django's catalogs their own)."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from restore.restores.messages import translated
from restore.versions.paths import PathError
from restore.versions.sessions import refusal


def exception_handler(exc, context):
    if isinstance(exc, PathError):
        exc = exceptions.ValidationError(str(exc))
    elif refusal(exc) is not None:  # the file server refused the person, or the domain would not delegate them
        exc = exceptions.PermissionDenied(refusal(exc))
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = problem(response.data)
        response.data["detail"] = translated(response.data["detail"])
        if isinstance(response.data.get("problems"), list):
            response.data["problems"] = [translated(p) for p in response.data["problems"]]
    return response


def problem(data) -> dict:
    """DRF's error bodies ({"field": ["message"]}, ["message"], {"detail": "message"}) as one sentence in detail."""
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data
    return {"detail": _text(data)}


def _text(data) -> str:
    if isinstance(data, dict):
        return "; ".join(_text(value) if key in ("detail", "non_field_errors") else f"{key}: {_text(value)}"
                         for key, value in data.items())
    if isinstance(data, list):
        return " ".join(_text(value) for value in data)
    return translated(data)  # each message on its own: {"against": "..."} reads "against: <translated>"


def not_found(request, exception):
    """Django's 404 for a URL no route matches (e.g. /api/v1/restores/not-a-uuid): in the API's
    format under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)
