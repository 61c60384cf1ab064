"""API v1: restores — dry run, start, read, cancel, download (restore/restores/service.py does the work)."""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from restore.api.files import FileView
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.helpdesk.subject import (
    CONTENT_BLIND_ZIP,
    MayUseFilesForJob,
    Subject,
    audit_context,
    may_download_job,
    require_content,
    shows_hashes,
    subject_for_job,
    subject_of,
)
from restore.models import JobState, Mode, Phase
from restore.models.jobs import DOWNLOADABLE_STATES
from restore.restores import planning, requests
from restore.restores import service as jobs
from restore.restores import zip as zipdownload
from restore.restores.messages import translated

ItemIn = inline_serializer("RestoreItemIn", {"root": serializers.CharField(), "path": serializers.CharField(),
                                             "at": serializers.CharField(help_text="snapshot id or ISO UTC time")})
RestoreIn = inline_serializer("RestoreRequest", {
    "items": ItemIn.__class__(many=True),
    "mode": serializers.ChoiceField(Mode.values, default=Mode.ALONGSIDE),
    "conflict": serializers.ChoiceField(["rename", "skip", "overwrite"], default="rename"),
    "target": inline_serializer("RestoreTarget", {"root": serializers.CharField(), "path": serializers.CharField()},
                                required=False),
    "related": serializers.BooleanField(default=True, help_text="bring the related files (restore/related/rules.py)"),
    "exclude_related": serializers.ListField(child=serializers.CharField(), required=False,
                                             help_text="keys of related items to leave out, as GET .../related lists them"),
    "dry_run": serializers.BooleanField(default=False, help_text="answer what would be written where; write nothing"),
})
ItemOut = {"seq": serializers.IntegerField(), "kind": serializers.CharField(), "origin": serializers.CharField(),
           "reason": serializers.CharField(), "source": serializers.DictField(), "target": serializers.DictField(),
           "kept_as": serializers.CharField(allow_null=True), "phase": serializers.CharField(),
           "verified": serializers.BooleanField(help_text="restored, and the SHA-256 of the copy written equals "
                                                           "that of the snapshot's bytes; never for a zip member"),
           "size": serializers.IntegerField(),
           "sha256": serializers.CharField(allow_null=True, help_text=(
               "the one SHA-256 of the bytes delivered: sent in the zip (phase 'sent'), or written and verified; "
               "null before that, and for anyone who may not see hashes (content-blind helpdesk)")),
           "sha256_source": serializers.CharField(allow_null=True), "sha256_target": serializers.CharField(
               allow_null=True),
           "streams": serializers.ListField(child=serializers.DictField()), "note": serializers.CharField()}
JobFields = {"id": serializers.UUIDField(), "state": serializers.CharField(help_text="one of: " + ", ".join(JobState.values) + (
    "; a download is ready, sending, interrupted (download it again), done or partial")),
             "mode": serializers.CharField(),
             "conflict": serializers.CharField(), "owner": serializers.CharField(),
             "requested_by": serializers.CharField(), "ticket": serializers.CharField(),
             "content_blind": serializers.BooleanField(help_text="started by a content-blind helpdesk member"),
             "created_at": serializers.DateTimeField(), "finished_at": serializers.DateTimeField(allow_null=True),
             "progress": serializers.DictField(), "error": serializers.CharField(),
             "download_url": serializers.CharField(allow_null=True, help_text=(
                 "the zip, for a download-mode job this caller may download; null otherwise"))}
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


def job_json(job, subject: Subject, items: bool = True) -> dict:
    """A job as the API shows it to ``subject``: hashes only where shows_hashes allows, the zip's
    link only where may_download_job does."""
    downloadable = job.mode == Mode.DOWNLOAD and job.state in DOWNLOADABLE_STATES and may_download_job(subject, job)
    data = {"id": str(job.id), "state": job.state, "mode": job.mode, "conflict": job.conflict,
            "owner": job.owner_username, "requested_by": job.requested_by_username, "ticket": job.ticket,
            "content_blind": job.content_blind,
            "created_at": _iso(job.created_at), "finished_at": _iso(job.finished_at),
            "progress": {"files_done": job.files_done, "files_total": job.files_total, "bytes_done": job.bytes_done,
                         "bytes_total": job.bytes_total, "percent": job.percent},
            "error": translated(job.error),
            "download_url": reverse("api:restore-download", args=[job.id]) if downloadable else None}
    if items:
        hashes = shows_hashes(subject, job)
        data["items"] = [item_json(i, hashes) for i in job.items.order_by("seq")]
    return data


def item_json(i, hashes: bool) -> dict:
    delivered = i.sha256_target if i.phase == Phase.SENT or i.verified else ""
    return {
        "seq": i.seq, "kind": i.kind, "origin": i.origin, "reason": translated(i.reason),
        "source": {"root": i.root, "path": i.path.replace("\\", "/"), "at": i.at},
        "target": {"root": i.target_root, "path": i.target_path.replace("\\", "/")} if i.target_root else {},
        "kept_as": i.keep_path.replace("\\", "/") if i.keep_path and i.keep_path != "?" else None,
        "phase": i.phase, "verified": i.verified, "size": i.size,
        "sha256": (delivered or None) if hashes else None,
        # two hashes exist only where something compared them: not for a zip member
        "sha256_source": i.sha256_source if hashes and i.phase != Phase.SENT else None,
        "sha256_target": i.sha256_target if hashes and i.phase != Phase.SENT else None,
        "streams": i.streams if hashes else [{k: v for k, v in s.items() if k != "sha256"} for s in i.streams],
        "note": translated(i.note),
    }


def plan_json(plan: planning.Plan) -> dict:
    """A dry run's plan with what the services and rules wrote in English (each item's reason and note, the
    problems) in the reader's language, as the restore dialog shows it."""
    data = plan.as_json()
    for item in data["items"]:
        item["reason"], item["note"] = translated(item["reason"]), translated(item["note"])
    data["problems"] = [translated(p) for p in data["problems"]]
    return data


class RestoreStartThrottle(UserRateThrottle):
    scope = "restore"

    def get_rate(self):  # read per request, like ApiRateThrottle
        return settings.RESTORE_START_RATE


class RestoresView(FileView):
    api_errors = (404, 502)  # an item's root or snapshot unknown; the file server did not answer
    parser_classes = [JSONParser]  # items are a list of objects: JSON only
    def get_throttles(self):
        return [*super().get_throttles(), RestoreStartThrottle()] if self.request.method == "POST" else \
            super().get_throttles()

    @extend_schema(responses=JobListOut, summary="My restores (while acting: the person's), newest first")
    def get(self, request):
        subject = subject_of(request)
        return Response([job_json(j, subject, items=False) for j in jobs.jobs_visible_to(subject)[:100]])

    @extend_schema(request=RestoreIn, responses={200: PlanOut, 201: JobOut}, summary="Restore (or dry-run)")
    def post(self, request):
        subject = subject_of(request)
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise exceptions.ValidationError({"detail": _("send a JSON object")})
        dry = data.get("dry_run", False)
        if not isinstance(dry, bool):
            raise exceptions.ValidationError({"detail": _("'dry_run' must be true or false")})
        req = requests.parse_request(subject.roots, data)
        if req.mode == Mode.DOWNLOAD:  # a zip hands over the bytes: not for a content-blind helpdesk
            require_content(request, subject, operation="download restore", message=CONTENT_BLIND_ZIP)
        context = audit_context(request, subject)
        if dry:
            return Response(plan_json(planning.dry_run(subject.token, req, context)))
        try:
            job = jobs.start(owner=subject.identity.user, requested_by=request.user, token=subject.token, request=req,
                             context=context, ticket=subject.ticket, reason=subject.reason,
                             content_blind=subject.content_blind)
        except jobs.Refused as exc:
            problems = [translated(p) for p in exc.problems]
            return Response({"detail": _("This restore may not run: %(problems)s") % {"problems": " ".join(problems)},
                             "problems": problems}, status=status.HTTP_403_FORBIDDEN)
        except jobs.TooBusy as exc:
            return Response({"detail": translated(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        response = Response(job_json(job, subject), status=status.HTTP_201_CREATED)
        response["Location"] = reverse("api:restore", args=[job.id])
        return response


class JobView(FileView):
    """One job: 404 for any job the subject does not see, and for a request whose acting-for ended."""

    permission_classes = [MayUseFilesForJob]


class RestoreView(JobView):
    @extend_schema(responses=JobOut, summary="A restore: state, progress and items (hashes where the caller may see them)")
    def get(self, request, job_id):
        subject = subject_for_job(request)
        return Response(job_json(jobs.job_for(subject, job_id), subject))


class RestoreCancelView(JobView):
    @extend_schema(request=None, responses=JobOut, summary="Cancel a restore (a running one stops at its next chunk)")
    def post(self, request, job_id):
        subject = subject_for_job(request)
        job = jobs.cancel(jobs.job_for(subject, job_id), audit_context(request, subject))
        return Response(job_json(job, subject))


class RestoreDownloadView(JobView):
    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
                   summary="A download-mode restore as a zip (with SHA256SUMS.txt), streamed",
                   description="Served to the job's owner, and to the helpdesk member who requested it while "
                               "acting for the owner (not in content-blind mode); 404 to everyone else. Each "
                               "GET streams the whole zip again; the job is done once the last byte was taken.")
    def get(self, request, job_id):
        subject = subject_for_job(request)
        job = jobs.job_for(subject, job_id)
        if job.mode != Mode.DOWNLOAD:
            raise exceptions.NotFound(_("This restore is not a download."))
        if job.state not in DOWNLOADABLE_STATES:
            raise exceptions.NotFound(_("This restore is %(state)s; there is no zip.")
                                      % {"state": job.get_state_display().lower()})
        if not may_download_job(subject, job):
            audit.record(audit_context(request, subject), Action.ACCESS_DENIED, Result.DENIED,
                         details={"operation": "download restore", "job": str(job.id),
                                  "why": "only the owner, or its requester while acting for them and not "
                                         "content-blind, may download it"})
            raise exceptions.NotFound(_("No such restore."))
        response = StreamingHttpResponse(zipdownload.stream_zip(job, audit_context(request, subject)),
                                         content_type="application/zip")
        response["Content-Disposition"] = content_disposition_header(True, f"restore-{job.id}.zip")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
