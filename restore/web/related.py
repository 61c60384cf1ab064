"""Page fragment: a file's related files at one version, each with its reason, and what would be
left out and why (templates/restore/_related.html). Loaded with htmx into the timeline page; the
restore dialog, where items can be left out, shows them from its plan. Same service call,
permission layer and audit as the API (restore/api/related.py)."""

from django.shortcuts import render

from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.helpdesk.subject import audit_context
from restore.related import bundles
from restore.versions import browse as pv
from restore.web.files import file_page


@file_page
def related(request, subject, root, path):
    snapshot = pv.parse_at(root, request.GET.get("at"))
    found = bundles.bundle(subject.token, root, path, snapshot)
    if snapshot is not None:
        audit.record(audit_context(request, subject), Action.LIST, Result.OK, root=root.id,
                     path=path, snapshot=snapshot.token, details={"operation": "related", "related": len(found.related)})
    return render(request, "restore/_related.html", {"bundle": found})
