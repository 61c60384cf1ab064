"""Restore jobs and their items: the source of truth for every restore (Celery only carries IDs).

A job belongs to its *owner*: the person whose rights it runs with (the person themselves, or the
user a helpdesk member acts for). Each item is one object to write: a file, a folder to create, or
an alternate data stream travels with its file. Items move through phases that are saved after
each step on the file server succeeds, so a worker that dies anywhere can be replaced by another
that picks up from the last saved phase (see restore/restores/runner.py).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Mode(models.TextChoices):
    ALONGSIDE = "alongside", _("Alongside the original")
    REPLACE = "replace", _("Replace (the current copy is kept)")
    TO_FOLDER = "to_folder", _("Into another folder")
    DOWNLOAD = "download", _("Download as a zip")


class Conflict(models.TextChoices):
    RENAME = "rename", _("Rename the restored copy")
    SKIP = "skip", _("Skip it")
    OVERWRITE = "overwrite", _("Overwrite, keeping the current copy")


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    PARTIAL = "partial", _("Done with problems")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    READY = "ready", _("Ready to download")
    SENDING = "sending", _("Download in progress")
    INTERRUPTED = "interrupted", _("Download interrupted")


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
FINAL_STATES = (JobState.DONE, JobState.PARTIAL, JobState.FAILED, JobState.CANCELLED)
# a download-mode job not yet (completely) fetched: it may still be cancelled
WAITING_DOWNLOAD = (JobState.READY, JobState.SENDING, JobState.INTERRUPTED)
# a download-mode job may be fetched (again) in these states: the zip is made from the snapshots each time
DOWNLOADABLE_STATES = (*WAITING_DOWNLOAD, JobState.DONE, JobState.PARTIAL)


class RestoreJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    owner_username = models.CharField(max_length=256)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_by_username = models.CharField(max_length=256)
    # started by a helpdesk member in content-blind mode: never a zip, no hashes for anyone but the owner
    content_blind = models.BooleanField(default=False)
    role = models.CharField(max_length=16, blank=True)
    ticket = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    mode = models.CharField(max_length=16, choices=Mode.choices)
    conflict = models.CharField(max_length=16, choices=Conflict.choices)
    target_root = models.CharField(max_length=64, blank=True)  # to_folder only
    target_path = models.TextField(blank=True)
    request = models.JSONField(default=dict)  # what was asked, as validated

    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)

    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    request_id = models.CharField(max_length=64, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "state"]), models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self):
        return f"restore {self.id} ({self.mode}, {self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def percent(self) -> int:
        if self.state in (JobState.DONE, JobState.PARTIAL):
            return 100
        if self.bytes_total:
            return min(99, int(100 * self.bytes_done / self.bytes_total))
        return int(100 * self.files_done / self.files_total) if self.files_total else 0


class ItemKind(models.TextChoices):
    FILE = "file", _("File")
    FOLDER = "folder", _("Folder")


class Phase(models.TextChoices):
    PENDING = "pending", _("Pending")
    COPIED = "copied", _("Copied to a temporary name and verified")
    KEPT = "kept", _("Current copy kept")
    DONE = "done", _("Restored and verified")
    SENT = "sent", _("Sent in the zip")  # one SHA-256, of the bytes sent: nothing compared it with anything
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class RestoreItem(models.Model):
    job = models.ForeignKey(RestoreJob, on_delete=models.CASCADE, related_name="items")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    origin = models.CharField(max_length=100)  # "selected", "in folder", "related: <rule>"
    reason = models.CharField(max_length=500, blank=True)  # a related rule's reason

    root = models.CharField(max_length=64)
    path = models.TextField()  # source, relative to the root
    at = models.CharField(max_length=32)  # the snapshot's @GMT token
    size = models.BigIntegerField(default=0)
    source_last_write = models.DateTimeField(null=True)
    source_created = models.DateTimeField(null=True)

    target_root = models.CharField(max_length=64, blank=True)
    target_path = models.TextField(blank=True)  # where it ends up, relative to target_root
    keep_path = models.TextField(blank=True)  # where the current copy was (or will be) kept
    temp_path = models.TextField(blank=True)

    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.PENDING)
    note = models.TextField(blank=True)  # why skipped or failed, or a warning
    bytes_done = models.BigIntegerField(default=0)
    sha256_source = models.CharField(max_length=64, blank=True)
    sha256_target = models.CharField(max_length=64, blank=True)  # what was written; a zip member: what was sent
    streams = models.JSONField(default=list)  # [{"name", "size", "sha256"}] of alternate data streams
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="restore_item_seq")]

    def __str__(self):
        return f"{self.root}:{self.path}@{self.at} -> {self.target_path} ({self.phase})"

    @property
    def verified(self) -> bool:
        return self.phase == Phase.DONE and (self.kind == ItemKind.FOLDER or (
            bool(self.sha256_source) and self.sha256_source == self.sha256_target))
