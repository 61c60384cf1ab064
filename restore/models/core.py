"""Identity and audit-trail models."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    USER = "user", _("User")
    HELPDESK = "helpdesk", _("Helpdesk")
    AUDITOR = "auditor", _("Auditor")


class Identity(models.Model):
    """What AD said about a person at their last sign-in or refresh.

    The security token (objectSid + tokenGroups + the well-known SIDs of a network
    logon) is what every access decision is evaluated against. No password is kept.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity")
    dn = models.CharField(max_length=1024)
    domain = models.CharField(max_length=64)
    username = models.CharField(max_length=256)  # sAMAccountName as AD spells it
    sid = models.CharField(max_length=184, unique=True)
    display_name = models.CharField(max_length=256, blank=True)
    mail = models.CharField(max_length=256, blank=True)
    token_sids = models.JSONField(default=list)  # every group SID; the user SID is `sid`
    roles = models.JSONField(default=list)
    roots = models.JSONField(default=list)  # [{"id", "kind", "unc"}]
    refreshed_at = models.DateTimeField()
    # The language of the person's pages and emails (restore/web/language.py): chosen with the switcher
    # (language_chosen, follows them to every browser), else what their browser last asked for.
    language = models.CharField(max_length=16, blank=True)
    language_chosen = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "identities"

    def __str__(self):
        return f"{self.domain}\\{self.username}"

    def has_role(self, role: str) -> bool:
        return role in self.roles


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("audit events are append-only")

    def delete(self):
        raise PermissionError("audit events are append-only")


class AuditEvent(models.Model):
    """One record of the append-only, hash-chained audit trail (see restore/audit/trail.py)."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_username = models.CharField(max_length=256, blank=True)
    actor_sid = models.CharField(max_length=184, blank=True)
    acting_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acting_for_username = models.CharField(max_length=256, blank=True)
    acting_for_sid = models.CharField(max_length=184, blank=True)
    role = models.CharField(max_length=16, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    root = models.CharField(max_length=64, blank=True)
    path = models.TextField(blank=True)
    snapshot = models.CharField(max_length=32, blank=True)
    result = models.CharField(max_length=32, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["actor_username", "at"]), models.Index(fields=["acting_for_username", "at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action} {self.result}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


class AuditChainHead(models.Model):
    """A single row locked while appending, so the chain has one order (see audit.record)."""

    last_hash = models.CharField(max_length=64)
