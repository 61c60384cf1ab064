"""The OpenAPI schema's error answers: every operation documents the refusals it can give, in the
API's one error format (restore/api/exceptions.py), so clients and the contract test
(tests/integration/api/test_contract.py) can rely on the status codes.

Which ones, from what the view is:
- 401 (no or wrong credentials), 403 (the permission layer refuses) and 429 (throttled) always;
- 400 when the operation takes query or header parameters or a body;
- 404 when it has path parameters (an unknown root, job or source);
- whatever the view class lists in ``api_errors`` (file views: 404 for a missing path or snapshot,
  502 when the file server does not answer).
An ``@extend_schema(responses=...)`` that documents a code itself wins.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class Problem(serializers.Serializer):
    detail = serializers.CharField(help_text="what went wrong, in words a person can act on")
    problems = serializers.ListField(child=serializers.CharField(), required=False,
                                     help_text="a refused restore: each reason")


WHY = {
    400: "The request is malformed or names something invalid; nothing was changed.",
    401: "No credentials, or wrong ones (HTTP Basic with AD credentials, or a session).",
    403: "The permission layer refuses this person, role or acting-for, or a change sent with HTTP Basic "
         "credentials came from another web site.",
    404: "No such thing, or not one this person may see.",
    409: "The resource is in a state that does not allow this.",
    429: "Too many requests (API_THROTTLE_RATE) or too many restores at once; Retry-After says when "
         "to try again when throttled.",
    502: "The file server did not answer; try again shortly.",
    503: "Active Directory cannot be reached; try again shortly.",
}
RESPONSE_HEADERS = [
    OpenApiParameter("WWW-Authenticate", str, OpenApiParameter.HEADER, response=[401],
                     description="the HTTP Basic challenge; a browser (Sec-Fetch-*, Origin or Accept: "
                                 "text/html) gets `Session` instead, so it never asks for and caches AD credentials"),
    OpenApiParameter("Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429],
                     description="seconds to wait (throttling)"),
]


class AutoSchema(SpectacularAutoSchema):
    def get_override_parameters(self):
        return [*super().get_override_parameters(), *RESPONSE_HEADERS]

    def error_statuses(self) -> set[int]:
        codes = {401, 403, 429, *getattr(self.view, "api_errors", ())}
        has_path = "{" in self.path
        has_input = has_path or self._get_request_body() is not None or any(
            p["in"] in ("query", "header") for p in self._get_parameters())
        if has_input:
            codes.add(400)
        if has_path:
            codes.add(404)
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in sorted(self.error_statuses()):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    OpenApiResponse(Problem, description=WHY[code]), str(code), direction=direction)
        return responses
