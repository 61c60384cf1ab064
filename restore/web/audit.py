"""Auditors' page: the whole trail, filtered, newest first, with CSV and JSON export
(the export itself streams from the API: restore/api/audit.py). Read-only by construction."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from restore.accounts.permissions import require_role
from restore.audit.query import AuditQuery
from restore.models import Role


@login_required
@require_GET
def trail(request):
    require_role(request, Role.AUDITOR)
    query = AuditQuery(request.GET)
    if not query.is_valid():
        return render(request, "restore/audit.html", {"query": query, "events": [], "problem": query.errors_text()},
                      status=400)
    events, next_before = query.page()
    return render(request, "restore/audit.html", {
        "query": query, "events": events,
        "next_query": query.filter_query(before=next_before) if next_before else None,
        "export_query": query.filter_query(),
        "paged": bool(query.cleaned_data.get("before")),
    })
