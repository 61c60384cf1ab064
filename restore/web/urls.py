from django.contrib.auth import views as auth_views
from django.urls import path

from restore.web import audit, files, helpdesk, language, pages, restores
from restore.web.open import open_unc
from restore.web.related import related
from restore.web.search import catalog_status, search

urlpatterns = [
    path("", pages.home, name="home"),
    path("signin/", pages.SignInView.as_view(), name="login"),
    path("signout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/", pages.me, name="me"),
    path("roots/<str:root>/", files.browse, name="browse"),
    path("roots/<str:root>/file", files.timeline, name="timeline"),
    path("roots/<str:root>/related", related, name="related"),
    path("helpdesk/", helpdesk.search, name="helpdesk"),
    path("helpdesk/act-for", helpdesk.start, name="helpdesk-start"),
    path("helpdesk/stop", helpdesk.stop, name="helpdesk-stop"),
    path("audit/", audit.trail, name="audit"),
    path("search/", search, name="search"),
    path("catalog/", catalog_status, name="catalog-status"),
    path("restores/", restores.my_jobs, name="restores"),
    path("restores/new", restores.new_restore, name="restore-new"),
    path("restores/<uuid:job_id>/", restores.job_page, name="restore-job"),
    path("restores/<uuid:job_id>/cancel", restores.cancel, name="restore-cancel"),
    path("open", open_unc, name="open"),
    path("language/", language.choose, name="set-language"),
    path("healthz", pages.healthz, name="healthz"),
]
