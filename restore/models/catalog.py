"""The snapshot catalog: every snapshot's tree of a share (or of one folder of it), stored compactly.

A *source* is what is catalogued (\\\\server\\share\\path), or what is inside one profile container
(``kind``). Its snapshots are numbered in time order (``index``). Every path ever seen is one
*entry*; what an entry looked like is a *version* row holding an interval of snapshot indices
``[first_idx, last_idx]`` (``last_idx`` NULL: still present in the newest catalogued snapshot), so a
file unchanged in 100 snapshots is one row.
A row changes when size, last-write time, change time, attributes or the security descriptor
change; a deleted and re-created object gets a new row. Security descriptors are stored once
per distinct byte string and referenced by the rows. Writers: restore/catalog/build.py only.
"""

from django.db import models

SHARE_SOURCE = "share"


class CatalogSource(models.Model):
    server = models.CharField(max_length=255)  # lower case
    share = models.CharField(max_length=255)  # lower case
    path = models.CharField(max_length=1024, blank=True, default="")  # below the share; '' = all of it
    # "share": the share's files (or a folder's); a container root kind ("profile-container",
    # "office-container"): what is inside the profile container at path (restore/catalog/containers.py)
    kind = models.CharField(max_length=32, default=SHARE_SOURCE)
    enabled = models.BooleanField(default=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)  # an administrator asked for a build
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["server", "share", "path"], name="catalog_source_unique")]

    def __str__(self):
        return self.unc

    def save(self, *args, **kwargs):
        self.server, self.share = self.server.lower(), self.share.lower()
        self.path = self.path.replace("/", "\\").strip("\\")
        super().save(*args, **kwargs)

    @property
    def unc(self) -> str:
        return "\\\\" + "\\".join(p for p in (self.server, self.share, self.path) if p)


class SnapshotState(models.TextChoices):
    PENDING = "pending", "Pending"
    BUILDING = "building", "Building"
    DONE = "done", "Done"
    FAILED = "failed", "Failed (retried on the next run)"
    GONE = "gone", "Gone from the server"


class CatalogSnapshot(models.Model):
    source = models.ForeignKey(CatalogSource, on_delete=models.CASCADE, related_name="snapshots")
    index = models.PositiveIntegerField()  # time order within the source
    token = models.CharField(max_length=32)  # @GMT-YYYY.MM.DD-HH.MM.SS
    at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=SnapshotState.choices, default=SnapshotState.PENDING)
    acl_check = models.CharField(max_length=16, blank=True, default="")  # the mode it was built with
    complete = models.BooleanField(default=False)  # every folder could be listed
    folders_done = models.PositiveIntegerField(default=0)
    folders_expected = models.PositiveIntegerField(null=True, blank=True)  # the previous snapshot's count
    objects_seen = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    sd_reads = models.PositiveIntegerField(default=0)
    unreadable_sds = models.PositiveIntegerField(default=0)
    unlisted_folders = models.PositiveIntegerField(default=0)
    unlisted = models.JSONField(default=list, blank=True)  # lower-cased paths of those folders (at most 1000)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["source", "index"]
        constraints = [
            models.UniqueConstraint(fields=["source", "index"], name="catalog_snapshot_index_unique"),
            models.UniqueConstraint(fields=["source", "token"], name="catalog_snapshot_token_unique"),
        ]

    def __str__(self):
        return f"{self.source} {self.token}"


class CatalogSecurityDescriptor(models.Model):
    """One distinct security descriptor (self-relative bytes: owner, group, DACL)."""

    sha256 = models.CharField(max_length=64, unique=True)
    data = models.BinaryField()

    def __str__(self):
        return self.sha256[:16]


class CatalogEntry(models.Model):
    """A path (file or folder) seen in at least one snapshot of the source."""

    source = models.ForeignKey(CatalogSource, on_delete=models.CASCADE, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    path = models.TextField()  # below the share, as the server spelled it
    path_key = models.CharField(max_length=40)  # sha1 of the lower-cased path: lookups and uniqueness
    name = models.CharField(max_length=255)
    is_dir = models.BooleanField()
    digest = models.CharField(max_length=64, blank=True, default="")  # folders: listing digest at listed_idx
    listed_idx = models.IntegerField(null=True, blank=True)  # folders: the last snapshot it was listed in

    class Meta:
        verbose_name_plural = "catalog entries"
        constraints = [models.UniqueConstraint(fields=["source", "path_key", "is_dir"], name="catalog_entry_unique")]

    def __str__(self):
        return self.path


class CatalogVersion(models.Model):
    entry = models.ForeignKey(CatalogEntry, on_delete=models.CASCADE, related_name="versions")
    first_idx = models.IntegerField()
    last_idx = models.IntegerField(null=True, blank=True)
    size = models.BigIntegerField()
    last_write = models.DateTimeField()
    changed = models.DateTimeField()
    attributes = models.IntegerField()
    sd = models.ForeignKey(CatalogSecurityDescriptor, null=True, blank=True, on_delete=models.PROTECT,
                           related_name="+")  # NULL: the server could not give it (fails closed)

    class Meta:
        indexes = [models.Index(fields=["entry", "last_idx"], name="catalog_version_entry_last")]

    def __str__(self):
        return f"{self.entry_id} [{self.first_idx}, {self.last_idx if self.last_idx is not None else '…'}]"


ACL_EVERY = "every-snapshot"


ACL_ON_CHANGE = "on-change"
