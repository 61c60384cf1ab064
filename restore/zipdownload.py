"""The ``download`` mode: a job's files from their snapshots as one zip, streamed (constant memory).

Every file is authorized again for the owner's token as it is read, its SHA-256 is computed over
the bytes sent and recorded on the item, and the zip ends with SHA256SUMS.txt so the person can
verify what they received. The job is done when the last byte has been produced.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator

from django.db import transaction
from django.utils import timezone

from . import audit, identity, previous_versions as pv, smb
from .audit import Action, Result
from .models import ItemKind, JobState, Phase, RestoreJob


class _Sink:
    """A write-only file for ZipFile: collects what it writes until the generator takes it."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def stream_zip(job: RestoreJob, context: audit.Context) -> Iterator[bytes]:
    ident = job.owner.identity
    token = identity.token_of(ident)
    roots = {r.id: r for r in identity.roots_of(ident)}
    sink = _Sink()
    sums = []
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for item in job.items.order_by("seq"):
            if item.phase == Phase.SKIPPED:
                continue
            arcname = f"{item.root}/{item.path.replace(chr(92), '/')}"
            root = roots.get(item.root)
            at = smb.Snapshot.from_token(item.at)
            if item.kind == ItemKind.FOLDER:
                archive.writestr(arcname + "/", b"")
                yield sink.take()
                continue
            try:
                content = pv.open_content(token, root, item.path, at) if root else None
            except pv.NotFound:
                content = None
            if content is None:
                _item_failed(item, "the person may no longer read it in that snapshot")
                continue
            info = zipfile.ZipInfo(arcname, date_time=_zip_time(content.entry.last_write))
            digest = hashlib.sha256()
            with archive.open(info, mode="w", force_zip64=True) as member:
                for chunk in content.chunks:
                    member.write(chunk)
                    digest.update(chunk)
                    yield sink.take()
            item.sha256_source = item.sha256_target = digest.hexdigest()
            item.phase, item.finished_at, item.bytes_done = Phase.DONE, timezone.now(), content.entry.size
            item.save(update_fields=["sha256_source", "sha256_target", "phase", "finished_at", "bytes_done"])
            sums.append(f"{item.sha256_source}  {arcname}")
            yield sink.take()
        archive.writestr("SHA256SUMS.txt", "\n".join(sums) + "\n")
    yield sink.take()
    with transaction.atomic():
        failed = job.items.filter(phase=Phase.FAILED).count()
        RestoreJob.objects.filter(pk=job.pk).update(
            state=JobState.PARTIAL if failed else JobState.DONE, finished_at=timezone.now(),
            files_done=job.items.filter(phase=Phase.DONE, kind=ItemKind.FILE).count())
        audit.record(context, Action.RESTORE_FINISHED, Result.FAILED if failed else Result.OK,
                     details={"job": str(job.pk), "mode": "download", "files": len(sums), "failed": failed,
                              "sha256": dict(reversed(line.split("  ", 1)) for line in sums)})


def _item_failed(item, why: str) -> None:
    item.phase, item.note, item.finished_at = Phase.FAILED, why, timezone.now()
    item.save(update_fields=["phase", "note", "finished_at"])


def _zip_time(when) -> tuple:
    local = timezone.localtime(when)
    return (max(1980, local.year), local.month, local.day, local.hour, local.minute, local.second)
