"""Admin: the audit trail and identities are read-only here (append-only by design)."""

from django.contrib import admin

from .models import AuditEvent, Identity


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_username", "acting_for_username", "action", "result", "root", "path", "source_ip")
    list_filter = ("action", "result", "role")
    search_fields = ("actor_username", "acting_for_username", "path", "request_id")
    date_hierarchy = "at"


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = ("username", "display_name", "sid", "refreshed_at")
    search_fields = ("username", "display_name", "sid")
