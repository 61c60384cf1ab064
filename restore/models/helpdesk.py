"""Helpdesk acting-for sessions: who acted for whom, under which ticket, from when to when."""

import uuid

from django.conf import settings
from django.db import models


class ActingFor(models.Model):
    """A helpdesk member acting for a user (restore/helpdesk/people.py is the only writer).

    While it is active, every file operation of the member runs with the target's token and roots
    and is audited with both names. It ends when the member stops, signs out or starts another,
    when it expires (HELPDESK_ACT_FOR_SECONDS), or when AD no longer lets either side take part.
    Its id is what an API client sends in X-Act-For.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_username = models.CharField(max_length=256)
    target = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    target_username = models.CharField(max_length=256)
    ticket = models.CharField(max_length=64)
    reason = models.CharField(max_length=500)
    content_blind = models.BooleanField(default=False)
    via = models.CharField(max_length=16)  # "page" (session) or "api" (X-Act-For)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name_plural = "acting-for sessions"
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["actor", "ended_at"])]

    def __str__(self):
        return f"{self.actor_username} for {self.target_username} ({self.ticket})"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
