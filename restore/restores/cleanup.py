"""What a restore that did not finish leaves on the file server is taken back, once the server answers.

A file item that started writing has a ``temp_path`` (``~vdiprotect-<id>.tmp`` beside its target).
When the item ends failed or skipped, or its job ends cancelled or failed (retries run out during
a file-server outage, the time limit), the item is *to tidy* as long as ``temp_path`` is set:

* its temporary is deleted;
* a failed item whose current copy was already renamed aside (replace mode, overwrite) gets that
  copy back under its own name, unless something new now has that name (then it stays kept, and
  ``keep_path`` says where);
* then ``temp_path`` is cleared, and that is the only mark: nothing is tidied twice.

The runner tidies a failed item at once; ``fail()`` tidies what it can; what the server refused
to hear (an outage) is tidied by the sweep (``vdiprotect.restore.sweep``) once it answers.
"""

from __future__ import annotations

import logging

from django.db.models import Q

from restore import smb
from restore.accounts import identity
from restore.models import FINAL_STATES, ItemKind, Phase, RestoreItem
from restore.versions import roots as roots_
from restore.versions.sessions import server_client

log = logging.getLogger(__name__)


def to_tidy():
    """File items of ended jobs that may still have something on the server to take back."""
    return RestoreItem.objects.filter(job__state__in=FINAL_STATES, kind=ItemKind.FILE,
                                      phase__in=(Phase.FAILED, Phase.SKIPPED)).exclude(Q(temp_path=""))


def tidy_item(item: RestoreItem, roots: dict, *, failed: bool, token=None, context=None) -> bool:
    """Delete the item's temporary and, when ``failed``, put a kept current copy back, in the job
    owner's session (``token``) with Kerberos delegation. True when done (``temp_path`` cleared),
    False when the server could not be asked (try again later)."""
    root = roots.get(item.target_root)
    if not item.temp_path:
        return _tidied(item)
    if root is None:  # the person's folder is not among their roots now: nowhere to look, so try again later
        return False
    where = roots_.location(root, "")
    client = server_client(where.server, token, context)
    share_path = lambda rel: roots_.location(root, rel).path  # noqa: E731
    try:
        try:
            client.delete(where.share, share_path(item.temp_path))
        except smb.NotFound:
            pass
        if failed and item.keep_path not in ("", "?"):
            _put_back(client, where.share, share_path(item.keep_path), share_path(item.target_path), item)
    except smb.ConnectionLost as exc:
        log.info("restore %s item %s: file server unreachable, its leftovers are tidied later: %s",
                 item.job_id, item.seq, exc)
        return False
    except smb.SmbError as exc:
        log.warning("restore %s item %s: could not tidy %s: %s", item.job_id, item.seq, item.temp_path, exc)
        return False
    return _tidied(item)


def _put_back(client, share: str, kept: str, target: str, item: RestoreItem) -> None:
    try:
        client.rename(share, kept, target)  # never replaces: something new at the target stays, so does the kept copy
    except smb.NotFound:
        return  # it was never moved aside (or the person moved it): nothing to put back
    except smb.AlreadyExists:
        log.info("restore %s item %s: %s is in use again, the earlier copy stays kept as %s", item.job_id, item.seq,
                 target, kept)
        return
    log.info("restore %s item %s: the current copy is back at %s", item.job_id, item.seq, target)
    item.keep_path = ""
    item.note = (item.note + "; " if item.note else "") + "the current copy was put back"
    RestoreItem.objects.filter(pk=item.pk).update(keep_path="", note=item.note)


def _tidied(item: RestoreItem) -> bool:
    item.temp_path = ""
    RestoreItem.objects.filter(pk=item.pk).update(temp_path="")
    return True


def tidy_job(job) -> int:
    """Tidy what the ended ``job`` left; returns how many items are still to tidy."""
    return _tidy(to_tidy().filter(job=job).select_related("job__owner__identity"))


def tidy_all(limit: int = 500) -> int:
    """The sweep's part: everything left to tidy (oldest first, ``limit`` at a time); a server that
    does not answer is not asked again in this pass. Returns how many items are still to tidy."""
    return _tidy(to_tidy().select_related("job__owner__identity").order_by("pk")[:limit])


def _tidy(items) -> int:
    left, down, roots_of_job = 0, set(), {}
    for item in items:
        if item.job_id not in roots_of_job:
            ident = getattr(item.job.owner, "identity", None) if item.job.owner_id else None
            roots_of_job[item.job_id] = (({r.id: r for r in identity.roots_of(ident)}, identity.token_of(ident))
                                         if ident is not None else ({}, None))
        roots, token = roots_of_job[item.job_id]
        root = roots.get(item.target_root)
        server = roots_.location(root).server.lower() if root is not None else ""
        if server in down or not tidy_item(item, roots, failed=item.phase == Phase.FAILED, token=token):
            down.add(server)
            left += 1
    return left
