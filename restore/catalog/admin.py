"""Admin site: catalog sources (what is catalogued), their snapshots' build progress, and actions to
build now or catalogue again. Registered by restore/admin.py. Actions are logged (LogEntry), so
they reach the audit trail as configuration changes like every other admin change."""

from django.contrib import admin
from django.db import transaction
from django.db.models import Count, Q

from restore.catalog import build
from restore.catalog import tasks as catalog_tasks
from restore.models.catalog import CatalogSnapshot, CatalogSource, SnapshotState


class CatalogSnapshotInline(admin.TabularInline):
    model = CatalogSnapshot
    ordering = ("-index",)
    fields = ("token", "state", "complete", "acl_check", "folders_done", "folders_expected", "objects_seen",
              "rows_written", "sd_reads", "unreadable_sds", "unlisted_folders", "started_at", "finished_at", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CatalogSource)
class CatalogSourceAdmin(admin.ModelAdmin):
    list_display = ("unc", "kind", "enabled", "done", "waiting", "last_run_at", "lease_until", "last_error")
    list_filter = ("enabled", "kind")
    fields = ("server", "share", "path", "kind", "enabled", "last_run_at", "lease_owner", "lease_until", "last_error")
    readonly_fields = ("kind", "last_run_at", "lease_owner", "lease_until", "last_error")  # containers: found
    inlines = [CatalogSnapshotInline]
    actions = ["build_now", "catalogue_again"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.enabled and (not change or "enabled" in form.changed_data):  # added (or enabled): built at once
            transaction.on_commit(lambda: catalog_tasks.request_build(obj))

    def get_queryset(self, request):
        waiting = ~Q(snapshots__state__in=[SnapshotState.DONE, SnapshotState.GONE])
        return super().get_queryset(request).annotate(
            done_count=Count("snapshots", filter=Q(snapshots__state=SnapshotState.DONE)),
            waiting_count=Count("snapshots", filter=waiting))

    @admin.display(description="snapshots done", ordering="done_count")
    def done(self, obj):
        return obj.done_count

    @admin.display(description="waiting", ordering="waiting_count")
    def waiting(self, obj):
        return obj.waiting_count

    @admin.action(description="Build now (new snapshots; resumes a stopped build)")
    def build_now(self, request, queryset):
        for source in queryset:
            catalog_tasks.request_build(source)
            self.log_change(request, source, "catalog build requested")
        self.message_user(request, f"{queryset.count()} build(s) queued.")

    @admin.action(description="Catalogue again from the oldest snapshot (forgets what is catalogued)")
    def catalogue_again(self, request, queryset):
        for source in queryset:
            build.reset(source)
            catalog_tasks.request_build(source)
            self.log_change(request, source, "catalog reset and rebuild requested")
        self.message_user(request, f"{queryset.count()} source(s) will be catalogued again.")
