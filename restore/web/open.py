"""/open?unc=\\\\server\\share\\path: the link an administrator puts in Explorer's context menu or on the
intranet ("Restore previous versions"). It opens the folder page, or the file's timeline, of the
person's root that holds the path; anything outside their roots is 404 (restore/versions/unc.py).
Same service as the API's /api/v1/resolve (restore/api/resolve.py)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from restore import smb
from restore.helpdesk.subject import subject_of
from restore.versions import roots, unc
from restore.web.files import _problem, smb_problem


@login_required
@require_GET
def open_unc(request):
    subject = subject_of(request)
    try:
        found = unc.resolve(subject.roots, request.GET.get("unc", ""))
        kind = unc.kind_of(subject.token, found)
    except roots.BadRequest as exc:
        return _problem(request, 400, str(exc))
    except roots.NotFound:
        raise Http404(_("Not found.")) from None
    except smb.SmbError as exc:
        return smb_problem(request, exc)
    query = {"path": found.path.replace("\\", "/")} if found.path else {}
    page = "timeline" if kind in ("file", "gone") else "browse"
    return redirect(reverse(page, args=[found.root.id]) + ("?" + urlencode(query) if query else ""))
