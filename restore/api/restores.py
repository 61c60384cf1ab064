"""API v1: restores — dry run, start, read, cancel, download (restore/jobs.py does the work)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from .. import jobs, zipdownload
from ..models import JobState, Mode
from ..permissions import audit_context, require_content, subject_of
from .files import FileView

ItemIn = inline_serializer("RestoreItemIn", {"root": serializers.CharField(), "path": serializers.CharField(),
                                             "at": serializers.CharField(help_text="snapshot id or ISO UTC time")})
RestoreIn = inline_serializer("RestoreRequest", {
    "items": ItemIn.__class__(many=True),
    "mode": serializers.ChoiceField(Mode.values, default=Mode.ALONGSIDE),
    "conflict": serializers.ChoiceField(["rename", "skip", "overwrite"], default="rename"),
    "target": inline_serializer("RestoreTarget", {"root": serializers.CharField(), "path": serializers.CharField()},
                                required=False),
    "related": serializers.BooleanField(default=True, help_text="bring the related files (restore/related.py)"),
    "exclude_related": serializers.ListField(child=serializers.CharField(), required=False,
                                             help_text="keys of related items to leave out, as GET .../related lists them"),
    "dry_run": serializers.BooleanField(default=False, help_text="answer what would be written where; write nothing"),
})
ItemOut = {"seq": serializers.IntegerField(), "kind": serializers.CharField(), "origin": serializers.CharField(),
           "reason": serializers.CharField(), "source": serializers.DictField(), "target": serializers.DictField(),
           "kept_as": serializers.CharField(allow_null=True), "phase": serializers.CharField(),
           "verified": serializers.BooleanField(), "size": serializers.IntegerField(),
           "sha256_source": serializers.CharField(), "sha256_target": serializers.CharField(),
           "streams": serializers.ListField(child=serializers.DictField()), "note": serializers.CharField()}
JobFields = {"id": serializers.UUIDField(), "state": serializers.CharField(), "mode": serializers.CharField(),
             "conflict": serializers.CharField(), "owner": serializers.CharField(),
             "requested_by": serializers.CharField(), "ticket": serializers.CharField(),
             "created_at": serializers.DateTimeField(), "finished_at": serializers.DateTimeField(allow_null=True),
             "progress": serializers.DictField(), "error": serializers.CharField(),
             "download_url": serializers.CharField(allow_null=True)}
JobOut = inline_serializer("RestoreJob", {**JobFields, "items": inline_serializer("RestoreItem", ItemOut, many=True)})
JobListOut = inline_serializer("RestoreJobSummary", JobFields, many=True)
PlanOut = inline_serializer("RestorePlan", {"mode": serializers.CharField(), "files": serializers.IntegerField(),
                                            "bytes": serializers.IntegerField(),
                                            "items": serializers.ListField(child=serializers.DictField()),
                                            "untouched": serializers.ListField(child=serializers.CharField()),
                                            "hidden": serializers.IntegerField(),
                                            "problems": serializers.ListField(child=serializers.CharField()),
                                            "would_start": serializers.BooleanField()})


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def job_json(job, request=None, items: bool = True) -> dict:
    data = {"id": str(job.id), "state": job.state, "mode": job.mode, "conflict": job.conflict,
            "owner": job.owner_username, "requested_by": job.requested_by_username, "ticket": job.ticket,
            "created_at": _iso(job.created_at), "finished_at": _iso(job.finished_at),
            "progress": {"files_done": job.files_done, "files_total": job.files_total, "bytes_done": job.bytes_done,
                         "bytes_total": job.bytes_total, "percent": job.percent},
            "error": job.error,
            "download_url": reverse("api:restore-download", args=[job.id]) if job.mode == Mode.DOWNLOAD else None}
    if items:
        data["items"] = [{
            "seq": i.seq, "kind": i.kind, "origin": i.origin, "reason": i.reason,
            "source": {"root": i.root, "path": i.path.replace("\\", "/"), "at": i.at},
            "target": {"root": i.target_root, "path": i.target_path.replace("\\", "/")} if i.target_root else {},
            "kept_as": i.keep_path.replace("\\", "/") if i.keep_path and i.keep_path != "?" else None,
            "phase": i.phase, "verified": i.verified, "size": i.size, "sha256_source": i.sha256_source,
            "sha256_target": i.sha256_target, "streams": i.streams, "note": i.note,
        } for i in job.items.order_by("seq")]
    return data


class RestoreStartThrottle(UserRateThrottle):
    scope = "restore"
    rate = "30/min"


class RestoresView(FileView):
    api_errors = (404, 502)  # an item's root or snapshot unknown; the file server did not answer
    parser_classes = [JSONParser]  # items are a list of objects: JSON only
    def get_throttles(self):
        return [*super().get_throttles(), RestoreStartThrottle()] if self.request.method == "POST" else \
            super().get_throttles()

    @extend_schema(responses=JobListOut, summary="My restores, newest first")
    def get(self, request):
        subject_of(request)
        return Response([job_json(j, items=False) for j in jobs.jobs_visible_to(request.user)[:100]])

    @extend_schema(request=RestoreIn, responses={200: PlanOut, 201: JobOut}, summary="Restore (or dry-run)")
    def post(self, request):
        subject = subject_of(request)
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise exceptions.ValidationError({"detail": "send a JSON object"})
        dry = data.get("dry_run", False)
        if not isinstance(dry, bool):
            raise exceptions.ValidationError({"detail": "'dry_run' must be true or false"})
        req = jobs.parse_request(subject.roots, data)
        context = audit_context(request, subject)
        if dry:
            return Response(jobs.dry_run(subject.token, req, context).as_json())
        try:
            job = jobs.start(owner=subject.identity.user, requested_by=request.user, token=subject.token, request=req,
                             context=context, ticket=subject.ticket, reason=subject.reason)
        except jobs.Refused as exc:
            return Response({"detail": "This restore may not run: " + " ".join(exc.problems),
                             "problems": exc.problems}, status=status.HTTP_403_FORBIDDEN)
        except jobs.TooBusy as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        response = Response(job_json(job, request), status=status.HTTP_201_CREATED)
        response["Location"] = reverse("api:restore", args=[job.id])
        return response


class RestoreView(FileView):
    @extend_schema(responses=JobOut, summary="A restore: state, progress and items with their hashes")
    def get(self, request, job_id):
        subject_of(request)
        return Response(job_json(jobs.job_for(request.user, job_id), request))


class RestoreCancelView(FileView):
    @extend_schema(request=None, responses=JobOut, summary="Cancel a restore (a running one stops at its next chunk)")
    def post(self, request, job_id):
        subject = subject_of(request)
        job = jobs.cancel(jobs.job_for(request.user, job_id), audit_context(request, subject))
        return Response(job_json(job, request))


class RestoreDownloadView(FileView):
    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
                   summary="A download-mode restore as a zip (with SHA256SUMS.txt), streamed")
    def get(self, request, job_id):
        subject = subject_of(request)
        job = jobs.job_for(request.user, job_id)
        if job.mode != Mode.DOWNLOAD:
            raise exceptions.NotFound("This restore is not a download.")
        if job.state == JobState.CANCELLED:
            raise exceptions.NotFound("This restore was cancelled.")
        require_content(request, subject, operation="download restore")
        response = StreamingHttpResponse(zipdownload.stream_zip(job, audit_context(request, subject)),
                                         content_type="application/zip")
        response["Content-Disposition"] = content_disposition_header(True, f"restore-{job.id}.zip")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
