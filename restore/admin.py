"""Admin: the audit trail and identities are read-only here (append-only by design)."""

from django import forms
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db.models.signals import post_save
from django.dispatch import receiver

from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.catalog import admin as catalog_admin  # noqa: F401  (registers the snapshot catalog's admin)
from restore.models import ActingFor, AuditEvent, Identity, RelatedRule
from restore.related import rules as related_rules


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


@admin.register(ActingFor)
class ActingForAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "actor_username", "target_username", "ticket", "ended_at", "end_reason")
    search_fields = ("actor_username", "target_username", "ticket")
    date_hierarchy = "started_at"


# Every change made through the admin site is a configuration change in the audit trail, written in
# the admin's own transaction from its LogEntry (so every ModelAdmin is covered, ours or Django's).
# Bulk "delete selected" is off: Django logs it with bulk_create, which sends no signal.
admin.site.disable_action("delete_selected")
LOGGED_CHANGES = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


@receiver(post_save, sender=LogEntry, dispatch_uid="audit-admin-config-change")
def audit_admin_change(sender, instance: LogEntry, created: bool, **kwargs):
    if not created:
        return
    content_type = instance.content_type
    audit.record(audit.Context(actor=instance.user, role="admin"), Action.CONFIG_CHANGE, Result.OK, details={
        "model": f"{content_type.app_label}.{content_type.model}" if content_type else "",
        "object_id": instance.object_id or "", "object": instance.object_repr,
        "change": LOGGED_CHANGES.get(instance.action_flag, str(instance.action_flag)),
        "message": instance.get_change_message(),
    })


class RelatedRuleForm(forms.ModelForm):
    """Checks a rule with the parser of rule files before it is saved, so a bad glob or placeholder is
    refused with the parser's own message instead of breaking restores later."""

    class Meta:
        model = RelatedRule
        fields = "__all__"

    def clean(self):
        data = super().clean()
        row = RelatedRule(**{f.name: data.get(f.name, f.get_default()) for f in RelatedRule._meta.concrete_fields
                             if f.name not in ("id", "updated_at")})
        try:
            related_rules.parse_rule(row.as_rule_data(), "admin")
        except related_rules.RuleError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(RelatedRule)
class RelatedRuleAdmin(admin.ModelAdmin):
    """Related-file rules on top of the built-ins (docs/related-files.md); validated on save."""

    form = RelatedRuleForm

    list_display = ("name", "enabled", "application", "roots", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "application", "match")
    fieldsets = (
        (None, {"fields": ("name", "enabled", "application", "reason", "roots", "match")}),
        ("What it pulls", {"fields": ("sidecars", "siblings", "folders", "anchor", "config_set", "streams")}),
    )
