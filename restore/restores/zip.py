"""The ``download`` mode: a job's files from their snapshots as one zip, streamed (constant memory).

Every file is authorized again for the owner's token as it is read. Before a member's first byte
leaves, an audit record names it (actor, acted-for person, root, path, snapshot, size, and the
SHA-256 when an earlier download of the job computed it); the stream itself is bracketed by
``download_started`` and ``download_completed`` or ``download_aborted``.

What the portal can honestly say about a zip member is one SHA-256: that of the bytes it sent.
Nothing on the receiving side was compared with it, so a member is "sent", never "verified"; the
zip ends with SHA256SUMS.txt (``sha256sum -c`` format) for the receiver to check what arrived. The
job is done only once the consumer took the last chunk; a stream that stops early (client gone,
connection closed, a server error) leaves the job "interrupted" with what was sent, and the zip
can be downloaded again: each download makes the whole zip anew from the snapshots.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from restore import smb
from restore.accounts import identity
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.models import ItemKind, JobState, Phase, RestoreJob
from restore.versions import browse as pv
from restore.versions import roots as roots_

SUMS_NAME = "SHA256SUMS.txt"


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


class _Cancelled(Exception):
    """The job was cancelled while its zip was being sent."""


@dataclass
class _Sent:
    files: int = 0
    bytes: int = 0
    sums: dict[str, str] = field(default_factory=dict)  # arcname -> sha256 of the bytes sent


def arcname_of(item) -> str:
    return f"{item.root}/{item.path.replace(chr(92), '/')}"


def stream_zip(job: RestoreJob, context: audit.Context) -> Iterator[bytes]:
    """The zip of ``job``, chunk by chunk; the caller has checked who may have it."""
    _begin(job, context)
    sent = _Sent()
    try:
        yield from _members(job, context, sent)
    except GeneratorExit:  # the server closed the response early: the client went away
        _aborted(job, context, sent, "the connection closed before the whole zip was sent")
        raise
    except _Cancelled:
        _aborted(job, context, sent, "the restore was cancelled")
    except Exception as exc:
        _aborted(job, context, sent, f"the portal could not go on ({type(exc).__name__}: {exc})")
        raise
    else:  # the consumer asked for more after the last chunk: everything was handed over
        _completed(job, context, sent)


def _members(job: RestoreJob, context: audit.Context, sent: _Sent) -> Iterator[bytes]:
    ident = job.owner.identity
    token = identity.token_of(ident)
    roots = {r.id: r for r in identity.roots_of(ident)}
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for item in job.items.exclude(phase=Phase.SKIPPED).order_by("seq"):
            if RestoreJob.objects.filter(pk=job.pk, state=JobState.CANCELLED).exists():
                raise _Cancelled()
            arcname = arcname_of(item)
            if item.kind == ItemKind.FOLDER:
                _audit_member(context, item, arcname, 0)
                archive.writestr(arcname + "/", b"")
                yield sink.take()
                _item_ended(item, Phase.SENT)
                continue
            root = roots.get(item.root)
            try:
                content = pv.open_content(token, root, item.path, smb.Snapshot.from_token(item.at)) if root else None
            except (roots_.NotFound, smb.NotFound, smb.AccessDenied):  # AccessDenied: the file server refused
                content = None
            if content is None:
                why = "the person may no longer read it in that snapshot; it is not in the zip"
                audit.record(context, Action.ZIP_MEMBER, Result.DENIED, root=item.root, path=item.path,
                             snapshot=item.at, details={"job": str(job.pk), "why": why})
                _item_ended(item, Phase.FAILED, why)
                continue
            try:
                yield from _send_file(archive, sink, context, item, arcname, content, sent)
            finally:
                content.chunks.close()  # an interrupted read gives its handle back at once
            RestoreJob.objects.filter(pk=job.pk).update(files_done=sent.files, bytes_done=sent.bytes)
        archive.writestr(SUMS_NAME, "".join(f"{sha}  {name}\n" for name, sha in sent.sums.items()))
    yield sink.take()


def _send_file(archive, sink: _Sink, context, item, arcname: str, content, sent: _Sent) -> Iterator[bytes]:
    _audit_member(context, item, arcname, content.entry.size)
    info = zipfile.ZipInfo(arcname, date_time=_zip_time(content.entry.last_write))
    digest, size = hashlib.sha256(), 0
    with archive.open(info, mode="w", force_zip64=True) as member:
        for chunk in content.chunks:
            member.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            yield sink.take()
    yield sink.take()  # the member's trailing record
    item.sha256_source, item.sha256_target, item.bytes_done = "", digest.hexdigest(), size
    _item_ended(item, Phase.SENT)
    sent.files, sent.bytes = sent.files + 1, sent.bytes + size
    sent.sums[arcname] = item.sha256_target


def _audit_member(context, item, arcname: str, size: int) -> None:
    details = {"job": str(item.job_id), "kind": item.kind, "zip_name": arcname, "size": size}
    if item.kind == ItemKind.FILE:
        # known when an earlier download of this job sent it (a snapshot's bytes do not change)
        details["sha256"] = item.sha256_target or None
    audit.record(context, Action.ZIP_MEMBER, Result.OK, root=item.root, path=item.path, snapshot=item.at,
                 details=details)


def _begin(job: RestoreJob, context: audit.Context) -> None:
    first = job.items.order_by("seq").first()
    with transaction.atomic():
        RestoreJob.objects.filter(pk=job.pk).update(state=JobState.SENDING, started_at=timezone.now(),
                                                    finished_at=None, error="", files_done=0, bytes_done=0)
        job.items.exclude(phase=Phase.SKIPPED).update(phase=Phase.PENDING, note="", bytes_done=0, finished_at=None)
        audit.record(context, Action.DOWNLOAD_STARTED, Result.OK, root=first.root if first else "",
                     path=first.path if first else "", snapshot=first.at if first else "",
                     details={"job": str(job.pk), "files": job.files_total, "bytes": job.bytes_total})


def _completed(job: RestoreJob, context: audit.Context, sent: _Sent) -> None:
    with transaction.atomic():
        failed = job.items.filter(phase=Phase.FAILED).count()
        error = f"{failed} file(s) could not be read and are not in the zip" if failed else ""
        RestoreJob.objects.filter(pk=job.pk, state=JobState.SENDING).update(
            state=JobState.PARTIAL if failed else JobState.DONE, finished_at=timezone.now(), error=error,
            files_done=sent.files, bytes_done=sent.bytes)
        audit.record(context, Action.DOWNLOAD_COMPLETED, Result.FAILED if failed else Result.OK,
                     details={"job": str(job.pk), "files": sent.files, "bytes": sent.bytes, "failed": failed,
                              "sha256": sent.sums})


def _aborted(job: RestoreJob, context: audit.Context, sent: _Sent, why: str) -> None:
    message = (f"The download stopped after {sent.files} of {job.files_total} file(s) "
               f"({filesizeformat(sent.bytes)}): {why}. The zip that arrived is incomplete; download it again.")
    with transaction.atomic():
        RestoreJob.objects.filter(pk=job.pk, state=JobState.SENDING).update(
            state=JobState.INTERRUPTED, error=message, files_done=sent.files, bytes_done=sent.bytes)
        audit.record(context, Action.DOWNLOAD_ABORTED, Result.FAILED,
                     details={"job": str(job.pk), "files": sent.files, "bytes": sent.bytes, "why": why,
                              "sha256": sent.sums})


def _item_ended(item, phase: str, note: str = "") -> None:
    item.phase, item.note, item.finished_at = phase, note, timezone.now()
    item.save(update_fields=["phase", "note", "finished_at", "sha256_source", "sha256_target", "bytes_done"])


def _zip_time(when) -> tuple:
    local = timezone.localtime(when)
    return (max(1980, local.year), local.month, local.day, local.hour, local.minute, local.second)
