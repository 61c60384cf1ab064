"""API errors as {"detail": "..."} with the right status; bad paths are 400 with the reason."""

from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from ..paths import PathError


def exception_handler(exc, context):
    if isinstance(exc, PathError):
        exc = exceptions.ValidationError({"detail": str(exc)})
        response = drf_exception_handler(exc, context)
        response.data = {"detail": str(response.data["detail"][0] if isinstance(response.data["detail"], list)
                                       else response.data["detail"])}
        return response
    return drf_exception_handler(exc, context)
