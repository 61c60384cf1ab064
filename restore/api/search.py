"""API v1: find a file by name across every snapshot of my roots (the snapshot catalog), and the
catalog's progress for administrators."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from restore.api.files import HiddenOut, hidden_json
from restore.catalog import logic, search, sources
from restore.catalog import tasks as catalog_tasks
from restore.catalog.queries import hit_url, iso_time, run_search
from restore.helpdesk.subject import MayUseFiles, subject_of
from restore.models.catalog import CatalogSource
from restore.versions import roots

Q = OpenApiParameter("q", {"type": "string", "minLength": 2, "maxLength": logic.MAX_QUERY}, required=True,
                     description="part of a name (case-insensitive), or a glob over the whole name with * and ?")


ROOT = OpenApiParameter("root", str, description="one of my roots; empty: all of them")


LIMIT = OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": search.MAX_LIMIT},
                         description=f"results, 1-{search.MAX_LIMIT} (default {search.DEFAULT_LIMIT})")


CURSOR = OpenApiParameter("cursor", str, description="the `next_cursor` of the previous page; hits are ranked "
                          "exact name first, then the newest last seen first")


HitVersionOut = inline_serializer("SearchVersion", {
    "size": serializers.IntegerField(), "last_write": serializers.DateTimeField(),
    "snapshots": serializers.ListField(child=serializers.CharField(), help_text="snapshot ids, newest first"),
}, many=True)


SearchOut = inline_serializer("Search", {
    "q": serializers.CharField(), "root": serializers.CharField(allow_null=True),
    "results": inline_serializer("SearchHit", {
        "root": serializers.CharField(), "path": serializers.CharField(), "name": serializers.CharField(),
        "kind": serializers.ChoiceField(["file", "folder"]),
        "exists_live": serializers.BooleanField(allow_null=True, help_text="there now (null: the server did not say)"),
        "last_seen": serializers.CharField(help_text="the newest snapshot holding it"),
        "versions": HitVersionOut, "url": serializers.CharField(help_text="its timeline (a folder: its listing)"),
    }, many=True),
    "truncated": serializers.BooleanField(help_text="more names matched than are examined: refine the search"),
    "next_cursor": serializers.CharField(allow_null=True, help_text="pass as `cursor` for the next page; null: "
                                                                     "this is the last page"),
    "hidden": HiddenOut,
    "coverage": inline_serializer("SearchCoverage", {
        "root": serializers.CharField(), "catalogued": serializers.BooleanField(),
        "snapshots": serializers.IntegerField(help_text="catalogued: searched"),
        "pending": serializers.IntegerField(help_text="waiting to be catalogued (searched once they are)"),
        "newest": serializers.CharField(allow_null=True),
        "building": serializers.BooleanField(help_text="a build is working on it now"),
        "seconds_left": serializers.IntegerField(allow_null=True, help_text="about how long until every snapshot "
                                                                            "is catalogued (null: not known yet)"),
        "progress": serializers.CharField(help_text="e.g. 'catalogued 12 of 30 snapshots, about 2 minutes left'"),
    }, many=True),
})


def results_json(results: search.Results, root_id: str | None) -> dict:
    return {
        "q": results.query.text, "root": root_id,
        "results": [{
            "root": h.root.id, "path": h.path.replace("\\", "/"), "name": h.name,
            "kind": "folder" if h.is_dir else "file", "exists_live": h.exists_live, "last_seen": h.last_seen.token,
            "versions": [{"size": v.size, "last_write": iso_time(v.last_write), "snapshots": [s.token for s in v.snapshots]}
                         for v in h.versions],
            "url": hit_url(h),
        } for h in results.hits],
        "truncated": results.truncated,
        "next_cursor": results.next_cursor,
        "hidden": hidden_json(results.hidden),
        "coverage": [{"root": c.root.id, "catalogued": c.catalogued, "snapshots": c.snapshots, "pending": c.pending,
                      "newest": c.newest.token if c.newest else None, "building": c.building,
                      "seconds_left": None if c.seconds_left is None else round(c.seconds_left),
                      "progress": c.progress if c.catalogued else _("not catalogued")}
                     for c in results.coverage],
    }


class SearchView(APIView):
    permission_classes = [MayUseFiles]
    api_errors = (404,)  # an unknown root

    @extend_schema(parameters=[Q, ROOT, LIMIT, CURSOR], responses=SearchOut,
                   summary="Find files and folders by name in every snapshot of my roots, deleted ones included")
    def get(self, request):
        subject = subject_of(request)
        root_id = request.query_params.get("root") or None
        try:
            results = run_search(request, subject, request.query_params.get("q"), root_id,
                                 request.query_params.get("limit"), request.query_params.get("cursor"))
        except logic.BadQuery as exc:
            raise exceptions.ValidationError({"detail": str(exc)}) from None
        except roots.NotFound:
            raise exceptions.NotFound(_("No such folder.")) from None
        return Response(results_json(results, root_id))


# --- administrators: the catalog's progress ---------------------------------------------------------

SourceOut = inline_serializer("CatalogSource", {
    "id": serializers.IntegerField(), "unc": serializers.CharField(), "enabled": serializers.BooleanField(),
    "building": serializers.BooleanField(), "last_run_at": serializers.DateTimeField(allow_null=True),
    "last_error": serializers.CharField(),
    "snapshots": serializers.DictField(child=serializers.IntegerField(), help_text="count per state"),
    "current": serializers.DictField(allow_null=True, help_text="the snapshot being built: its counters"),
}, many=True)


def progress_json(row: sources.Progress) -> dict:
    current = row.current
    return {
        "id": row.source.id, "unc": row.source.unc, "enabled": row.source.enabled, "building": row.building,
        "last_run_at": iso_time(row.source.last_run_at) if row.source.last_run_at else None,
        "last_error": row.source.last_error, "snapshots": row.counts,
        "current": None if current is None else {
            "snapshot": current.token, "state": current.state, "folders_done": current.folders_done,
            "folders_expected": current.folders_expected, "objects_seen": current.objects_seen,
            "rows_written": current.rows_written, "sd_reads": current.sd_reads,
            "unreadable_sds": current.unreadable_sds, "unlisted_folders": current.unlisted_folders,
            "error": current.error,
        },
    }


class CatalogView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=SourceOut, summary="Administrators: the snapshot catalog's sources and build progress")
    def get(self, request):
        return Response([progress_json(p) for p in sources.progress()])


class CatalogBuildView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={202: inline_serializer("CatalogQueued", {"queued": serializers.IntegerField()})},
                   summary="Administrators: build a source's catalog now (new snapshots; resumes a stopped build)")
    def post(self, request, source_id: int):
        source = CatalogSource.objects.filter(id=source_id).first()
        if source is None:
            raise exceptions.NotFound(_("No such catalog source."))
        catalog_tasks.request_build(source)
        return Response({"queued": source.id}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("search", SearchView.as_view(), name="search"),
    path("catalog", CatalogView.as_view(), name="catalog"),
    path("catalog/<int:source_id>/build", CatalogBuildView.as_view(), name="catalog-build"),
]
