from django.urls import path

from . import files, views

app_name = "api"
urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
    path("roots", files.RootsView.as_view(), name="roots"),
    path("roots/<str:root>/snapshots", files.SnapshotsView.as_view(), name="snapshots"),
    path("roots/<str:root>/entries", files.EntriesView.as_view(), name="entries"),
    path("roots/<str:root>/versions", files.VersionsView.as_view(), name="versions"),
    path("roots/<str:root>/content", files.ContentView.as_view(), name="content"),
]
