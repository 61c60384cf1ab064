from django.urls import path

from restore.api import audit, files, helpdesk, restores, views
from restore.api.related import RelatedView
from restore.api.resolve import ResolveView
from restore.api.search import urlpatterns as search_urls

app_name = "api"
urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
    path("roots", files.RootsView.as_view(), name="roots"),
    path("resolve", ResolveView.as_view(), name="resolve"),
    path("roots/<str:root>/snapshots", files.SnapshotsView.as_view(), name="snapshots"),
    path("roots/<str:root>/entries", files.EntriesView.as_view(), name="entries"),
    path("roots/<str:root>/versions", files.VersionsView.as_view(), name="versions"),
    path("roots/<str:root>/content", files.ContentView.as_view(), name="content"),
    path("roots/<str:root>/diff", files.DiffView.as_view(), name="diff"),
    path("helpdesk/users", helpdesk.HelpdeskUsersView.as_view(), name="helpdesk-users"),
    path("helpdesk/act-for", helpdesk.ActForView.as_view(), name="helpdesk-act-for"),
    path("audit", audit.AuditView.as_view(), name="audit"),
    path("audit/export", audit.AuditExportView.as_view(), name="audit-export"),
    path("restores", restores.RestoresView.as_view(), name="restores"),
    path("restores/<uuid:job_id>", restores.RestoreView.as_view(), name="restore"),
    path("restores/<uuid:job_id>/cancel", restores.RestoreCancelView.as_view(), name="restore-cancel"),
    path("restores/<uuid:job_id>/download", restores.RestoreDownloadView.as_view(), name="restore-download"),
    path("roots/<str:root>/related", RelatedView.as_view(), name="related"),
    *search_urls,  # search, catalog, catalog/<id>/build
]
