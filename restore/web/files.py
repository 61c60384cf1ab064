"""Pages: a root's folders at any snapshot, and a file's timeline with preview and download.
Same service calls and permission layer as the API (restore/api/files.py)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from restore import smb
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.helpdesk.subject import audit_context, require_content, subject_of
from restore.restores.messages import translated
from restore.versions import browse as pv
from restore.versions import diff, paths, roots
from restore.versions.sessions import refusal


def _problem(request, status: int, message: str):
    """An error page; a service's message is shown in the reader's language."""
    return render(request, "restore/problem.html", {"message": translated(message)}, status=status)


def smb_problem(request, exc: smb.SmbError):
    """The page for a file-server failure: 403 with what it refused (the server's "no" is final,
    the domain would not delegate the person), else 502 (it did not answer)."""
    message = refusal(exc)
    if message is not None:
        return _problem(request, 403, message)
    return _problem(request, 502, _("The file server did not answer: %(error)s") % {"error": exc})


class FileServerRefusals:
    """Middleware: a refusal no page caught itself is still a 403 page saying so, never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        if request.path.startswith("/api/") or refusal(exc) is None:
            return None
        return smb_problem(request, exc)


def _breadcrumbs(path: str) -> list[tuple[str, str]]:
    crumbs, acc = [], ""
    for part in filter(None, path.split("\\")):
        acc = paths.join(acc, part)
        crumbs.append((part, acc.replace("\\", "/")))
    return crumbs


def file_page(view):
    """Subject, root, normalised path for a page; bad input -> 400 page, unknown/unreadable -> 404."""

    @login_required
    def wrapper(request, root):
        subject = subject_of(request)
        try:
            root_obj = roots.find_root(subject.roots, root)
            path = paths.normalize(request.GET.get("path", ""))
            return view(request, subject, root_obj, path)
        except (paths.PathError, roots.BadRequest) as exc:
            return _problem(request, 400, str(exc))
        except (roots.NotFound, smb.NotFound) as exc:
            if getattr(exc, "denied", False):
                audit.record(audit_context(request, subject), Action.ACCESS_DENIED,
                             Result.DENIED, root=root, path=request.GET.get("path", "")[:2048],
                             details={"operation": view.__name__})
            raise Http404(_("Not found.")) from None
        except smb.SmbError as exc:
            return smb_problem(request, exc)

    wrapper.__name__ = view.__name__
    return wrapper


@file_page
def browse(request, subject, root, path):
    snapshot = pv.parse_at(root, request.GET.get("at"))
    snapshots = pv.snapshots(root)
    entries = pv.list_entries(subject.token, root, path, snapshot)
    if snapshot is not None:
        audit.record(audit_context(request, subject), Action.LIST, Result.OK, root=root.id,
                     path=path, snapshot=snapshot.token, details={"entries": len(entries), "hidden": entries.hidden})
    at = [s.token for s in snapshots].index(snapshot.token) if snapshot else -1  # newest first
    return render(request, "restore/browse.html", {
        "root": root, "path": path, "url_path": path.replace("\\", "/"), "crumbs": _breadcrumbs(path),
        "snapshot": snapshot, "snapshots": snapshots, "entries": entries,
        "older": snapshots[at + 1] if at + 1 < len(snapshots) else None,
        "newer": snapshots[at - 1] if at > 0 else None, "newer_shown": snapshot is not None,
        "parent": paths.parent(path).replace("\\", "/") if path else None,
    })


@file_page
def timeline(request, subject, root, path):
    rows = pv.versions(subject.token, root, path)
    audit.record(audit_context(request, subject), Action.TIMELINE, Result.OK, root=root.id,
                 path=path, details={"versions": len(rows)})
    name = paths.name_of(path)
    from restore.versions.browse import content_type_of

    ctype = content_type_of(name)
    diff_at, compared = _compare(request, subject, root, path) if request.GET.get("diff") else (None, None)
    preview_at = request.GET.get("preview")
    return render(request, "restore/timeline.html", {
        "root": root, "path": path, "url_path": path.replace("\\", "/"), "name": name,
        "crumbs": _breadcrumbs(paths.parent(path)), "versions": rows,
        "preview": "image" if ctype.startswith("image/") else "text" if ctype.startswith("text/") else None,
        "folder": paths.parent(path).replace("\\", "/"), "diff": compared,
        "diff_at": diff_at,
        "preview_at": pv.parse_at(root, preview_at) if preview_at and preview_at != "live" else None,
    })


def _compare(request, subject, root, path) -> tuple[smb.Snapshot, diff.TextDiff]:
    """?diff=<snapshot>: that version against the live copy (the page offers it for text files)."""
    old = pv.parse_at(root, request.GET["diff"])
    if old is None:
        raise roots.BadRequest("choose the version to compare with the current file")
    require_content(request, subject, operation=Action.PREVIEW)
    result = diff.compare(subject.token, root, path, old, None)
    audit.record(audit_context(request, subject), Action.PREVIEW, Result.OK, root=root.id, path=path,
                 snapshot=old.token, details={"diff_against": result.new, "state": result.state})
    return old, result
