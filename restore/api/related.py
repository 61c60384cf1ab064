"""API v1: a file and the files that belong with it, all from one snapshot (restore/related/rules.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from restore.api.files import AT, PATH, FileView
from restore.audit.trail import Action, Result
from restore.related import bundles
from restore.related import rules as related
from restore.restores.messages import translated
from restore.versions import roots

OPERATION = "related"

ItemFields = {
    "key": serializers.CharField(help_text="path, or path:stream for a stream; the value to untick"),
    "path": serializers.CharField(), "name": serializers.CharField(),
    "kind": serializers.ChoiceField(related.KINDS), "stream": serializers.CharField(),
    "size": serializers.IntegerField(), "last_write": serializers.DateTimeField(allow_null=True),
    "rule": serializers.CharField(), "application": serializers.CharField(), "reason": serializers.CharField(),
    "included": serializers.BooleanField(), "skip_reason": serializers.CharField(),
}
BundleOut = inline_serializer("RelatedBundle", {
    "root": serializers.CharField(), "path": serializers.CharField(), "at": serializers.CharField(),
    # inline_serializer takes the fields out of the dict it is given: each gets its own copy
    "item": inline_serializer("RelatedChosen", dict(ItemFields)),
    "related": inline_serializer("RelatedItem", dict(ItemFields), many=True),
    "truncated": serializers.BooleanField(),
})


def item_json(item: bundles.Item) -> dict:
    return {"key": item.key, "path": item.path.replace("\\", "/"), "name": item.name, "kind": item.kind,
            "stream": item.stream, "size": item.size,
            "last_write": item.last_write.isoformat().replace("+00:00", "Z") if item.last_write else None,
            # the rule's texts and why an item is left out, in the reader's language (as written for an admin's rule)
            "rule": item.rule, "application": translated(item.application), "reason": translated(item.reason),
            "included": item.included, "skip_reason": translated(item.skip_reason)}


def bundle_json(found: bundles.Bundle) -> dict:
    return {"root": found.root.id, "path": found.item.path.replace("\\", "/"),
            "at": found.at.token if found.at else "live", "item": item_json(found.item),
            "related": [item_json(i) for i in found.related], "truncated": found.truncated}


class RelatedView(FileView):
    """A file with what belongs with it in the same snapshot (SQLite journals, sidecars, an app's settings,
    alternate data streams), each with the rule and reason that brought it (docs/related-files.md)."""

    @extend_schema(parameters=[PATH, AT], responses=BundleOut,
                   summary="A file and what belongs with it (journals, sidecars, settings), from the same snapshot")
    def get(self, request, root):
        subject, root_obj, path = self.setup_call(request, root)
        snapshot = self.snapshot(root_obj, request)
        try:
            found = bundles.bundle(subject.token, root_obj, path, snapshot)
        except roots.NotFound as exc:
            self.denied(request, subject, root_obj, path, snapshot, exc, OPERATION)
        if snapshot is not None:  # like a folder listing: what a snapshot held is audited
            self.audit(request, subject, Action.LIST, Result.OK, root_obj, path, snapshot, operation=OPERATION,
                       related=len(found.related))
        return Response(bundle_json(found))
