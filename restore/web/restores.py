"""Pages: the restore dialog (dry run shown before anything is written), a job with live progress,
my restores. Same services and permission layer as the API (restore/api/restores.py)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from restore import smb
from restore.helpdesk.subject import (
    CONTENT_BLIND_ZIP,
    audit_context,
    may_download_job,
    require_content,
    shows_hashes,
    subject_for_job,
    subject_of,
)
from restore.models import Conflict, Mode
from restore.models.jobs import DOWNLOADABLE_STATES
from restore.restores import planning, requests
from restore.restores import service as jobs
from restore.restores.messages import translated
from restore.versions import paths, roots
from restore.web.files import _problem


def _form_request(data) -> dict:
    """The dialog's fields as the API's request body."""
    body = {"items": [{"root": data.get("root", ""), "path": p, "at": data.get("at", "")}
                      for p in data.getlist("path")],
            "mode": data.get("mode") or Mode.ALONGSIDE, "conflict": data.get("conflict") or Conflict.RENAME}
    if body["mode"] == Mode.TO_FOLDER:
        body["target"] = {"root": data.get("target_root") or data.get("root", ""), "path": data.get("target_path", "")}
    if data.get("planned"):  # the dialog was shown: unticked related items stay behind
        offered, ticked = set(data.getlist("offered")), set(data.getlist("related"))
        body["exclude_related"] = sorted(offered - ticked)
    return body


@login_required
def new_restore(request):
    subject = subject_of(request)
    data = request.POST if request.method == "POST" else request.GET
    body = _form_request(data)
    try:
        req = requests.parse_request(subject.roots, body)
        if req.mode == Mode.DOWNLOAD:  # a zip hands over the bytes: not for a content-blind helpdesk
            try:
                require_content(request, subject, operation="download restore", message=CONTENT_BLIND_ZIP)
            except PermissionDenied as exc:
                return _problem(request, 403, str(exc))
        if request.method == "POST" and data.get("start"):
            try:
                job = jobs.start(owner=subject.identity.user, requested_by=request.user, token=subject.token,
                                 request=req, context=audit_context(request, subject), ticket=subject.ticket,
                                 reason=subject.reason, content_blind=subject.content_blind)
            except jobs.Refused as exc:  # each problem in the reader's language (they come joined)
                return _problem(request, 403, "; ".join(translated(p) for p in exc.problems))
            except jobs.TooBusy as exc:
                return _problem(request, 429, str(exc))
            return redirect("restore-job", job.id)
        plan = planning.dry_run(subject.token, req, audit_context(request, subject))
    except (roots.BadRequest, paths.PathError) as exc:
        return _problem(request, 400, str(exc))
    except (roots.NotFound, smb.NotFound):
        raise Http404("Not found") from None
    related = [i for i in plan.items if i.origin.startswith("related: ")]
    return render(request, "restore/restore_new.html", {
        "plan": plan, "body": body, "related": related, "conflicts": Conflict.choices,
        "modes": [(v, label) for v, label in Mode.choices if not (subject.content_blind and v == Mode.DOWNLOAD)],
        "roots": subject.roots, "first": req.selected[0],
    })


def _job(request, job_id):
    """The subject and one of its jobs; Http404 for any other job, or once the acting-for ended."""
    subject = subject_for_job(request)
    try:
        return subject, jobs.job_for(subject, job_id)
    except roots.NotFound:
        raise Http404("Not found") from None


@login_required
def job_page(request, job_id):
    subject, job = _job(request, job_id)
    template = "restore/_job_progress.html" if request.headers.get("HX-Request") else "restore/restore_job.html"
    return render(request, template, {
        "job": job, "items": job.items.order_by("seq"), "hashes": shows_hashes(subject, job),
        "downloadable": job.mode == Mode.DOWNLOAD and job.state in DOWNLOADABLE_STATES
        and may_download_job(subject, job)})


@login_required
@require_POST
def cancel(request, job_id):
    subject, job = _job(request, job_id)
    jobs.cancel(job, audit_context(request, subject))
    return redirect("restore-job", job.id)


@login_required
def my_jobs(request):
    """My restores; while acting for someone, that person's."""
    subject = subject_of(request)
    return render(request, "restore/restore_list.html", {"jobs": jobs.jobs_visible_to(subject)[:100]})
