"""Helpdesk pages: find a user, start acting for them with a ticket and a reason, stop.
Same service and permission layer as the API (restore/api/helpdesk.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from restore.accounts.permissions import require_role
from restore.audit import trail as audit
from restore.helpdesk import acting as acting_
from restore.helpdesk import people as helpdesk
from restore.models import Role
from restore.restores.messages import translated


def _require_helpdesk(request):
    return require_role(request, Role.HELPDESK, excluding=(Role.AUDITOR,))


def _page(request, *, q="", found=None, problem="", status=200, form=None):
    resolution = acting_.resolve(request)
    return render(request, "restore/helpdesk.html", {
        "q": q, "found": found, "problem": problem, "form": form or {},
        "acting": resolution.acting, "acting_roots": _roots_of(resolution.acting),
    }, status=status)


def _roots_of(acting):
    target = getattr(acting.target, "identity", None) if acting is not None and acting.target else None
    return target.roots if target is not None else []


@login_required
@require_GET
def search(request):
    actor = _require_helpdesk(request)
    q = request.GET.get("q", "")
    if not q:
        return _page(request)
    try:
        found = helpdesk.find(actor, q)
    except helpdesk.HelpdeskError as exc:
        return _page(request, q=q, problem=translated(exc), status=exc.status)
    return _page(request, q=q, found=found)


@login_required
@require_POST
def start(request):
    _require_helpdesk(request)
    form = {k: request.POST.get(k, "") for k in ("username", "ticket", "reason")}
    try:
        acting = acting_.start(actor=request.user, via="session",
                                context=audit.Context.from_request(request, role=Role.HELPDESK), **form)
    except helpdesk.HelpdeskError as exc:
        return _page(request, q=request.POST.get("q", ""), problem=translated(exc), status=exc.status, form=form)
    acting_.remember(request, acting)
    messages.success(request, _("You are now acting for %(user)s (ticket %(ticket)s).")
                     % {"user": acting.target_username, "ticket": acting.ticket})
    return redirect("helpdesk")


@login_required
@require_POST
def stop(request):
    _require_helpdesk(request)
    resolution = acting_.resolve(request)
    if resolution.acting is not None:
        acting_.end(resolution.acting, context=audit.Context.from_request(request, role=Role.HELPDESK),
                     why="stopped")
        messages.success(request, _("You no longer act for %(user)s.") % {"user": resolution.acting.target_username})
    acting_.forget(request)
    return redirect("helpdesk")
