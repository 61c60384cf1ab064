"""When a restore ends: an email to the person it belongs to (Django's email backend: EMAIL_URL) and,
for a restore a helpdesk member started, the helpdesk's webhook (restore/restores/webhook.py).

The email is in the person's language (the one their pages use: restore/web/language.py keeps it on
their Identity), as text and HTML: each file, where it went, its SHA-256 and the link to the job; a
restore that did not fully succeed says what to do next. Times are written in UTC.
"""

from __future__ import annotations

import logging
from datetime import UTC

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from restore.models import JobState, Phase, RestoreJob
from restore.restores import webhook
from restore.restores.messages import translated

log = logging.getLogger(__name__)
MAX_ITEMS = 50  # listed in the email; the job page has them all


def job_ended(job: RestoreJob) -> bool:
    """Tell the owner how their restore ended (and the helpdesk's webhook, when a helpdesk member
    started it). Returns False when the owner has no address in AD."""
    if job.requested_by_id and job.requested_by_id != job.owner_id:
        try:
            webhook.job_ended(job, job_url(job))
        except Exception:  # the email still goes; the webhook's failure is logged
            log.exception("could not send restore %s to RESTORE_WEBHOOK_URL", job.id)
    ident = getattr(job.owner, "identity", None) if job.owner_id else None
    address = ident.mail if ident is not None else ""
    if not address:
        return False
    with translation.override(language_of(ident)), timezone.override(UTC):
        subject, text, html = render(job)
    message = EmailMultiAlternatives(subject, text, None, [address])
    message.attach_alternative(html, "text/html")
    message.send()
    return True


def language_of(ident) -> str:
    """The language to write to this person in: their pages' (kept on the Identity), else LANGUAGE_CODE."""
    language = getattr(ident, "language", "") or ""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def job_url(job: RestoreJob) -> str:
    return f"{settings.PORTAL_URL.rstrip('/')}/restores/{job.id}/" if settings.PORTAL_URL else ""


def render(job: RestoreJob) -> tuple[str, str, str]:
    """Subject, text and HTML of the email, in the active language."""
    items = list(job.items.filter(phase__in=(Phase.DONE, Phase.FAILED, Phase.SKIPPED, Phase.SENT))
                 .order_by("seq")[:MAX_ITEMS + 1])
    counts = {phase: job.items.filter(phase=phase).count() for phase in (Phase.DONE, Phase.FAILED, Phase.SKIPPED)}
    context = {
        "job": job, "items": [_item(i) for i in items[:MAX_ITEMS]], "more": len(items) > MAX_ITEMS,
        "done": counts[Phase.DONE], "failed": counts[Phase.FAILED], "skipped": counts[Phase.SKIPPED],
        "state": job.get_state_display(), "error": translated(job.error) if job.error else "",
        "url": job_url(job), "next_steps": next_steps(job, counts[Phase.FAILED]),
        "started_for_you": bool(job.requested_by_id and job.requested_by_id != job.owner_id),
    }
    subject = _("Your restore: %(state)s, %(done)s of %(total)s file(s) restored") % {
        "state": context["state"], "done": counts[Phase.DONE], "total": job.files_total}
    return (subject, render_to_string("restore/email/job_ended.txt", context),
            render_to_string("restore/email/job_ended.html", context))


def _item(item) -> dict:
    return {"path": item.path, "phase": item.phase, "phase_label": item.get_phase_display(),
            "target": item.target_path, "kept": item.keep_path if item.keep_path and item.keep_path != "?" else "",
            "sha256": item.sha256_target, "note": translated(item.note) if item.note else ""}


def next_steps(job: RestoreJob, failed: int) -> list[str]:
    """What to do when a restore did not fully succeed (nothing when it did)."""
    ask = _("If it fails again, ask the helpdesk and give them the restore's number, %(id)s.") % {"id": job.id}
    if job.state == JobState.FAILED:
        return [_("Open the restore to see why it failed. Files it had already put in place stay there; "
                  "nothing else was changed."), _("Fix what it says (for example free space, or ask for access), "
                                                  "then start the restore again from the same version."), ask]
    if job.state == JobState.PARTIAL or failed:
        return [_("The files marked FAILED were not restored; the others are in place and verified."),
                _("Open the restore to see why each one failed, then restore those files again from the same "
                  "version."), ask]
    if job.state == JobState.CANCELLED:
        return [_("The restore was cancelled. Files restored before that stay in place; start a new restore "
                  "for the rest.")]
    return []
