"""The helpdesk's channel hears when a restore a helpdesk member started for someone ends
(RESTORE_WEBHOOK_URL): a Microsoft Teams card, or generic JSON for anything else (a chat bot, an
ITSM tool that updates the ticket).

What it says: the state, the counts, whose restore, who started it, the ticket and the link to the
job, in LANGUAGE_CODE (a channel has no one language of its own). Never a file name or a hash: a
channel is read by more people than the person whose files they are; the link leads to the job
page, where the permission layer decides who sees what.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from restore.models import Phase, RestoreJob

log = logging.getLogger(__name__)
TEAMS_HOSTS = (".webhook.office.com", ".logic.azure.com", ".powerplatform.com", ".powerautomate.com")


class WebhookError(Exception):
    pass


def job_ended(job: RestoreJob, url: str) -> bool:
    """POST the job's outcome to RESTORE_WEBHOOK_URL; False when none is configured. WebhookError
    when the receiver does not take it (2xx)."""
    target = settings.RESTORE_WEBHOOK_URL
    if not target:
        return False
    if urlsplit(target).scheme not in ("http", "https"):
        raise WebhookError("RESTORE_WEBHOOK_URL must be an http:// or https:// address")
    with translation.override(settings.LANGUAGE_CODE):
        facts = outcome(job, url)
        body = teams_card(facts) if is_teams(target) else facts
    request = urllib.request.Request(target, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "vdiprotect"})
    try:
        with urllib.request.urlopen(request, timeout=settings.RESTORE_WEBHOOK_TIMEOUT) as answer:  # noqa: S310
            status = answer.status
    except OSError as exc:  # URLError, HTTPError (non-2xx), timeouts
        raise WebhookError(f"{urlsplit(target).netloc} did not take the notification: {exc}") from exc
    log.info("restore %s sent to the webhook (%s)", job.id, status)
    return True


def is_teams(target: str) -> bool:
    if settings.RESTORE_WEBHOOK_FORMAT != "auto":
        return settings.RESTORE_WEBHOOK_FORMAT == "teams"
    host = (urlsplit(target).hostname or "").lower()
    return host.endswith(TEAMS_HOSTS)


def outcome(job: RestoreJob, url: str) -> dict:
    """The generic JSON: what ended, how, for whom, by whom."""
    count = {phase: job.items.filter(phase=phase).count() for phase in (Phase.DONE, Phase.FAILED, Phase.SKIPPED)}
    return {
        "event": "restore.ended", "job": str(job.id), "state": job.state, "state_text": str(job.get_state_display()),
        "owner": job.owner_username, "requested_by": job.requested_by_username, "ticket": job.ticket,
        "reason": job.reason, "mode": job.mode, "files_total": job.files_total,
        "done": count[Phase.DONE], "failed": count[Phase.FAILED], "skipped": count[Phase.SKIPPED],
        "bytes": job.bytes_done, "error": job.error,
        "finished_at": job.finished_at.isoformat().replace("+00:00", "Z") if job.finished_at else None,
        "url": url,
    }


def teams_card(facts: dict) -> dict:
    """A Teams message with an Adaptive Card (Workflows webhooks and the older incoming webhooks take it)."""
    title = _("Restore for %(owner)s: %(state)s") % {"owner": facts["owner"], "state": facts["state_text"]}
    rows = [(_("Ticket"), facts["ticket"] or "—"), (_("Started by"), facts["requested_by"]),
            (_("Restored and verified"), str(facts["done"])), (_("Failed"), str(facts["failed"])),
            (_("Skipped"), str(facts["skipped"]))]
    if facts["error"]:
        rows.append((_("Problem"), facts["error"]))
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True, "text": title},
                 {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in rows]}],
    }
    if facts["url"]:
        card["actions"] = [{"type": "Action.OpenUrl", "title": _("Open the restore"), "url": facts["url"]}]
    return {"type": "message", "summary": title, "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}
