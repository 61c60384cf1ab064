"""How rows are locked, in one place, so every transaction takes them in the same order:

    person (auth_user)  ->  restore job  ->  audit chain head

A transaction that needs more than one takes them in that order and never the other way round.

The person's row is locked FOR NO KEY UPDATE, never FOR UPDATE: every audit record, restore job and
acting-for session that names a person checks its foreign key with FOR KEY SHARE on that row, and a
worker does that while it holds the chain head (``trail.record``). FOR UPDATE conflicts with FOR
KEY SHARE, so starting a restore (person, then head) and a worker's audit record (head, then the
person's key) used to deadlock (issue 21: 9.4 % of 1,000 starts for one person). FOR NO KEY UPDATE
still lets only one start at a time run per person (it conflicts with itself) and leaves the key
checks alone. On SQLite, whose BEGIN IMMEDIATE locks the whole file, these are no-ops.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from restore.models import AuditChainHead, RestoreJob

GENESIS = "0" * 64


def person(user_id) -> None:
    """One writer at a time for this person (e.g. one restore start: the per-person limit is counted
    under it). Take it first."""
    get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).first()


def job(job_id) -> RestoreJob | None:
    """The job row, locked, after the person and before the chain head; None when it is gone."""
    return RestoreJob.objects.select_for_update(no_key=True).filter(pk=job_id).first()


def chain_head() -> AuditChainHead:
    """The audit chain head, locked: always the last lock a transaction takes."""
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS})
    return head
