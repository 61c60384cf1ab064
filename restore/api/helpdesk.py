"""API v1: helpdesk members find users and act for them (restore/helpdesk/people.py).

Session clients (the pages' own scripts) keep acting-for in the session, as the pages do.
HTTP Basic clients have no session: ``POST /api/v1/helpdesk/act-for`` answers the acting-for's
``id``; send it as ``X-Act-For: <id>`` with each request that should run as that user, and
``DELETE /api/v1/helpdesk/act-for`` with the same header to stop.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from restore.accounts.permissions import IsHelpdesk
from restore.audit import trail as audit
from restore.helpdesk import acting as acting_
from restore.helpdesk import people as helpdesk
from restore.models import ActingFor, Role

CandidateOut = inline_serializer("HelpdeskCandidate", {
    "username": serializers.CharField(), "display_name": serializers.CharField(), "mail": serializers.CharField(),
    "enabled": serializers.BooleanField(), "may_act_for": serializers.BooleanField(),
    "refusal": serializers.CharField(help_text="why this member may not act for the person; empty when they may"),
}, many=True)
ActingForOut = inline_serializer("ActingFor", {
    "id": serializers.UUIDField(help_text="send as X-Act-For (HTTP Basic clients)"),
    "username": serializers.CharField(), "display_name": serializers.CharField(),
    "ticket": serializers.CharField(), "reason": serializers.CharField(),
    "content_blind": serializers.BooleanField(), "via": serializers.ChoiceField(["session", "header"]),
    "started_at": serializers.DateTimeField(), "expires_at": serializers.DateTimeField(),
})
ActForIn = inline_serializer("ActForRequest", {
    "username": serializers.CharField(), "ticket": serializers.CharField(max_length=helpdesk.MAX_TICKET),
    "reason": serializers.CharField(max_length=helpdesk.MAX_REASON),
})
ACT_FOR_HEADER = OpenApiParameter(acting_.HEADER, str, OpenApiParameter.HEADER, required=False,
                                  description="an acting-for id (HTTP Basic clients; session clients need none)")


def api_error(exc: helpdesk.HelpdeskError) -> exceptions.APIException:
    error = exceptions.APIException(str(exc))
    error.status_code = exc.status
    return error


def acting_json(acting: ActingFor) -> dict:
    target = getattr(acting.target, "identity", None) if acting.target is not None else None
    return {
        "id": str(acting.id), "username": acting.target_username,
        "display_name": target.display_name if target else acting.target_username,
        "ticket": acting.ticket, "reason": acting.reason,
        "content_blind": acting.content_blind or settings.HELPDESK_CONTENT_BLIND, "via": acting.via,
        "started_at": acting.started_at,
        "expires_at": acting.started_at + timedelta(seconds=settings.HELPDESK_ACT_FOR_SECONDS),
    }


class HelpdeskUsersView(APIView):
    permission_classes = [IsHelpdesk]
    api_errors = (helpdesk.Unavailable.status,)

    @extend_schema(parameters=[OpenApiParameter("q", {"type": "string", "minLength": helpdesk.MIN_QUERY,
                                                      "maxLength": helpdesk.MAX_QUERY}, required=True,
                                                description="start of a name, user name or mail address")],
                   responses=CandidateOut, summary="Helpdesk: find users, and whether I may act for each")
    def get(self, request):
        try:
            found = helpdesk.find(request.user.identity, request.query_params.get("q", ""))
        except helpdesk.HelpdeskError as exc:
            raise api_error(exc) from None
        return Response([c.as_dict() for c in found])


class ActForView(APIView):
    permission_classes = [IsHelpdesk]
    api_errors = (helpdesk.NoSuchUser.status, helpdesk.Unavailable.status)

    @extend_schema(parameters=[ACT_FOR_HEADER], responses=inline_serializer("ActingForState", {
        "acting_for": ActingForOut.__class__(allow_null=True)}), summary="Helpdesk: whom I act for now (null: nobody)")
    def get(self, request):
        resolution = acting_.resolve(request)
        return Response({"acting_for": acting_json(resolution.acting) if resolution.acting else None})

    @extend_schema(request=ActForIn, responses={201: ActingForOut},
                   summary="Helpdesk: start acting for a user (ticket and reason required)")
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        in_session = isinstance(request.successful_authenticator, SessionAuthentication)
        try:
            acting = acting_.start(
                actor=request.user, username=data.get("username"), ticket=data.get("ticket"),
                reason=data.get("reason"), via="session" if in_session else "header",
                context=audit.Context.from_request(request, role=Role.HELPDESK),
            )
        except helpdesk.HelpdeskError as exc:
            raise api_error(exc) from None
        if in_session:
            acting_.remember(request, acting)
        return Response(acting_json(acting), status=201)

    @extend_schema(parameters=[ACT_FOR_HEADER], responses={204: None},
                   summary="Helpdesk: stop acting for the user (nothing to stop: 204 too)")
    def delete(self, request):
        resolution = acting_.resolve(request)
        if resolution.acting is not None:
            acting_.end(resolution.acting, context=audit.Context.from_request(request, role=Role.HELPDESK),
                         why="stopped")
        if resolution.from_session:
            acting_.forget(request)
        return Response(status=204)
