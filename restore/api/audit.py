"""API v1: the audit trail for auditors: filtered pages, and a streamed CSV or JSON export.

The export reads the trail with a database cursor and writes row by row (constant memory,
whatever its size); it covers the trail as it was when the export began, and is itself audited.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from restore.accounts.permissions import IsAuditor
from restore.audit import trail as audit
from restore.audit.query import ACTIONS, MAX_PAGE_SIZE, RESULTS, AuditQuery
from restore.audit.trail import Action, Result
from restore.models import AuditEvent, Role

COLUMNS = ("id", "at", "actor", "actor_sid", "acting_for", "acting_for_sid", "role", "source_ip", "request_id",
           "action", "root", "path", "snapshot", "result", "details", "prev_hash", "hash")
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheets would run these as formulas

FILTER_PARAMS = [
    OpenApiParameter("person", str, description="who acted (user name, exact)"),
    OpenApiParameter("acting_for", str, description="whom a helpdesk member acted for (user name, exact)"),
    OpenApiParameter("action", str, enum=ACTIONS),
    OpenApiParameter("result", str, enum=RESULTS),
    OpenApiParameter("path", str, description="part of a path (case-insensitive)"),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="at or after (ISO 8601; UTC unless given)"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="before (ISO 8601; UTC unless given)"),
]
EVENT_FIELDS = {
    "id": serializers.IntegerField(), "at": serializers.DateTimeField(), "actor": serializers.CharField(),
    "actor_sid": serializers.CharField(), "acting_for": serializers.CharField(),
    "acting_for_sid": serializers.CharField(), "role": serializers.CharField(),
    "source_ip": serializers.IPAddressField(allow_null=True), "request_id": serializers.CharField(),
    "action": serializers.CharField(), "root": serializers.CharField(), "path": serializers.CharField(),
    "snapshot": serializers.CharField(), "result": serializers.CharField(), "details": serializers.DictField(),
    "prev_hash": serializers.CharField(), "hash": serializers.CharField(),
}

EventOut = inline_serializer("AuditEvent", EVENT_FIELDS)


def event_json(event: AuditEvent) -> dict:
    return {
        "id": event.id, "at": event.at.isoformat().replace("+00:00", "Z"), "actor": event.actor_username,
        "actor_sid": event.actor_sid, "acting_for": event.acting_for_username,
        "acting_for_sid": event.acting_for_sid, "role": event.role, "source_ip": event.source_ip,
        "request_id": event.request_id, "action": event.action, "root": event.root, "path": event.path,
        "snapshot": event.snapshot, "result": event.result, "details": event.details,
        "prev_hash": event.prev_hash, "hash": event.hash,
    }


def valid_query(request) -> AuditQuery:
    query = AuditQuery(request.query_params)
    if not query.is_valid():
        raise exceptions.ValidationError({"detail": query.errors_text()})
    return query


class AuditView(APIView):
    permission_classes = [IsAuditor]

    @extend_schema(
        parameters=FILTER_PARAMS + [
            OpenApiParameter("before", {"type": "integer", "minimum": 1},
                             description="records older than this id (the 'next' link sets it)"),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                             description=f"page size, at most {MAX_PAGE_SIZE}"),
        ],
        responses=inline_serializer("AuditPage", {"results": EventOut.__class__(many=True),
                                                  "next": serializers.URLField(allow_null=True)}),
        summary="Auditors: the audit trail, newest first, filtered and paginated",
    )
    def get(self, request):
        query = valid_query(request)
        events, next_before = query.page()
        params = request.query_params.copy()
        params["before"] = next_before
        next_url = request.build_absolute_uri(request.path + "?" + params.urlencode()) if next_before else None
        return Response({"results": [event_json(e) for e in events], "next": next_url})


class _Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed one by one."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value) -> str:
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_START) else text


def csv_lines(events):
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for event in events:
        row = event_json(event)
        yield writer.writerow([csv_cell(row[c]) for c in COLUMNS])


def json_lines(events):
    yield "[\n"
    separator = ""
    for event in events:
        yield separator + json.dumps(event_json(event), cls=DjangoJSONEncoder, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


class AuditExportView(APIView):
    permission_classes = [IsAuditor]
    FORMATS = {"csv": ("text/csv; charset=utf-8", csv_lines), "json": ("application/json", json_lines)}

    def perform_content_negotiation(self, request, force=False):
        # ``format`` names the export's file format here, not one of DRF's renderers.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=FILTER_PARAMS + [OpenApiParameter("format", str, enum=["csv", "json"], required=True)],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/json"): EventOut.__class__(many=True)},
        summary="Auditors: export the filtered trail (streamed CSV or JSON, oldest first)",
    )
    def get(self, request):
        kind = request.query_params.get("format", "")
        if kind not in self.FORMATS:
            raise exceptions.ValidationError({"detail": _("format must be csv or json.")})
        query = valid_query(request)
        last_id = AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0
        events = query.events().filter(id__lte=last_id).order_by("id")
        audit.record(audit.Context.from_request(request, role=Role.AUDITOR), Action.AUDIT_EXPORT, Result.OK,
                     details={"format": kind, "up_to_id": last_id,
                              "filters": {k: v for k, v in request.query_params.items() if k != "format"}})
        content_type, lines = self.FORMATS[kind]
        response = StreamingHttpResponse(lines(events.iterator(chunk_size=1000)), content_type=content_type)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = content_disposition_header(True, f"vdiprotect-audit-{stamp}.{kind}")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
