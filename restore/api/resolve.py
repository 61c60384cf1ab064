"""API v1: which of my roots, and which path below it, a UNC path is (the API side of the pages'
/open?unc= link, restore/web/open.py). Anything outside my roots is 404, whatever exists there."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from restore import smb
from restore.api.files import FileServerUnavailable
from restore.helpdesk.subject import MayUseFiles, subject_of
from restore.versions import roots, unc
from restore.versions.sessions import refusal

UNC = OpenApiParameter("unc", {"type": "string", "maxLength": unc.MAX_UNC}, required=True,
                       description="a UNC path, \\\\server\\share\\folder\\file (or file://server/share/...)")


ResolvedOut = inline_serializer("Resolved", {
    "root": serializers.CharField(help_text="one of my roots"),
    "path": serializers.CharField(help_text="below the root, '/'-separated; empty for the root itself"),
    "kind": serializers.ChoiceField(["file", "folder", "gone"],
                                    help_text="what it is now; gone: not there now (a deleted file's timeline "
                                              "may still hold it)"),
})


class ResolveView(APIView):
    """A UNC path as one of my roots and a path below it (for a helpdesk member acting for someone,
    that person's roots). 404 for anything outside them: another person's folder, a share I have no
    root on, a path that climbs out with '..'."""

    permission_classes = [MayUseFiles]
    api_errors = (404, 502)

    @extend_schema(parameters=[UNC], responses=ResolvedOut, summary="Which of my roots a UNC path is in")
    def get(self, request):
        subject = subject_of(request)
        try:
            found = unc.resolve(subject.roots, request.query_params.get("unc", ""))
            kind = unc.kind_of(subject.token, found)
        except roots.BadRequest as exc:
            raise exceptions.ValidationError({"detail": str(exc)}) from None
        except roots.NotFound:
            raise exceptions.NotFound("Not found.") from None
        except smb.SmbError as exc:
            if refusal(exc) is not None:
                raise  # a refusal: 403 with what was refused (api/exceptions.py)
            raise FileServerUnavailable(str(exc)) from None
        return Response({"root": found.root.id, "path": found.path.replace("\\", "/"), "kind": kind})
