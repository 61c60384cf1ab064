"""Emails to people about their restores (Django's email backend: EMAIL_URL)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from restore.models import Phase, RestoreJob


def job_ended(job: RestoreJob) -> bool:
    """Tell the owner how their restore ended; when someone else started it (helpdesk acting for
    them), say who, and the ticket. Returns False when the owner has no address in AD."""
    ident = getattr(job.owner, "identity", None) if job.owner_id else None
    address = ident.mail if ident is not None else ""
    if not address:
        return False
    done = job.items.filter(phase=Phase.DONE).count()
    failed = job.items.filter(phase=Phase.FAILED).count()
    lines = [f"Your restore {job.id} ended: {job.get_state_display().lower()}.",
             f"{done} item(s) restored and verified, {failed} failed."]
    if job.requested_by_id and job.requested_by_id != job.owner_id:
        lines.append(f"It was started for you by {job.requested_by_username}"
                     + (f" (ticket {job.ticket})" if job.ticket else "") + ".")
    for item in job.items.filter(phase__in=(Phase.DONE, Phase.FAILED)).order_by("seq")[:50]:
        mark = "restored to" if item.phase == Phase.DONE else "FAILED:"
        detail = item.target_path if item.phase == Phase.DONE else item.note
        lines.append(f"  {item.path} -> {mark} {detail}" + (f" (current copy kept as {item.keep_path})"
                                                            if item.keep_path and item.keep_path != "?" else ""))
    lines.append(f"Details: {settings.PORTAL_URL.rstrip('/')}/restores/{job.id}/" if settings.PORTAL_URL else "")
    send_mail(f"Restore {job.get_state_display().lower()}: {done} item(s) restored", "\n".join(lines),
              None, [address])
    return True
