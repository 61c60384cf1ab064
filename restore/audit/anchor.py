"""The audit chain's head, anchored outside the database.

The hash chain (restore/audit/trail.py) shows a record changed, inserted or removed in the middle, but
someone who can write the database (or bypass the append-only trigger) could delete the newest
records and rewind ``restore_auditchainhead``: what is left is still a valid chain. So the head —
how many records, the last one's id and hash — is also written where the database cannot reach:
every AUDIT_ANCHOR_EVERY records (once the record is committed) and on every ``verify_audit``, to
the SIEM (AUDIT_SYSLOG), to the log, and appended to AUDIT_ANCHOR_FILE when it is set. Each anchor
is one RFC 5424 line (restore/audit/syslog.py ``format_anchor``); ``verify_audit --anchor <file>`` reads
them back from the anchor file or from a syslog receiver's log and checks that the chain still
holds every anchored (id, hash) at its anchored position and is not shorter.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from restore.audit import syslog

log = logging.getLogger("vdiprotect.audit")

_ELEMENT = re.compile(
    r"\[" + re.escape(syslog.ANCHOR_SD_ID) + r' count="(?P<count>\d+)" id="(?P<id>\d+)" hash="(?P<hash>[0-9a-f]{64})"\]'
)
_HEADER_TIME = re.compile(r"<\d{1,3}>1 (\S+) ")


class AnchorFileError(Exception):
    """The anchors cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class Anchor:
    count: int  # records in the chain up to and including last_id
    last_id: int
    last_hash: str
    at: str = ""  # when it was anchored, as written (RFC 3339, UTC)

    def describe(self) -> str:
        return f"record {self.last_id} as number {self.count} (anchored {self.at or 'at an unknown time'})"


def due(prev_id: int | None, new_id: int, every: int) -> bool:
    """A record whose id passes a multiple of ``every`` is anchored (ids may skip: rolled-back inserts)."""
    return every > 0 and (prev_id or 0) // every < new_id // every


def head_through(event) -> Anchor:
    """The chain head right after ``event`` (committed; the chain lock orders ids, so every record
    with a smaller id is committed too)."""
    from restore.models import AuditEvent

    count = AuditEvent.objects.filter(id__lte=event.id).count()
    return Anchor(count, event.id, event.hash)


def write(anchor: Anchor, at: datetime | None = None) -> list[str]:
    """Write the anchor to the log, AUDIT_SYSLOG and AUDIT_ANCHOR_FILE; never raises (the records are
    committed; a missing anchor only weakens the check, and is logged). Returns where it went."""
    line = syslog.format_anchor(count=anchor.count, last_id=anchor.last_id, last_hash=anchor.last_hash,
                                at=at or timezone.now())
    log.info("audit anchor %s", line)
    written = ["log"]
    if syslog.send(line.encode(), f"audit anchor at record {anchor.last_id}"):
        written.append(settings.AUDIT_SYSLOG)
    path = settings.AUDIT_ANCHOR_FILE
    if path:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            written.append(path)
        except OSError as exc:
            log.error("audit anchor at record %s not written to AUDIT_ANCHOR_FILE %s: %s", anchor.last_id, path, exc)
    return written


def parse(text: str) -> list[Anchor]:
    """Every anchor in ``text``: lines of the anchor file, or of a syslog receiver's log whatever
    prefix it writes (the structured-data element is what counts); other lines are skipped."""
    anchors = []
    for line in text.splitlines():
        match = _ELEMENT.search(line)
        if match:
            header = _HEADER_TIME.search(line, 0, match.start())
            anchors.append(Anchor(int(match["count"]), int(match["id"]), match["hash"],
                                  header.group(1) if header else ""))
    return anchors


def read(path: str) -> list[Anchor]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            anchors = parse(handle.read())
    except OSError as exc:
        raise AnchorFileError(f"cannot read the anchors in {path}: {exc.strerror or exc}") from None
    if not anchors:
        raise AnchorFileError(f"{path} holds no audit anchors (lines with [{syslog.ANCHOR_SD_ID} ...]); "
                              "give the AUDIT_ANCHOR_FILE or the SIEM's log of vdiprotect's audit_anchor messages")
    return anchors
