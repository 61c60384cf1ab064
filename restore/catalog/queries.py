"""Searching on behalf of a request: the limit and query parsed, the search run as the subject and audited,
and the link to a hit's timeline (the pages and the API share it)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.catalog import logic, search
from restore.helpdesk.subject import audit_context
from restore.versions import roots as roots_


def iso_time(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def hit_url(hit: search.Hit) -> str:
    """A file: its timeline page; a folder: its listing as of the newest snapshot holding it."""
    url_path = hit.path.replace("\\", "/")
    if hit.is_dir:
        return reverse("browse", args=[hit.root.id]) + "?" + urlencode({"path": url_path, "at": hit.last_seen.token})
    return reverse("timeline", args=[hit.root.id]) + "?" + urlencode({"path": url_path})


def parse_limit(raw) -> int:
    if raw in (None, ""):
        return search.DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise logic.BadQuery(f"'limit' must be a whole number from 1 to {search.MAX_LIMIT}.") from None
    if not 1 <= limit <= search.MAX_LIMIT:
        raise logic.BadQuery(f"'limit' must be a whole number from 1 to {search.MAX_LIMIT}.")
    return limit


def run_search(request, subject, q, root_id: str | None, limit_raw, cursor: str | None = None) -> search.Results:
    """Validate, search, audit: shared by the page and the API. BadQuery -> 400, unknown root -> NotFound."""
    query = logic.parse_query(q)
    limit = parse_limit(limit_raw)
    if cursor:
        logic.cursor_key(cursor)  # a bad cursor is a 400 before anything is searched
    roots = [roots_.find_root(subject.roots, root_id)] if root_id else subject.roots
    results = search.search(subject.token, roots, query, limit=limit, cursor=cursor or None)
    details = {"q": query.text, "results": len(results.hits), "truncated": results.truncated}
    if cursor:
        details["page"] = "next"
    audit.record(audit_context(request, subject), Action.SEARCH, Result.OK, root=root_id or "", details=details)
    return results
