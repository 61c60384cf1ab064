"""API v1: roots, snapshots, folder listings, a file's timeline, file content (Previous Versions)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from restore import smb
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.helpdesk.subject import MayUseFiles, audit_context, require_content, subject_of
from restore.versions import browse as pv
from restore.versions import diff, paths, roots
from restore.versions.browse import INLINE_TYPES, content_type_of
from restore.versions.sessions import refusal

PATH = OpenApiParameter("path", str, description="relative to the root, '/' or '\\' separated")


AT = OpenApiParameter("at", str, description="snapshot id (@GMT-YYYY.MM.DD-HH.MM.SS) or ISO UTC time; empty: live")


RootOut = inline_serializer("Root", {"id": serializers.CharField(), "kind": serializers.CharField(),
                                     "unc": serializers.CharField()}, many=True)


SnapshotOut = inline_serializer("Snapshot", {"id": serializers.CharField(), "at": serializers.DateTimeField()},
                                many=True)


EntryFields = {"name": serializers.CharField(), "path": serializers.CharField(),
               "kind": serializers.ChoiceField(["file", "folder"]), "size": serializers.IntegerField(),
               "last_write": serializers.DateTimeField(), "exists_live": serializers.BooleanField()}


HiddenOut = inline_serializer("Hidden", {
    "count": serializers.IntegerField(help_text="entries (or versions) left out because the portal cannot read "
                                                "their permissions on the file server; 0 when none"),
    "reason": serializers.CharField(help_text="why they are hidden; empty when none is")})


EntriesOut = inline_serializer("Entries", {"root": serializers.CharField(), "path": serializers.CharField(),
                                           "at": serializers.CharField(),
                                           "entries": inline_serializer("Entry", EntryFields, many=True),
                                           "hidden": HiddenOut})


VersionFields = {"at": serializers.CharField(), "live": serializers.BooleanField(),
                 "snapshots": serializers.ListField(child=serializers.CharField()),
                 "size": serializers.IntegerField(), "last_write": serializers.DateTimeField()}


VersionsOut = inline_serializer("Versions", {"root": serializers.CharField(), "path": serializers.CharField(),
                                             "versions": inline_serializer("Version", VersionFields, many=True),
                                             "hidden": HiddenOut})


def snapshot_json(snapshot: smb.Snapshot) -> dict:
    return {"id": snapshot.token, "at": snapshot.at.isoformat().replace("+00:00", "Z")}


def entry_json(entry: pv.EntryView) -> dict:
    return {"name": entry.name, "path": entry.path.replace("\\", "/"), "kind": "folder" if entry.is_dir else "file",
            "size": entry.size, "last_write": entry.last_write.isoformat().replace("+00:00", "Z"),
            "exists_live": entry.exists_live}


def hidden_json(count: int) -> dict:
    return {"count": count, "reason": pv.UNREADABLE_REASON if count else ""}


def version_json(version: pv.VersionView) -> dict:
    return {"at": version.at, "live": version.live, "snapshots": [s.token for s in version.snapshots],
            "size": version.size, "last_write": version.last_write.isoformat().replace("+00:00", "Z")}


class FileView(APIView):
    """Resolves the subject, the root, the path and the snapshot; maps service errors to HTTP."""

    permission_classes = [MayUseFiles]
    api_errors = (404, 502)  # a missing path or snapshot; the file server did not answer (FileServerUnavailable)
    audit_action: str | None = None

    def setup_call(self, request, root_id: str):
        subject = subject_of(request)
        try:
            root = roots.find_root(subject.roots, root_id)
        except roots.NotFound:
            raise exceptions.NotFound(gettext("No such folder.")) from None
        path = paths.normalize(request.query_params.get("path", ""))  # PathError -> 400
        return subject, root, path

    def snapshot(self, root, request):
        try:
            return pv.parse_at(root, request.query_params.get("at"))
        except roots.BadRequest as exc:
            raise exceptions.ValidationError({"detail": str(exc)}) from None

    def handle_exception(self, exc):
        if isinstance(exc, roots.NotFound):
            exc = exceptions.NotFound("Not found.")
        elif isinstance(exc, roots.BadRequest):
            exc = exceptions.ValidationError({"detail": str(exc)})
        elif isinstance(exc, smb.SmbError) and not isinstance(exc, smb.NotFound) and refusal(exc) is None:
            exc = FileServerUnavailable(str(exc))
        elif isinstance(exc, smb.NotFound):
            exc = exceptions.NotFound("Not found.")
        return super().handle_exception(exc)

    def audit(self, request, subject, action, result, root, path="", snapshot=None, **details):
        audit.record(audit_context(request, subject), action, result, root=root.id,
                     path=path, snapshot=snapshot.token if snapshot else "", details=details)

    def denied(self, request, subject, root, path, snapshot, exc: roots.NotFound, action):
        if exc.denied:
            self.audit(request, subject, Action.ACCESS_DENIED, Result.DENIED, root, path, snapshot, operation=action)
        raise exc


class FileServerUnavailable(exceptions.APIException):
    status_code = 502
    default_detail = "The file server did not answer; try again shortly."


class RootsView(FileView):
    """The profile and data folders of the person (or of the user a helpdesk member acts for)."""

    api_errors = ()  # read from the person's identity: no path, no file server

    @extend_schema(responses=RootOut, summary="My roots (profile and data folders)")
    def get(self, request):
        return Response([r.as_dict() for r in subject_of(request).roots])


class SnapshotsView(FileView):
    """The snapshots the file server keeps of a root (Previous Versions), newest first, in UTC."""

    @extend_schema(responses=SnapshotOut, summary="Snapshots of a root, newest first (UTC)")
    def get(self, request, root):
        subject, root_obj, _ = self.setup_call(request, root)
        return Response([snapshot_json(s) for s in pv.snapshots(root_obj)])


class EntriesView(FileView):
    """A folder's entries, live or as they were at a snapshot; only what the NT ACLs let the person read.
    `exists_live: false` marks what has been deleted since. An entry whose permissions the portal cannot
    read on the file server is left out, never the folder: `hidden` says how many and why."""

    @extend_schema(parameters=[PATH, AT], responses=EntriesOut, summary="A folder, live or at a snapshot")
    def get(self, request, root):
        subject, root_obj, path = self.setup_call(request, root)
        snapshot = self.snapshot(root_obj, request)
        try:
            entries = pv.list_entries(subject.token, root_obj, path, snapshot)
        except roots.NotFound as exc:
            self.denied(request, subject, root_obj, path, snapshot, exc, Action.LIST)
        if snapshot is not None:
            self.audit(request, subject, Action.LIST, Result.OK, root_obj, path, snapshot, entries=len(entries),
                   hidden=entries.hidden)
        return Response({"root": root_obj.id, "path": path.replace("\\", "/"),
                         "at": snapshot.token if snapshot else "live", "entries": [entry_json(e) for e in entries],
                         "hidden": hidden_json(entries.hidden)})


class VersionsView(FileView):
    """One row per distinct version of a file (the live copy and each snapshot holding a different last-
    write time or size), newest first, each readable by the person in its snapshot's ACL."""

    @extend_schema(parameters=[PATH], responses=VersionsOut, summary="A file's timeline, newest first")
    def get(self, request, root):
        subject, root_obj, path = self.setup_call(request, root)
        try:
            rows = pv.versions(subject.token, root_obj, path)
        except roots.NotFound as exc:
            self.denied(request, subject, root_obj, path, None, exc, Action.TIMELINE)
        self.audit(request, subject, Action.TIMELINE, Result.OK, root_obj, path, versions=len(rows))
        return Response({"root": root_obj.id, "path": path.replace("\\", "/"), "versions": [version_json(v) for v in rows],
                         "hidden": hidden_json(rows.hidden)})


class ContentView(FileView):
    """A file's bytes, live or at a snapshot, with its own media type. `disposition=inline` shows harmless
    types (text, images) in the browser, sandboxed. Audited as a preview or a download."""

    @extend_schema(
        parameters=[PATH, AT, OpenApiParameter("disposition", str, enum=["attachment", "inline"])],
        responses={(200, "*/*"): OpenApiTypes.BINARY},  # the file's own media type
        summary="A file's bytes, live or at a snapshot, streamed",
    )
    def get(self, request, root):
        subject, root_obj, path = self.setup_call(request, root)
        snapshot = self.snapshot(root_obj, request)
        inline = request.query_params.get("disposition") == "inline"
        action = Action.PREVIEW if inline else Action.DOWNLOAD
        require_content(request, subject, operation=action)
        try:
            content = pv.open_content(subject.token, root_obj, path, snapshot)
        except roots.NotFound as exc:
            self.denied(request, subject, root_obj, path, snapshot, exc, action)
        ctype = content_type_of(content.name)
        if inline and ctype not in INLINE_TYPES and not ctype.startswith("text/"):
            inline = False  # only harmless types are shown in the browser
        if inline and ctype.startswith("text/"):
            ctype = "text/plain; charset=utf-8"
        self.audit(request, subject, action, Result.OK, root_obj, path, snapshot, size=content.entry.size)
        response = StreamingHttpResponse(content.chunks, content_type=ctype)
        response["Content-Length"] = str(content.entry.size)
        response["Content-Disposition"] = content_disposition_header(not inline, content.name)
        response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        if inline:
            response["X-Frame-Options"] = "SAMEORIGIN"  # the timeline page shows text previews in a sandboxed frame
        return response


DiffLineOut = inline_serializer("DiffLine", {
    "kind": serializers.ChoiceField(["context", "added", "removed", "hunk"]), "text": serializers.CharField(),
    "old_no": serializers.IntegerField(allow_null=True), "new_no": serializers.IntegerField(allow_null=True)},
    many=True)


DiffOut = inline_serializer("TextDiff", {
    "root": serializers.CharField(), "path": serializers.CharField(), "old": serializers.CharField(),
    "new": serializers.CharField(), "added": serializers.IntegerField(), "removed": serializers.IntegerField(),
    "state": serializers.ChoiceField(["different", "identical", "binary", "too-large", "deleted"]),
    "truncated": serializers.BooleanField(), "lines": DiffLineOut})


def diff_json(root_id: str, path: str, result: diff.TextDiff) -> dict:
    return {"root": root_id, "path": path.replace("\\", "/"), "old": result.old, "new": result.new,
            "state": result.state, "added": result.added, "removed": result.removed, "truncated": result.truncated,
            "lines": [{"kind": line.kind, "text": line.text, "old_no": line.old_no, "new_no": line.new_no}
                      for line in result.lines]}


class DiffView(FileView):
    """A line diff of a text version against the live copy (or another snapshot). `state` says why there
    are no lines: identical, binary, too-large (DIFF_MAX_BYTES) or deleted (no live copy to compare)."""

    @extend_schema(
        parameters=[PATH, OpenApiParameter("at", str, required=True, description="snapshot id of the older version"),
                    OpenApiParameter("against", str, description="snapshot id of the newer version; empty: live")],
        responses=DiffOut, summary="A text diff of a version against the live copy (or another snapshot)",
    )
    def get(self, request, root):
        subject, root_obj, path = self.setup_call(request, root)
        old = self.snapshot(root_obj, request)
        if old is None:
            raise exceptions.ValidationError({"at": gettext("give the snapshot of the version to compare")})
        try:
            new = pv.parse_at(root_obj, request.query_params.get("against"))
        except roots.BadRequest as exc:
            raise exceptions.ValidationError({"against": str(exc)}) from None
        require_content(request, subject, operation=Action.PREVIEW)
        try:
            result = diff.compare(subject.token, root_obj, path, old, new)
        except roots.NotFound as exc:
            self.denied(request, subject, root_obj, path, old, exc, Action.PREVIEW)
        self.audit(request, subject, Action.PREVIEW, Result.OK, root_obj, path, old, diff_against=result.new,
                   state=result.state)
        return Response(diff_json(root_obj.id, path, result))
