"""Carrying out a restore job so that nothing is ever lost, whatever stops it.

Each file is copied from its snapshot to a temporary name in the target folder, verified (SHA-256
of the source in its snapshot and of the copy), then renamed into place; a current copy in the way
is first renamed aside (never overwritten, never deleted). The item's phase is saved after each of
these steps succeeds on the server, and every step is safe to repeat, so a worker killed anywhere
is replaced by one that finishes the job:

  pending  any temporary left by an earlier attempt is deleted; copy, streams, times, owner, verify
  copied   if the temporary is gone, the earlier attempt already renamed it: the target is verified
           instead; a current copy at the target is renamed to the keep name saved beforehand
  kept     the temporary is renamed to the target (never replacing anything), and verified
  done     restored and verified; the hashes are on the item

Every decision is made again here, in the worker, for the owner's token as AD has it when the job
starts (their groups are re-read then): the right to read each source in its snapshot's ACL, and the
right to write each target from its live ACL.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from restore import smb
from restore.accounts import identity
from restore.audit import locks
from restore.audit import trail as audit
from restore.audit.trail import Action, Result
from restore.directory.ldap import DirectoryError
from restore.models import Conflict, ItemKind, JobState, Mode, Phase, RestoreItem, RestoreJob, Role
from restore.nt.descriptors import SecurityDescriptor, build_security_descriptor
from restore.restores import cleanup
from restore.restores.claims import claim, worker_name
from restore.restores.naming import kept_name, temp_name
from restore.restores.targets import LiveTargets, first_free
from restore.versions import browse as pv
from restore.versions import paths
from restore.versions import roots as roots_

log = logging.getLogger(__name__)


OWNER_SECURITY_INFORMATION = 0x1
PROGRESS_EVERY_SECONDS = 1.0


class Cancelled(Exception):
    pass


class DirectoryUnavailable(Exception):
    """Active Directory cannot be reached to re-read the owner's groups, and the stored ones are stale."""


class ItemFailed(Exception):
    """This item cannot be restored; the message is shown on it. The job goes on with the others."""


def fail(job_id, why: str) -> None:
    """End the job failed; what it left on the server is tidied now, or by the sweep (cleanup.py)."""
    job = RestoreJob.objects.filter(pk=job_id).first()
    if job is not None and job.state in (JobState.QUEUED, JobState.RUNNING):
        _finish(job, _context(job), forced=JobState.FAILED, error=why)
        cleanup.tidy_job(job)


# --- running -------------------------------------------------------------------------------------


def run_job(job_id, worker: str | None = None) -> str:
    """Run (or resume) a job to its end. Returns how it ended, or why it did not run."""
    worker = worker or worker_name()
    job, outcome = claim(job_id, worker)
    if outcome != "claimed":
        return outcome
    ident = getattr(job.owner, "identity", None) if job.owner_id else None
    context = _context(job)
    if ident is None:
        _finish(job, context, forced=JobState.FAILED, error="the person this restore belongs to is gone")
        return JobState.FAILED
    token, refusal = current_token(ident)
    if refusal:
        _finish(job, context, forced=JobState.FAILED, error=refusal)
        return JobState.FAILED
    runner = Runner(job, token, {r.id: r for r in identity.roots_of(ident)}, context)
    try:
        for item in job.items.order_by("seq"):
            if item.phase in (Phase.DONE, Phase.SKIPPED, Phase.FAILED):
                continue
            runner.check_cancel()
            try:
                runner.restore(item)
            except ItemFailed as exc:
                runner.item_failed(item, str(exc))
            except (smb.AccessDenied, smb.NotFound, smb.AlreadyExists) as exc:
                runner.item_failed(item, f"the file server refused: {exc}")
            except smb.ConnectionLost:
                raise
            except smb.SmbError as exc:  # NotDelegable says itself what happened and what to do
                runner.item_failed(item, str(exc) if isinstance(exc, smb.NotDelegable) else
                                   f"the file server failed: {exc}")
    except Cancelled:
        return _finish(job, context, forced=JobState.CANCELLED)
    runner.settle_folders()
    return _finish(job, context)


def current_token(ident) -> tuple[object, str]:
    """The owner's token as AD has it now, re-read at every job start, so a group removed since the
    job was queued grants nothing: (token, '') or (None, why the job cannot run for them). When AD
    cannot be reached, the stored token serves only while younger than IDENTITY_REFRESH_SECONDS;
    beyond that DirectoryUnavailable (the task gives the job back and retries)."""
    try:
        token = identity.refresh_token(ident)
    except DirectoryError as exc:
        if identity.needs_refresh(ident):
            raise DirectoryUnavailable(
                f"{exc}; the groups stored for {ident.username} are older than IDENTITY_REFRESH_SECONDS") from exc
        log.warning("restore for %s: AD unreachable (%s), using the groups read %s", ident.username, exc,
                    ident.refreshed_at.isoformat())
        return identity.token_of(ident), ""
    if token is None:
        return None, "the person's account is disabled or no longer in Active Directory"
    if Role.USER not in ident.roles:
        return None, "the person is no longer a portal user (not in the portal's user group)"
    return token, ""


def _context(job: RestoreJob) -> audit.Context:
    return audit.Context(actor=job.requested_by, acting_for=job.owner if job.owner_id != job.requested_by_id else None,
                         role=job.role, source_ip=job.source_ip, request_id=job.request_id)


def _finish(job: RestoreJob, context: audit.Context, forced: str | None = None, error: str = "") -> str:
    with transaction.atomic():
        job = locks.job(job.pk)  # the job, then the chain head (restore/audit/locks.py)
        if forced == JobState.CANCELLED:
            job.items.filter(phase__in=(Phase.PENDING, Phase.COPIED)).update(phase=Phase.SKIPPED, note="cancelled")
        elif forced == JobState.FAILED:
            job.items.filter(phase__in=(Phase.PENDING, Phase.COPIED, Phase.KEPT)).update(phase=Phase.FAILED,
                                                                                        note=error)
        counts = {p: job.items.filter(phase=p).count() for p in (Phase.DONE, Phase.FAILED, Phase.SKIPPED)}
        job.state = forced or (JobState.PARTIAL if counts[Phase.FAILED] else JobState.DONE)
        job.error = error or (f"{counts[Phase.FAILED]} item(s) failed" if counts[Phase.FAILED] else "")
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "error", "finished_at"])
        action = Action.RESTORE_CANCELLED if job.state == JobState.CANCELLED else Action.RESTORE_FINISHED
        result = {JobState.DONE: Result.OK, JobState.CANCELLED: Result.OK}.get(job.state, Result.FAILED)
        audit.record(context, action, result, details={
            "job": str(job.id), "state": job.state, "done": counts[Phase.DONE], "failed": counts[Phase.FAILED],
            "skipped": counts[Phase.SKIPPED], "bytes": job.bytes_done, "error": job.error})
        transaction.on_commit(lambda: _notify(job.pk))
    return job.state


def _notify(job_id) -> None:
    from restore.restores.notifications import job_ended

    try:
        job_ended(RestoreJob.objects.get(pk=job_id))
    except Exception:  # the restore itself is done; a mail server problem must not undo it
        log.exception("could not send the email for restore %s", job_id)


class Runner:
    def __init__(self, job: RestoreJob, token, roots: dict, context: audit.Context):
        self.job, self.token, self.roots, self.context = job, token, roots, context
        self._beat = 0.0
        self._pending_bytes = self._pending_files = 0  # progress not yet written to the job row
        self._live: dict[str, LiveTargets] = {}  # target folders' listings and ACLs, read once per job
        self.folders_done: list[RestoreItem] = []

    # --- progress, heartbeat, cancel ---------------------------------------------------------------

    def beat(self, *, bytes_delta: int = 0, files_delta: int = 0, force: bool = False) -> None:
        """Progress and heartbeat on the job row (at most once a second unless ``force``);
        raises Cancelled when someone asked to cancel."""
        self._pending_bytes += bytes_delta
        self._pending_files += files_delta
        now = time.monotonic()
        if not force and now - self._beat < PROGRESS_EVERY_SECONDS:
            return
        self._beat = now
        RestoreJob.objects.filter(pk=self.job.pk).update(
            bytes_done=F("bytes_done") + self._pending_bytes, files_done=F("files_done") + self._pending_files,
            heartbeat_at=timezone.now())
        self._pending_bytes = self._pending_files = 0
        self.check_cancel()

    def check_cancel(self) -> None:
        if RestoreJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise Cancelled()

    # --- one item ----------------------------------------------------------------------------------

    def restore(self, item: RestoreItem) -> None:
        source_root, target_root = self.roots.get(item.root), self.roots.get(item.target_root)
        if source_root is None or target_root is None:
            raise ItemFailed("that folder is no longer among the person's folders")
        src = roots_.location(source_root, item.path)
        at = smb.Snapshot.from_token(item.at).at
        client = pv.client_for(source_root, self.token, self.context)  # the owner's session; a container: inside it
        try:
            sd = client.security_descriptor(src.share, src.path, at=at)
        except smb.NotFound:
            raise ItemFailed("it is no longer in that snapshot") from None
        if not pv.may_read(sd, self.token, item.kind == ItemKind.FOLDER):
            raise ItemFailed("the person may not read it in that snapshot")
        live = self._live.setdefault(target_root.id, LiveTargets(target_root, self.token, self.context))
        if item.kind == ItemKind.FOLDER:
            self._folder(item, live)
        else:
            self._file(item, client, src, at, live)

    def _folder(self, item: RestoreItem, live: LiveTargets) -> None:
        existing = live.existing(item.target_path)
        if existing is not None and not existing.is_dir:
            raise ItemFailed("a file of that name is in the way")
        if existing is None:
            self._make_folders(live, item.target_path)
        self.folders_done.append(item)
        self.item_ended(item, Phase.DONE, item.note)

    def _make_folders(self, live: LiveTargets, folder: str) -> None:
        """Create ``folder`` and missing parents, each only where the person may create folders."""
        missing = []
        while folder and live.existing(folder) is None:
            missing.append(folder)
            folder = paths.parent(folder)
        for path in reversed(missing):
            if not live.may_create_in(paths.parent(path), True):
                raise ItemFailed(f"the person may not create folders in '{paths.parent(path) or '/'}'")
            try:
                live.client.mkdir(live.base.share, live.share_path(path))
            except smb.AlreadyExists:
                pass  # made by an earlier attempt, or just now by someone else: use it
            else:
                self._set_owner(live, path)
            live.forget(paths.parent(path))

    def _file(self, item: RestoreItem, client: smb.Client, src: paths.Unc, at, live: LiveTargets) -> None:
        share = live.base.share
        folder = paths.parent(item.target_path)
        if not item.temp_path:
            item.temp_path = paths.join(folder, temp_name(item.pk))
            item.save(update_fields=["temp_path"])
        temp = live.share_path(item.temp_path)
        self._make_folders(live, folder)
        if item.phase == Phase.PENDING:
            existing = live.existing(item.target_path)
            self._authorize_target(live, item, existing)
            _delete_quietly(live.client, share, temp)  # a stale temporary from an earlier attempt
            self._copy(item, client, src, at, live.client, share, temp)
            item.phase = Phase.COPIED
            item.save(update_fields=["phase", "sha256_source", "sha256_target", "streams", "note"])
        existing = live.existing(item.target_path)
        if not _exists(live.client, share, temp):
            # An earlier attempt renamed it into place already (or it vanished): check the target.
            if existing is not None and live.client.sha256(share, live.share_path(item.target_path)) == \
                    item.sha256_source:
                item.sha256_target = item.sha256_source
                return self.item_ended(item, Phase.DONE, item.note)
            item.phase = Phase.PENDING
            item.save(update_fields=["phase"])
            return self._file(item, client, src, at, live)
        if existing is not None:
            self._authorize_target(live, item, existing)
            if self._keeps_current(item):
                self._keep_current(item, live)
            elif self.job.conflict == Conflict.SKIP:
                _delete_quietly(live.client, share, temp)
                return self.item_ended(item, Phase.SKIPPED, "something of that name appeared at the target")
            else:  # rename: something appeared at the planned name since the plan
                item.target_path = self._free(live, item.target_path)
                item.save(update_fields=["target_path"])
        live.client.rename(share, temp, live.share_path(item.target_path))
        live.forget(folder)
        self.item_ended(item, Phase.DONE, item.note)

    def _keeps_current(self, item: RestoreItem) -> bool:
        return self.job.mode == Mode.REPLACE or self.job.conflict == Conflict.OVERWRITE or bool(item.keep_path)

    def _authorize_target(self, live: LiveTargets, item: RestoreItem, existing) -> None:
        folder = paths.parent(item.target_path)
        if not live.may_create_in(folder, False):
            raise ItemFailed(f"the person may not create files in '{folder.replace(chr(92), '/') or '/'}'")
        if existing is not None and self._keeps_current(item) and not live.may_replace(item.target_path):
            raise ItemFailed(f"the person may not replace '{item.target_path.replace(chr(92), '/')}'")

    def _keep_current(self, item: RestoreItem, live: LiveTargets) -> None:
        """Rename the current copy aside; the keep name is saved first, so a repeat finds it."""
        if not item.keep_path or item.keep_path == "?":
            name = paths.name_of(item.target_path)
            keep_folder = settings.RESTORE_KEEP_FOLDER or paths.parent(item.target_path)
            if settings.RESTORE_KEEP_FOLDER:
                self._make_folders(live, keep_folder)
            item.keep_path = self._free(live, paths.join(keep_folder, kept_name(name, timezone.now())))
            item.save(update_fields=["keep_path"])
        live.client.rename(live.base.share, live.share_path(item.target_path), live.share_path(item.keep_path))
        live.forget(paths.parent(item.target_path))
        live.forget(paths.parent(item.keep_path))
        item.phase = Phase.KEPT
        item.save(update_fields=["phase"])

    @staticmethod
    def _free(live: LiveTargets, path: str) -> str:
        free = first_free(live, path)
        if free is None:
            raise ItemFailed(f"too many copies of {paths.name_of(path)} already")
        return free

    def _copy(self, item: RestoreItem, client: smb.Client, src: paths.Unc, at, dst_client: smb.Client, share: str,
              temp: str) -> None:
        """Source (at its snapshot) -> temporary: bytes, alternate data streams, times, owner; verified."""
        done = [0]

        def progress(total: int) -> None:
            self.beat(bytes_delta=total - done[0])
            done[0] = total

        try:
            if settings.RESTORE_COPY_METHOD == "auto" and dst_client.server == client.server:
                dst_client.server_side_copy(src.share, src.path, at, share, temp, progress=progress)
                source_hash = None  # the bytes never passed through us: both files are read below
            else:  # hashed in the same pass as it was read and sent on
                source_hash = _streamed_copy(client, src.share, src.path, at, dst_client, share, temp, progress)
            item.streams = self._copy_streams(client, src, at, dst_client, share, temp)
            dst_client.set_times(share, temp, created=item.source_created, last_write=item.source_last_write)
            self._set_owner_path(dst_client, share, temp, item)
            if source_hash is None:  # verification: source (in its snapshot) and copy read at once
                source_hash, target_hash = smb.sha256_files([(client, src.share, src.path, at),
                                                             (dst_client, share, temp, None)])
            else:
                target_hash = dst_client.sha256(share, temp)
        except BaseException:
            _delete_quietly(dst_client, share, temp)
            self._pending_bytes -= done[0]  # the copy is gone: so is its progress
            raise
        if target_hash != source_hash:
            _delete_quietly(dst_client, share, temp)
            raise ItemFailed("the copy did not verify (SHA-256 differs); nothing was put in place")
        item.sha256_source, item.sha256_target, item.bytes_done = source_hash, target_hash, done[0]

    def _copy_streams(self, client, src, at, dst_client, share, temp) -> list[dict]:
        streams = []
        for name, _size in client.list_streams(src.share, src.path, at=at):
            if ":" in name:  # not a $DATA stream
                continue
            source_hash = _streamed_copy(client, src.share, f"{src.path}:{name}", at, dst_client, share,
                                         f"{temp}:{name}", None)
            target_hash = dst_client.sha256(share, f"{temp}:{name}")
            if target_hash != source_hash:
                raise ItemFailed(f"the stream {name} did not verify")
            streams.append({"name": name, "size": _size, "sha256": target_hash})
        return streams

    def _set_owner(self, live: LiveTargets, rel_path: str) -> None:
        self._set_owner_path(live.client, live.base.share, live.share_path(rel_path), None)

    def _set_owner_path(self, client: smb.Client, share: str, path: str, item: RestoreItem | None) -> None:
        """The person becomes the owner of what is restored for them, as if they had written it (needs
        the service account to hold "Restore files and directories"; without it the owner stays the
        service account and the item says so). The DACL is the one inherited from the target folder."""
        owner_only = SecurityDescriptor(owner=self.token.user_sid, group=None, dacl=None, control=0x8000)
        try:
            client.set_security_descriptor(share, path, build_security_descriptor(owner_only),
                                           info=OWNER_SECURITY_INFORMATION)
        except smb.SmbError as exc:
            log.warning("restore %s: could not make %s the owner of %s: %s", self.job.pk, self.token.user_sid,
                        path, exc)
            if item is not None:
                item.note = (item.note + "; " if item.note else "") + \
                    "owner left as the restore service (it lacks the restore privilege)"

    # --- bookkeeping -------------------------------------------------------------------------------

    def item_ended(self, item: RestoreItem, phase: str, note: str = "") -> None:
        """Save the item's end and its audit record in one transaction."""
        with transaction.atomic():
            item.phase, item.note, item.finished_at = phase, note, timezone.now()
            item.save(update_fields=["phase", "note", "finished_at", "sha256_source", "sha256_target", "streams",
                                     "target_path", "keep_path", "bytes_done"])
            audit.record(self.context, Action.RESTORE_ITEM, {Phase.DONE: Result.OK, Phase.SKIPPED: "skipped"}.get(
                phase, Result.FAILED), root=item.root, path=item.path, snapshot=item.at, details={
                    "job": str(self.job.pk), "item": item.seq, "kind": item.kind, "origin": item.origin,
                    "target_root": item.target_root, "target": item.target_path, "kept_as": item.keep_path,
                    "sha256_source": item.sha256_source, "sha256_target": item.sha256_target,
                    "streams": item.streams, "note": note})
        self.beat(files_delta=1 if item.kind == ItemKind.FILE and phase == Phase.DONE else 0, force=True)

    def item_failed(self, item: RestoreItem, why: str) -> None:
        """The item ends failed; its temporary (if any) is removed and a kept current copy put back
        (now, or by the sweep once the server answers: cleanup.py)."""
        kept = item.keep_path not in ("", "?")
        if item.kind == ItemKind.FILE:
            cleanup.tidy_item(item, self.roots, failed=True, token=self.token, context=self.context)
        self.item_ended(item, Phase.FAILED, why + ("; the current copy was put back" if kept and not item.keep_path
                                                   else ""))

    def settle_folders(self) -> None:
        """Restored folders get their times from the snapshot once everything inside is written."""
        for item in reversed(self.folders_done):
            root = self.roots.get(item.target_root)
            if root is None or item.source_last_write is None:
                continue
            where = roots_.location(root, item.target_path)
            try:
                self._live[root.id].client.set_times(where.share, where.path, created=item.source_created,
                                                     last_write=item.source_last_write)  # the owner's session
            except smb.SmbError as exc:
                log.info("restore %s: folder times of %s left as they are: %s", self.job.pk, item.target_path, exc)


def _streamed_copy(client, share, path, at, dst_client, dst_share, dst_path, progress) -> str:
    """Copy through this process (pipelined reads and writes, buffers handed on without copies,
    see smb.copy_stream); returns the source's SHA-256, hashed in the same pass. A failed read or
    write deletes the partial target before the error goes on."""
    with client.open_read(share, path, at=at) as reader:
        writer = dst_client.create_file(dst_share, dst_path)
        try:
            digest = smb.copy_stream(reader, writer, progress=progress)
        except BaseException:
            writer.discard()
            raise
        writer.close()
    return digest


def _exists(client: smb.Client, share: str, path: str) -> bool:
    try:
        client.stat(share, path)
    except smb.NotFound:
        return False
    return True


def _delete_quietly(client: smb.Client, share: str, path: str) -> None:
    try:
        client.delete(share, path)
    except smb.NotFound:
        pass
    except smb.SmbError as exc:
        log.warning("could not delete the temporary %s: %s", path, exc)
