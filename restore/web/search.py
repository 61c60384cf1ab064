"""Pages: search by name across every snapshot (the same service and checks as the API,
restore/api/search.py), and the catalog's progress for administrators."""

from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from restore import smb
from restore.catalog import logic, sources
from restore.catalog.queries import hit_url, run_search
from restore.helpdesk.subject import subject_of
from restore.versions import roots
from restore.versions.sessions import refusal


@login_required
def search(request):
    subject = subject_of(request)
    q = request.GET.get("q", "")
    root_id = request.GET.get("root", "")
    context = {"q": q, "root_id": root_id, "roots": subject.roots, "results": None, "error": ""}
    status = 200
    if "q" in request.GET:
        try:
            results = run_search(request, subject, q, root_id or None, request.GET.get("limit"),
                                 request.GET.get("cursor"))
            context["results"] = results
            context["hits"] = [(hit, hit_url(hit)) for hit in results.hits]
            if results.next_cursor:
                context["next_page"] = "?" + urlencode({"q": q, "root": root_id, "cursor": results.next_cursor})
        except logic.BadQuery as exc:
            context["error"], status = str(exc), 400
        except roots.NotFound:
            raise Http404("No such folder") from None
        except smb.SmbError as exc:
            context["error"] = refusal(exc) or f"The file server did not answer: {exc}"
            status = 403 if refusal(exc) else 502
    partial = request.headers.get("HX-Request") == "true"
    return render(request, "restore/_search_results.html" if partial else "restore/search.html", context,
                  status=status)


@staff_member_required
def catalog_status(request):
    """Administrators: every catalogued source, its snapshots per state and the build in progress."""
    partial = request.headers.get("HX-Request") == "true"
    return render(request, "restore/_catalog_progress.html" if partial else "restore/catalog_status.html",
                  {"rows": sources.progress()})
