"""REST API v1. Thin: each view authorizes with restore.accounts.permissions and calls a service."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from restore.accounts.permissions import HasPortalRole, identity_of
from restore.api.files import RootOut

MeSerializer = inline_serializer("Me", {
    "username": serializers.CharField(), "display_name": serializers.CharField(), "sid": serializers.CharField(),
    "roles": serializers.ListField(child=serializers.ChoiceField(["user", "helpdesk", "auditor"])),
    "roots": RootOut,
})


class MeView(APIView):
    permission_classes = [HasPortalRole]

    @extend_schema(responses=MeSerializer, summary="Who am I: roles, SID and roots from AD")
    def get(self, request):
        ident = identity_of(request.user)
        return Response({
            "username": ident.username,
            "display_name": ident.display_name,
            "sid": ident.sid,
            "roles": ident.roles,
            "roots": ident.roots,
        })
